"""Enforcement picks the strongest valid policy a partner publishes: DANE, ours, MTA-STS.

dane-only when every MX host was DANE-verified, else our validated ``secure match=``,
else the partner's MTA-STS ``enforce`` patterns (validated again); never MTA-STS over
DANE. The exported file and the live socketmap say the same, and the ``main.cf`` lines
printed include ``smtp_dns_support_level = dnssec`` exactly when an entry needs it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from bot.clock import system_clock
from bot.export.model import Level, PublishedPolicy
from bot.export.publish import export_postfix
from bot.export.socketmap import answer
from bot.export.store import DatabaseSource
from bot.export.tables import build_tables
from bot.policy.models import DomainPolicy
from bot.probe.model import Dnssec
from bot.probe.partner import PartnerTls
from tests.export.helpers import plant, run_cli
from tests.policy.factories import domain_result
from tests.support.db import TestDatabase
from tests.support.partner_results import admit, dane_result

TAIL = "protocols=>=TLSv1.2 ciphers=high"


@pytest.mark.parametrize(
    ("policy", "value"),
    [
        pytest.param(
            PublishedPolicy("p.example", Level.STRICT, ("mx.p.example",), dane=True),
            f"dane-only {TAIL}",
            id="dane-over-ours",
        ),
        pytest.param(
            PublishedPolicy(
                "p.example", Level.STRICT, ("mx.p.example",), dane=True, sts_mx=("*.p.example",)
            ),
            f"dane-only {TAIL}",
            id="never-mta-sts-over-dane",
        ),
        pytest.param(
            PublishedPolicy("p.example", Level.STRICT, ("mx.p.example",), sts_mx=("*.p.example",)),
            f"secure match=mx.p.example {TAIL}",
            id="ours-over-mta-sts",
        ),
        pytest.param(
            PublishedPolicy(
                "p.example", Level.STRICT, (), sts_mx=("mx2.p.example", "*.mail.p.example")
            ),
            f"secure match=.mail.p.example:mx2.p.example {TAIL}",
            id="mta-sts-patterns",
        ),
        pytest.param(
            PublishedPolicy("p.example", Level.RELAXED, ("mx.p.example",), dane=True),
            f"encrypt {TAIL}",
            id="relaxed-ignores-dane",
        ),
        pytest.param(
            PublishedPolicy("p.example", Level.STRICT, ("mx.p.example",)),
            f"secure match=mx.p.example {TAIL}",
            id="plain-strict",
        ),
    ],
)
def test_the_strongest_valid_policy_is_published(policy: PublishedPolicy, value: str) -> None:
    tables = build_tables([policy])
    assert tables.tls_policy == {"p.example": value}
    assert tables.needs_dnssec is value.startswith("dane-only")
    assert answer(tables, b"tls_policy p.example") == _netstring(f"OK {value}")


@pytest.mark.parametrize(
    "pattern",
    [
        "mx.p.example:evil.example",
        "*.*.p.example",
        "mx.p.example ciphers=null",
        "MX.P.EXAMPLE",
        "*.example",
        "mx.p.example\nevil.example secure",
        "-mx.p.example",
    ],
)
def test_hostile_mta_sts_patterns_are_dropped_and_reported(pattern: str) -> None:
    tables = build_tables(
        [PublishedPolicy("p.example", Level.STRICT, (), sts_mx=(pattern, "mx.p.example"))]
    )
    assert tables.tls_policy == {"p.example": f"secure match=mx.p.example {TAIL}"}
    assert [(r.field, r.value) for r in tables.rejected] == [("sts_mx", pattern)]


def test_dane_for_inbound_only_needs_no_dnssec() -> None:
    policy = PublishedPolicy(
        "p.example", Level.STRICT, ("mx.p.example",), delivery=False, dane=True
    )
    assert not build_tables([policy]).needs_dnssec


def _netstring(text: str) -> bytes:
    data = text.encode()
    return str(len(data)).encode() + b":" + data + b","


@pytest.mark.db
def test_an_approved_dane_validation_is_exported_and_served_as_dane_only(
    engine: Engine,
    session: Session,
    database: TestDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a partner whose validation was DANE-verified (and also publishes MTA-STS)
    admit(session, dane_result("dane.example"))
    admit(session, domain_result("plain.example"))
    stored = session.scalars(
        select(DomainPolicy).where(DomainPolicy.domain == "dane.example")
    ).one()
    partner = PartnerTls.from_dict(stored.partner)
    assert (partner.dnssec, partner.dane, partner.sts_id, partner.sts_mode) == (
        Dnssec.SECURE,
        True,
        "7",
        "enforce",
    )
    # When it is exported to files and served by the socketmap
    export_postfix(session=session, directory=tmp_path, now=system_clock())
    written = dict(
        line.split("\t", 1)
        for line in (tmp_path / "tls_policy").read_text().splitlines()
        if not line.startswith("#")
    )
    _, live = DatabaseSource(engine).load()
    # Then both say dane-only for it (never MTA-STS over DANE), and ours for the other
    assert written == dict(live.tls_policy)
    assert written["dane.example"] == f"dane-only {TAIL}"
    assert written["plain.example"] == f"secure match=mx1.plain.example {TAIL}"
    assert answer(live, b"tls_policy dane.example") == _netstring(f"OK dane-only {TAIL}")
    # and the printed main.cf lines turn DNSSEC lookups on
    assert run_cli(["export", "postfix", "--out", str(tmp_path)], database, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "\nsmtp_dns_support_level = dnssec\n" in out


@pytest.mark.db
def test_without_dane_the_printed_lines_leave_dns_alone(
    session: Session,
    database: TestDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    admit(session, domain_result("plain.example"))
    assert run_cli(["export", "postfix", "--out", str(tmp_path)], database, monkeypatch) == 0
    assert "smtp_dns_support_level" not in capsys.readouterr().out


@pytest.mark.db
def test_mta_sts_patterns_apply_where_no_validated_name_is_left(engine: Engine) -> None:
    # Given a strict policy whose stored MX names are unusable, and a partner MTA-STS policy
    partner = PartnerTls(sts_id="1", sts_mode="enforce", sts_mx=("*.sts.example",)).to_dict()
    plant(engine, domain="sts.example", mx_hosts=["bad name"], partner=partner)
    testing = PartnerTls(sts_id="1", sts_mode="testing", sts_mx=("*.t.example",)).to_dict()
    plant(engine, domain="t.example", mx_hosts=[], partner=testing)
    plant(engine, domain="junk.example", mx_hosts=[], partner={"dane": "yes", "sts_mx": 5})
    _, tables = DatabaseSource(engine).load()
    # Then the enforce patterns are used, validated; testing mode and junk are not
    assert tables.tls_policy["sts.example"] == f"secure match=.sts.example {TAIL}"
    assert tables.tls_policy["t.example"] == f"secure {TAIL}"
    assert tables.tls_policy["junk.example"] == f"secure {TAIL}"
    assert not tables.needs_dnssec
