"""The monitor against real probes: loopback DNS, loopback SMTP servers, certificates swapped
between checks. Each alert is raised once, not repeated on the next cycle, and cleared once
with a follow-up message."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.policy.models import Validation
from bot.policy.monitor.alerts import ActionId, Condition, Severity
from bot.policy.monitor.models import MonitorAlert
from tests.monitor.harness import Monitor, add_policy, add_route, raised, resolved
from tests.monitor.world import MonitorWorld, short_lived
from tests.support.certs import CertCase, Pki
from tests.support.smtp_server import Behaviour

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]

MX1, MX2 = "mx1.partner.test", "mx2.elsewhere.test"


@pytest.fixture
async def world(monitor_pki: Pki) -> AsyncIterator[MonitorWorld]:
    w = await MonitorWorld.start(
        monitor_pki, {"partner.test": [MX1]}, spare=(MX2, "in1.company.test")
    )
    async with w:
        yield w


async def test_certificate_swaps_and_dropped_starttls(
    engine: Engine, session: Session, world: MonitorWorld
) -> None:
    add_policy(session, "partner.test", [MX1])
    monitor = Monitor(engine, world.prober())
    mx = world.mx[MX1]

    # Given a trusted certificate: nothing to say
    assert raised(await monitor.step()) == []
    # When the partner swaps in a self-signed certificate: one alert
    await mx.serve(CertCase.SELF_SIGNED)
    report = await monitor.step()
    assert raised(report) == [Condition.LEVEL_DROP]
    alert = report.raised[0]
    assert alert.fingerprint == "strict->relaxed"
    assert alert.severity is Severity.CRITICAL
    assert "self-signed" in " ".join(alert.details)
    assert alert.actions == (ActionId.RECHECK, ActionId.RELAX, ActionId.SUSPEND)
    # and on the next cycle, no repeat
    assert raised(await monitor.step()) == []
    # When the trusted certificate is back: one follow-up
    await mx.serve(CertCase.TRUSTED)
    report = await monitor.step()
    assert resolved(report) == [Condition.LEVEL_DROP]
    assert raised(report) == []
    # When STARTTLS is dropped: a new alert (strict → unsupported), no Relax button
    await mx.serve(CertCase.TRUSTED, Behaviour.NO_STARTTLS)
    report = await monitor.step()
    assert [a.fingerprint for a in report.raised] == ["strict->unsupported"]
    assert ActionId.RELAX not in report.raised[0].actions
    assert raised(await monitor.step()) == []
    await mx.serve(CertCase.TRUSTED)
    assert resolved(await monitor.step()) == [Condition.LEVEL_DROP]

    assert [a.condition for a in monitor.sink.sent] == [Condition.LEVEL_DROP] * 2
    assert [a.condition for a in monitor.sink.resolved] == [Condition.LEVEL_DROP] * 2
    history = session.exec(
        select(Validation.verdict)
        .where(col(Validation.domain) == "partner.test")
        .order_by(col(Validation.id))
    ).all()
    assert history == [
        "strict",
        "relaxed",
        "relaxed",
        "strict",
        "unsupported",
        "unsupported",
        "strict",
    ]


async def test_unreachable_on_two_consecutive_checks(
    engine: Engine, session: Session, world: MonitorWorld
) -> None:
    add_policy(session, "partner.test", [MX1])
    monitor = Monitor(engine, world.prober())
    await world.mx[MX1].stop()  # connection refused
    assert raised(await monitor.step()) == []
    assert raised(await monitor.step()) == [Condition.UNREACHABLE]
    assert raised(await monitor.step()) == []
    await world.mx[MX1].serve()
    report = await monitor.step()
    assert resolved(report) == [Condition.UNREACHABLE]
    assert "tested again" in (report.resolved[0].resolution or "")


async def test_certificate_near_expiry_warns_once_until_renewed(
    engine: Engine, session: Session, world: MonitorWorld, monitor_pki: Pki
) -> None:
    add_policy(session, "partner.test", [MX1])
    monitor = Monitor(engine, world.prober())
    await world.mx[MX1].serve(short_lived(monitor_pki, MX1, days=5))
    report = await monitor.step()
    assert raised(report) == [Condition.CERT_EXPIRING]
    assert "expires in 4 day(s)" in report.raised[0].summary
    assert "deferred" in report.raised[0].mail_impact
    assert raised(await monitor.step()) == []
    await world.mx[MX1].serve(CertCase.TRUSTED)  # renewed for 90 days
    assert resolved(await monitor.step()) == [Condition.CERT_EXPIRING]


async def test_mx_set_change_outside_the_match_list(
    engine: Engine, session: Session, world: MonitorWorld
) -> None:
    add_policy(session, "partner.test", [MX1])
    monitor = Monitor(engine, world.prober())
    assert raised(await monitor.step()) == []
    world.set_mx("partner.test", MX1, MX2)
    report = await monitor.step()
    assert raised(report) == [Condition.MX_NOT_COVERED]
    assert report.raised[0].fingerprint == MX2
    assert raised(await monitor.step()) == []
    world.set_mx("partner.test", MX1)
    assert resolved(await monitor.step()) == [Condition.MX_NOT_COVERED]


async def test_inbound_route_degrading(
    engine: Engine, session: Session, world: MonitorWorld
) -> None:
    add_route(session, "in1.company.test", world.port)
    monitor = Monitor(engine, world.prober())
    assert raised(await monitor.step()) == []
    await world.mx["in1.company.test"].serve(CertCase.TRUSTED, Behaviour.NO_STARTTLS)
    report = await monitor.step()
    assert raised(report) == [Condition.ROUTE_DEGRADED]
    assert report.raised[0].actions == (ActionId.RECHECK,)
    assert raised(await monitor.step()) == []
    await world.mx["in1.company.test"].serve()
    assert resolved(await monitor.step()) == [Condition.ROUTE_DEGRADED]
    rows = session.exec(select(MonitorAlert)).all()
    assert [(r.subject, r.sent_at is not None, r.resolve_sent_at is not None) for r in rows] == [
        ("route", True, True)
    ]
