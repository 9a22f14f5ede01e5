"""``/tls status DOMAIN`` history and the App Home's "at risk first" order, as plain data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.clock import ManualClock
from bot.policy.errors import InvalidInput
from bot.policy.monitor.alerts import Condition, Severity, SubjectKind
from bot.policy.monitor.history import at_risk_first, domain_status
from bot.policy.monitor.sink import RecordingSink
from bot.policy.monitor.store import record_validation
from bot.policy.monitor.sweep import MonitorConfig, sweep
from bot.probe.model import TargetKind, Verdict
from tests.monitor.harness import add_policy, add_route
from tests.monitor.results import host, result
from tests.monitor.scripted import ScriptedProber

pytestmark = pytest.mark.db

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def test_status_lists_checks_level_changes_and_certificates(session: Session) -> None:
    add_policy(session, "partner.test", ["mx1.partner.test", "mx2.partner.test"])
    verdicts = [Verdict.STRICT, Verdict.STRICT, Verdict.RELAXED, Verdict.RELAXED, Verdict.STRICT]
    for day, verdict in enumerate(verdicts):
        now = T0 + day * DAY
        r = result(
            "partner.test",
            host("mx1.partner.test", verdict, now=now, days=40 - day, serial="a"),
            host("mx2.partner.test", Verdict.STRICT, now=now, days=200, serial="b"),
        )
        record_validation(session=session, result=r, now=now)
    session.commit()

    status = domain_status(session=session, domain="Partner.TEST.", now=T0 + 4 * DAY, limit=3)

    assert status.domain == "partner.test"
    assert status.level == "strict"
    assert status.relaxed_until is None
    assert [c.verdict for c in status.checks] == [Verdict.STRICT, Verdict.RELAXED, Verdict.RELAXED]
    assert status.checks[0].at == T0 + 4 * DAY
    assert status.checks[1].reason == "mx1.partner.test: the certificate is self-signed"
    assert [(c.before, c.after, c.at) for c in status.level_changes] == [
        (Verdict.RELAXED, Verdict.STRICT, T0 + 4 * DAY),
        (Verdict.STRICT, Verdict.RELAXED, T0 + 2 * DAY),
    ]
    assert [(c.host, c.days_left) for c in status.certificates] == [
        ("mx1.partner.test", 36),
        ("mx2.partner.test", 200),
    ]


def test_status_of_a_bad_name_is_one_sentence(session: Session) -> None:
    with pytest.raises(InvalidInput, match="needs at least two labels"):
        domain_status(session=session, domain="localhost", now=T0)


def test_status_of_an_unknown_domain_is_empty(session: Session) -> None:
    status = domain_status(session=session, domain="nobody.test", now=T0)
    assert status.policy_id is None
    assert status.checks == ()
    assert status.open_alerts == ()


async def test_at_risk_first_orders_by_open_alert_then_verdict(
    engine: Engine, session: Session
) -> None:
    for name in ("aaa.test", "bbb.test", "ccc.test", "ddd.test"):
        add_policy(session, name, [f"mx1.{name}"])
    add_route(session, "in.company.test", 25)
    eee = add_policy(session, "eee.test", [], level="relaxed")
    prober = ScriptedProber(
        {
            "aaa.test": result("aaa.test", host("mx1.aaa.test", Verdict.STRICT, now=T0)),
            "bbb.test": result("bbb.test", host("mx1.bbb.test", Verdict.UNSUPPORTED)),
            "ccc.test": result("ccc.test", host("mx1.ccc.test", Verdict.STRICT, now=T0, days=3)),
            "ddd.test": result("ddd.test", host("mx1.ddd.test", Verdict.STRICT, now=T0)),
            "eee.test": result("eee.test", host("mx1.eee.test", Verdict.STRICT, now=T0)),
            "in.company.test:25": result(
                "in.company.test",
                host("in.company.test", Verdict.RELAXED, now=T0),
                kind=TargetKind.ROUTE,
            ),
        }
    )
    await sweep(
        engine=engine,
        prober=prober,
        sink=RecordingSink(),
        clock=ManualClock(T0),
        config=MonitorConfig(),
        everything=True,
    )

    rows = at_risk_first(session=session)

    assert [(r.name, r.severity) for r in rows] == [
        ("bbb.test", Severity.CRITICAL),  # strict → unsupported
        ("in.company.test:25", Severity.CRITICAL),  # route strict → relaxed
        ("ccc.test", Severity.WARNING),  # certificate expires in 3 days
        ("eee.test", Severity.INFO),  # relaxed, could be upgraded
        ("aaa.test", None),
        ("ddd.test", None),
    ]
    assert rows[0].alerts == (Condition.LEVEL_DROP,)
    assert rows[1].kind is SubjectKind.ROUTE
    assert [r.at_risk for r in rows] == [True, True, True, False, False, False]
    status = domain_status(session=session, domain="bbb.test", now=T0)
    assert [a.condition for a in status.open_alerts] == ["level-drop"]
    assert status.last_checked_at == T0
    relaxed = domain_status(session=session, domain="eee.test", now=T0, relaxed_days=30)
    assert relaxed.level == "relaxed"
    assert relaxed.relaxed_until == eee.created_at + timedelta(days=30)
