"""Scheduling, claiming and alert bookkeeping in the database (scripted probe results)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from bot.clock import ManualClock, system_clock
from bot.policy.models import DomainPolicy, InboundRoute, Validation
from bot.policy.monitor.alerts import Alert, Condition, Thresholds
from bot.policy.monitor.models import MonitorAlert, MonitorItem
from bot.policy.monitor.sink import RecordingSink
from bot.policy.monitor.store import MAX_ATTEMPTS, claim, sync_items
from bot.policy.monitor.sweep import MonitorConfig, sweep
from bot.policy.types import RecordStatus
from bot.probe.model import TargetKind, Verdict
from tests.monitor.results import host, result
from tests.monitor.scripted import ScriptedProber

pytestmark = pytest.mark.db

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)
CONFIG = MonitorConfig(
    period=24 * HOUR, thresholds=Thresholds(), lease=timedelta(minutes=5), batch=4
)


def add_policy(session: Session, domain: str, level: str = "strict", **kw: object) -> DomainPolicy:
    kw.setdefault("created_at", T0)
    kw.setdefault("updated_at", kw["created_at"])
    policy = DomainPolicy(domain=domain, level=level, mx_hosts=[f"mx1.{domain}"], **kw)
    session.add(policy)
    session.commit()
    return policy


def strict(domain: str) -> object:
    return result(domain, host(f"mx1.{domain}", Verdict.STRICT, now=T0))


def test_items_are_spread_over_the_period(session: Session) -> None:
    for i in range(40):
        add_policy(session, f"p{i}.test")
    session.add(
        InboundRoute(
            host="in.company.test",
            port=25,
            last_verdict="strict",
            created_at=system_clock(),
            updated_at=system_clock(),
        )
    )
    session.commit()
    sync_items(session=session, now=T0, period=24 * HOUR)
    items = session.exec(select(MonitorItem)).all()
    assert len(items) == 41
    due = sorted(i.next_check_at for i in items)
    assert due[0] > T0
    assert due[-1] <= T0 + 24 * HOUR
    # spread, not bunched: the 41 slots fall in at least 12 different hours of the day
    per_hour = {int((d - T0) / HOUR) for d in due}
    assert len(per_hour) >= 12
    # a second sync (another replica) adds nothing
    sync_items(session=session, now=T0, period=24 * HOUR)
    assert session.exec(select(func.count()).select_from(MonitorItem)).one() == 41


def test_claim_takes_due_unleased_items_once(session: Session) -> None:
    for i in range(6):
        add_policy(session, f"c{i}.test")
    sync_items(session=session, now=T0, period=24 * HOUR)
    later = T0 + 25 * HOUR  # everything is due
    first = claim(session=session, now=later, owner="a", lease=timedelta(minutes=5), limit=4)
    second = claim(session=session, now=later, owner="b", lease=timedelta(minutes=5), limit=10)
    assert len(first) == 4
    assert len(second) == 2
    assert not {c.item_id for c in first} & {c.item_id for c in second}
    assert claim(session=session, now=later, owner="c", lease=timedelta(minutes=5), limit=10) == []
    # a lease left by a crashed worker expires and the item is claimable again
    again = claim(
        session=session, now=later + timedelta(minutes=6), owner="d", lease=HOUR, limit=10
    )
    assert len(again) == 6


async def test_a_worker_sweeping_every_half_hour_checks_each_item_once_per_period(
    engine: Engine, session: Session
) -> None:
    for i in range(5):
        add_policy(session, f"s{i}.test")
    prober = ScriptedProber({f"s{i}.test": strict(f"s{i}.test") for i in range(5)})
    clock, sink = ManualClock(T0), RecordingSink()
    first = await sweep(engine=engine, prober=prober, sink=sink, clock=clock, config=CONFIG)
    assert first.checked == 0  # nothing due yet: the slots are spread over the next 24 h
    for day in (1, 2):
        for _ in range(48):
            clock.advance(minutes=30)
            await sweep(engine=engine, prober=prober, sink=sink, clock=clock, config=CONFIG)
        assert set(prober.calls.values()) == {day}
    everything = await sweep(
        engine=engine, prober=prober, sink=sink, clock=clock, config=CONFIG, everything=True
    )
    assert everything.checked == 5
    assert set(prober.calls.values()) == {3}
    assert session.exec(select(func.count()).select_from(Validation)).one() == 15
    history = session.exec(select(Validation).where(col(Validation.domain) == "s0.test")).all()
    assert [v.actor_name for v in history] == ["tlsbot monitor"] * 3
    assert history[0].result["verdict"] == "strict"
    # a check moves the item to its next slot, one period on
    item = session.exec(select(MonitorItem).where(col(MonitorItem.name) == "s0.test")).one()
    assert item.last_checked_at is not None
    assert timedelta(0) < item.next_check_at - item.last_checked_at <= 24 * HOUR


async def test_alert_raised_once_delivered_once_and_resolved_once(
    engine: Engine, session: Session
) -> None:
    policy = add_policy(session, "drop.test")
    good = strict("drop.test")
    bad = result("drop.test", host("mx1.drop.test", Verdict.RELAXED, now=T0))
    prober = ScriptedProber({"drop.test": bad})
    clock, sink = ManualClock(T0), RecordingSink()
    reports = []
    for script in (bad, bad, good, good):
        prober.results["drop.test"] = script
        reports.append(
            await sweep(
                engine=engine, prober=prober, sink=sink, clock=clock, config=CONFIG, everything=True
            )
        )
        clock.advance(hours=24)
    assert [len(r.raised) for r in reports] == [1, 0, 0, 0]
    assert [len(r.resolved) for r in reports] == [0, 0, 1, 0]
    assert [a.condition for a in sink.sent] == [Condition.LEVEL_DROP]
    assert [a.condition for a in sink.resolved] == [Condition.LEVEL_DROP]
    assert sink.resolved[0].message_ref == "ref-1"  # the follow-up knows the message
    row = session.exec(select(MonitorAlert)).one()
    assert row.subject_id == policy.id
    assert row.sent_at is not None
    assert row.resolve_sent_at is not None
    assert row.validation_id is not None


class FlakySink(RecordingSink):
    """Down until told otherwise; refuses (forever) the alerts of ``refused`` subjects."""

    def __init__(self, refused: str = "") -> None:
        super().__init__()
        self.down = True
        self.refused = refused

    async def send(self, alert: Alert) -> str | None:
        if self.down:
            raise ConnectionError("slack is down")
        if alert.subject_name == self.refused:
            raise ValueError("invalid_blocks")
        return await super().send(alert)


async def test_an_alert_the_sink_could_not_take_is_delivered_on_the_next_sweep(
    engine: Engine, session: Session
) -> None:
    add_policy(session, "flaky.test")
    prober = ScriptedProber(
        {"flaky.test": result("flaky.test", host("mx1.flaky.test", Verdict.UNSUPPORTED))}
    )
    clock, sink = ManualClock(T0), FlakySink()
    first = await sweep(
        engine=engine, prober=prober, sink=sink, clock=clock, config=CONFIG, everything=True
    )
    assert len(first.raised) == 1
    assert sink.sent == []
    sink.down = False
    # later, but before the item is due again (its slot depends on its id, which on
    # PostgreSQL depends on the tests that ran before)
    item = session.exec(select(MonitorItem)).one()
    clock.advance(min(timedelta(hours=1), (item.next_check_at - clock()) / 2))
    second = await sweep(engine=engine, prober=prober, sink=sink, clock=clock, config=CONFIG)
    assert second.checked == 0
    assert [a.subject_name for a in sink.sent] == ["flaky.test"]
    row = session.exec(select(MonitorAlert)).one()
    session.refresh(row)
    assert row.attempts == 0  # reset once delivered
    assert row.last_error is None


async def test_an_alert_refused_five_times_is_given_up_and_blocks_nothing(
    engine: Engine, session: Session
) -> None:
    add_policy(session, "poison.test")
    prober = ScriptedProber(
        {"poison.test": result("poison.test", host("mx1.poison.test", Verdict.UNSUPPORTED))}
    )
    clock, sink = ManualClock(T0), FlakySink(refused="poison.test")
    sink.down = False
    for attempt in range(MAX_ATTEMPTS + 1):  # the last sweep no longer tries it
        await sweep(
            engine=engine,
            prober=prober,
            sink=sink,
            clock=clock,
            config=CONFIG,
            everything=not attempt,
        )
    poison = session.exec(select(MonitorAlert)).one()
    session.refresh(poison)
    assert poison.attempts == MAX_ATTEMPTS
    assert poison.last_error == "ValueError: invalid_blocks"
    assert poison.sent_at is None
    # a later alert of another domain still goes out
    add_policy(session, "later.test")
    prober.results["later.test"] = result("later.test", host("mx1.later.test", Verdict.UNSUPPORTED))
    await sweep(
        engine=engine, prober=prober, sink=sink, clock=clock, config=CONFIG, everything=True
    )
    assert [a.subject_name for a in sink.sent] == ["later.test"]


async def test_removing_a_policy_clears_its_alerts_with_a_follow_up(
    engine: Engine, session: Session
) -> None:
    policy = add_policy(session, "gone.test")
    prober = ScriptedProber(
        {"gone.test": result("gone.test", host("mx1.gone.test", Verdict.UNSUPPORTED))}
    )
    clock, sink = ManualClock(T0), RecordingSink()
    await sweep(
        engine=engine, prober=prober, sink=sink, clock=clock, config=CONFIG, everything=True
    )
    policy.status = RecordStatus.REMOVED
    session.add(policy)
    session.commit()
    report = await sweep(engine=engine, prober=prober, sink=sink, clock=clock, config=CONFIG)
    assert len(report.resolved) == 1
    assert sink.resolved[0].resolution == "gone.test was removed; it is no longer monitored."
    assert session.exec(select(MonitorItem)).all() == []


async def test_routes_are_probed_by_their_label(engine: Engine, session: Session) -> None:
    session.add(
        InboundRoute(
            host="in.company.test",
            port=2525,
            last_verdict="strict",
            created_at=system_clock(),
            updated_at=system_clock(),
        )
    )
    session.commit()
    r = result(
        "in.company.test", host("in.company.test", Verdict.UNSUPPORTED), kind=TargetKind.ROUTE
    )
    prober = ScriptedProber({"in.company.test:2525": r})
    sink = RecordingSink()
    report = await sweep(
        engine=engine,
        prober=prober,
        sink=sink,
        clock=ManualClock(T0),
        config=CONFIG,
        everything=True,
    )
    assert [a.condition for a in report.raised] == [Condition.ROUTE_DEGRADED]
