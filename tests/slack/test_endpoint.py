"""The HTTP endpoint: signatures, help, unknown input, the ack deadline, check."""

from __future__ import annotations

import time

import pytest

from bot.probe.model import Verdict
from tests.slack.conftest import Bot

pytestmark = [pytest.mark.timeout(30), pytest.mark.db]


async def test_a_signed_help_command_is_answered_privately_with_the_help(bot: Bot) -> None:
    answer = await bot.slack.command("help")
    assert answer.status == 200
    assert answer.json.get("response_type", "ephemeral") == "ephemeral"
    assert "/tls setup" in answer.text
    assert "/tls policy delete" in answer.text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param("frobnicate", "`frobnicate` is not a /tls command", id="unknown"),
        pytest.param("", "/tls check DOMAIN|EMAIL", id="empty"),
        pytest.param("check", "usage: `/tls check DOMAIN|EMAIL`", id="check-without-target"),
        pytest.param("policy", "did you mean `/tls policy delete`", id="policy-alone"),
    ],
)
async def test_input_not_understood_gets_the_help_privately(
    bot: Bot, text: str, shown: str
) -> None:
    answer = await bot.slack.command(text)
    assert answer.status == 200
    assert shown in answer.text
    assert "/tls setup" in answer.text
    assert answer.json.get("response_type") != "in_channel"


async def test_a_forged_signature_is_rejected(bot: Bot) -> None:
    body = bot.slack.command_body("help")
    answer = await bot.slack.post(
        body, "application/x-www-form-urlencoded", signature="v0=" + "0" * 64
    )
    assert answer.status == 401
    assert "/tls setup" not in answer.text


async def test_a_stale_timestamp_is_rejected(bot: Bot) -> None:
    body = bot.slack.command_body("help")
    answer = await bot.slack.post(
        body, "application/x-www-form-urlencoded", timestamp=int(time.time()) - 6 * 60
    )
    assert answer.status == 401


async def test_a_body_signed_with_another_secret_is_rejected(bot: Bot) -> None:
    other = bot.slack.with_url(bot.slack.url)
    other.secret = "not-the-secret"
    answer = await other.command("help")
    assert answer.status == 401


async def test_check_acks_at_once_and_answers_privately_when_the_probe_ends(bot: Bot) -> None:
    bot.prober.delay = 1.0
    bot.prober.verdicts["partner.test"] = Verdict.UNSUPPORTED
    answer = await bot.slack.command("check partner.test")
    assert answer.status == 200
    assert answer.elapsed < 0.5
    assert "Checking partner.test" in answer.text
    call = await bot.api.wait_for("response_url")
    assert call.body["response_type"] == "ephemeral"
    assert "TLS Not Supported" in call.body["text"]


async def test_check_of_an_email_address_probes_its_domain(bot: Bot) -> None:
    answer = await bot.slack.command("check postmaster@good.example")
    assert answer.status == 200
    call = await bot.api.wait_for("response_url")
    assert "Supports TLS" in str(call.body["blocks"])
    assert bot.prober.calls == ["postmaster@good.example"]


async def test_check_of_a_bad_name_says_what_is_wrong_without_probing(bot: Bot) -> None:
    answer = await bot.slack.command("check not..valid")
    assert "empty label" in answer.text
    assert bot.prober.calls == []


async def test_the_health_check_answers(bot: Bot) -> None:
    import aiohttp

    url = bot.slack.url.replace("/slack/events", "/healthz")
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        assert (await response.json()) == {"ok": True}
