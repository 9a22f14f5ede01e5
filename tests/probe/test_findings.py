"""Honest output: MTA-STS and DANE findings and every warning, in the same words everywhere.

A real probe of a loopback partner that publishes MTA-STS, TLSA and TLS-RPT
(tests/support/findings_world.py); its ``to_dict()`` is what ``--json`` prints, and
the text output of ``tlsbot probe`` and Slack's ``/tls check`` answer must carry the
same sentences.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.commands.probe_text import result_lines
from bot.probe.findings import CERTIFICATE_NOTE, DANE_NOT_CHECKED
from bot.probe.model import TargetResult
from bot.slack.views.results import check_message
from tests.support.certs import Pki
from tests.support.findings_world import (
    DOMAIN,
    STALE,
    TLS_RPT,
    FindingsWorld,
    findings_world,
    policy,
)
from tests.support.slack_api import all_text

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.mint(Path(tmp_path_factory.mktemp("findings-pki")))


@pytest.fixture
async def world(pki: Pki) -> AsyncIterator[FindingsWorld]:
    async with findings_world(pki) as built:
        yield built


async def probed(
    world: FindingsWorld, domain: str = DOMAIN
) -> tuple[TargetResult, list[dict[str, Any]], str, str]:
    """The result, its --json warnings, its text output and its Slack answer."""
    result = await world.prober.probe_domain(domain)
    text = "\n".join(result_lines(result)) + "\n"
    slack = all_text(check_message(result))
    return result, result.to_dict()["warnings"], text, slack


async def test_mx_outside_an_enforced_policy_and_unchecked_tlsa_are_warned_everywhere(
    world: FindingsWorld,
) -> None:
    result, warnings, text, slack = await probed(world)
    assert result.verdict.value == "strict"  # findings never change a verdict
    assert [w["code"] for w in warnings] == ["validation-failure", DANE_NOT_CHECKED]
    sts, dane = warnings
    assert sts["message"] == (
        "MX mx2.sts.test not covered by the MTA-STS policy of sts.test (mode enforce, "
        "mx: mx1.sts.test): senders that honour MTA-STS will not deliver to it; ask sts.test "
        "to add it to the policy's mx: lines or to remove it from its MX records"
    )
    assert dane["host"] == "mx1.sts.test"
    assert dane["message"].startswith("DANE: mx1.sts.test publishes 1 TLSA record that tlsbot")
    for warning in warnings:
        assert f"    ⚠ {warning['code']}: {warning['message']}\n" in text
        assert f":warning: {warning['message']}" in slack
    facts = [
        "MTA-STS: policy (id 20260101) in enforce mode, mx: mx1.sts.test",
        "MTA-STS enforce: does not list mx2.sts.test; senders that honour it will not "
        "deliver there",
        "DANE: TLSA at mx1.sts.test: 3 1 1 0000000000000000… (not checked)",
        f"TLS-RPT: {TLS_RPT}",
    ]
    for fact in facts:
        assert f"    {fact}\n" in text
        assert f"_{fact}_" in slack
    assert "covering every MX host" not in text


async def test_a_testing_policy_says_senders_still_deliver(world: FindingsWorld) -> None:
    world.policy.body = policy("testing", "mx1.sts.test")
    _, warnings, text, slack = await probed(world)
    message = warnings[0]["message"]
    assert "(mode testing, mx: mx1.sts.test)" in message
    assert "report a failure for it (and still deliver)" in message
    assert message in text
    assert message in slack


async def test_a_policy_covering_every_mx_is_a_fact_not_a_warning(world: FindingsWorld) -> None:
    world.policy.body = policy("enforce", "*.sts.test")
    _, warnings, text, slack = await probed(world)
    assert [w["code"] for w in warnings] == [DANE_NOT_CHECKED]
    line = "MTA-STS: policy (id 20260101) in enforce mode, mx: *.sts.test, covering every MX host"
    assert f"    {line}\n" in text
    assert line in slack


async def test_a_policy_that_cannot_be_fetched_is_named_with_the_domain(
    world: FindingsWorld,
) -> None:
    world.policy.status = "404 Not Found"
    _, warnings, text, slack = await probed(world)
    (sts,) = [w for w in warnings if w["code"] == "sts-policy-fetch-error"]
    url = f"https://mta-sts.sts.test:{world.policy.port}/.well-known/mta-sts.txt"
    assert sts["message"] == f"MTA-STS policy of sts.test: {url} answered HTTP 404"
    assert f"⚠ sts-policy-fetch-error: {sts['message']}" in text
    assert sts["message"] in slack
    assert "MTA-STS: record published (v=STSv1; id=20260101), no usable policy" in text


async def test_a_certificate_note_is_a_warning_in_every_output(world: FindingsWorld) -> None:
    domain, mx, _ = STALE
    result, warnings, text, slack = await probed(world, domain)
    assert result.verdict.value == "strict"
    assert result.hosts[0].certificate is not None
    (note,) = result.hosts[0].certificate.notes
    assert warnings == [{"code": CERTIFICATE_NOTE, "message": f"{mx}: {note}", "host": mx}]
    assert f"    ⚠ {CERTIFICATE_NOTE}: {mx}: {note}\n" in text
    assert f":warning: {mx}: {note}" in slack
