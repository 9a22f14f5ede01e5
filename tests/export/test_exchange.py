"""The Exchange Online script: golden files, quoting that cannot be broken out of, splitting."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.export import exchange
from bot.export.model import Level, PublishedPolicy
from bot.export.names import Enforcement, enforcement
from bot.policy.models import AuditEvent
from bot.probe.names import InvalidName
from tests.export.gateway_cases import STAMP, view
from tests.export.helpers import approve_added, plant, run_cli
from tests.export.powershell import verbatim, verbatim_strings
from tests.support.db import TestDatabase

GOLDEN = Path(__file__).parent / "golden"


def test_golden_script_for_strict_relaxed_and_inbound() -> None:
    assert exchange.script(view(), STAMP) == (GOLDEN / "exchange.ps1").read_text()


def test_golden_script_with_no_policy_removes_every_tlsbot_connector() -> None:
    assert exchange.script(Enforcement(), STAMP) == (GOLDEN / "exchange-empty.ps1").read_text()


def test_each_level_gets_its_tls_settings_and_inbound_requires_tls() -> None:
    text = exchange.script(view(), STAMP)
    assert "-Name 'tlsbot strict 1' -Tls 'CertificateValidation'" in text
    assert "-Name 'tlsbot relaxed 1' -Tls 'EncryptionOnly'" in text
    assert "New-InboundConnector -Name $Name -ConnectorType Partner -SenderDomains" in text
    assert "-RequireTls $true" in text
    assert "-UseMXRecord $true" in text


HOSTILE = [
    pytest.param("a'; Remove-Mailbox -Identity * -Confirm:$false; '", id="ascii-quote"),
    pytest.param("a\u2019; Stop-Computer; \u2018", id="smart-quotes"),
    pytest.param("a\u201a\u201b''", id="low-and-reversed-quotes"),
    pytest.param("$(Get-Process)", id="subexpression"),
    pytest.param('"; Invoke-Expression x; "', id="double-quotes"),
    pytest.param("`'; x", id="backtick"),
    pytest.param("''''", id="only-quotes"),
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_quoted_value_is_one_string_holding_exactly_the_value(value: str) -> None:
    literal = exchange.quote(value)
    decoded, end = verbatim(literal + " ; Next-Command", 0)
    assert decoded == value
    assert end == len(literal)


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\x00b", "a\x85b", "a\u2028b", "\x1b[2J"])
def test_a_control_character_is_refused_not_quoted(value: str) -> None:
    with pytest.raises(ValueError, match="control character"):
        exchange.quote(value)


@pytest.mark.parametrize("value", [p.values[0] for p in HOSTILE] + ["Bank.example", "a b.example"])
def test_a_domain_the_validators_refuse_never_reaches_the_script(value: str) -> None:
    with pytest.raises(InvalidName):
        exchange.domain_literal(value)
    rogue = Enforcement((*view().policies, view().policies[0].__class__(value, Level.STRICT)))
    with pytest.raises(InvalidName):
        exchange.script(rogue)


def test_a_long_list_is_split_into_numbered_connectors_and_the_rest_removed() -> None:
    policies = [PublishedPolicy(f"p{i:04d}.example", Level.STRICT) for i in range(2500)]
    text = exchange.script(enforcement(policies))
    for n, size in ((1, 1000), (2, 1000), (3, 500)):
        assert f"Set-TlsbotOutbound -Name 'tlsbot strict {n}'" in text
        block = text.split(f"$tlsbot_strict_{n} = @(\n", 1)[1].split("\n)", 1)[0]
        assert len(block.splitlines()) == size
    assert "'tlsbot strict 4'" not in text
    assert "$keep = @('tlsbot strict 1', 'tlsbot strict 2', 'tlsbot strict 3')" in text


@pytest.mark.db
def test_planted_hostile_rows_stay_out_of_the_script(
    session: Session, database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    approve_added(session, "partner.example")
    engine = database.engine
    for bad in (
        "evil.example'; Remove-Mailbox -Identity * -Confirm:$false; '",
        "evil2.example\u2019; Stop-Computer; \u2018",
        "evil3.example\nRemove-InboundConnector x",
    ):
        plant(engine, domain=bad)
    plant(engine, domain="mx-hostile.example", mx_hosts=["mx.example'; Start-Process calc; '"])
    out = tmp_path / "connectors.ps1"
    code = run_cli(["export", "exchange", "--out", str(out)], database, monkeypatch)
    assert code == 1  # written, but values were dropped
    text = out.read_text()
    strings = set(verbatim_strings(text))
    assert {"partner.example", "mx-hostile.example"} <= strings
    allowed_words = {"partner.example", "mx-hostile.example", "tlsbot *", "Stop"}
    for value in strings:
        assert (
            value in allowed_words
            or value.startswith(("tlsbot ", "Managed by tlsbot"))
            or (value in ("CertificateValidation", "EncryptionOnly"))
        ), value
    assert "evil" not in text
    assert "Start-Process" not in text
    event = session.exec(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()  # type: ignore[attr-defined]
    assert event is not None
    assert event.action == "export.published"
    assert event.after["gateway"] == "exchange"
    assert event.after["entries"] == {"strict": 2, "relaxed": 0, "inbound": 2}
    assert len(event.after["rejected"]) == 5  # three domains, one MX name, its empty MX list


@pytest.mark.db
def test_export_exchange_refuses_a_directory(
    database: TestDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_cli(["export", "exchange", "--out", str(tmp_path)], database, monkeypatch) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "is a directory" in err
