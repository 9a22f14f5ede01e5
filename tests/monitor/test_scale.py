"""20,000 policies on the test database: no monitor statement grows with the store.

Before, ``sync_items`` inserted every new item in one statement, and PostgreSQL
refuses more than 65,535 bind parameters: about 9,300 policies broke the monitor;
``--all`` sent the ids it had taken so far in one ``NOT IN`` list. This test builds
20,000 policies in bulk once, then syncs, sweeps, claims everything and removes
everything. Probes are answered from memory (as ``bench/monitor_sweep.py`` does):
what is exercised is the bookkeeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from bot.clock import ManualClock
from bot.policy.models import DomainPolicy, Validation
from bot.policy.monitor.alerts import Thresholds
from bot.policy.monitor.models import MonitorAlert, MonitorItem
from bot.policy.monitor.sink import RecordingSink
from bot.policy.monitor.store import claim, sync_items
from bot.policy.monitor.sweep import MonitorConfig, sweep
from bot.policy.types import RecordStatus
from tests.support.bulk import InstantProber, add_policies

pytestmark = [pytest.mark.db, pytest.mark.scale, pytest.mark.timeout(120)]

N = 20_000
DUE = 120
T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
PERIOD = timedelta(hours=24)
CONFIG = MonitorConfig(period=PERIOD, thresholds=Thresholds(), lease=timedelta(minutes=5), batch=50)


def count(session: Session, model: type, *where: object) -> int:
    return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


async def test_20000_policies_sync_sweep_claim_everything_and_go(
    engine: Engine, session: Session
) -> None:
    add_policies(engine, N, now=T0)
    sync_items(session=session, now=T0, period=PERIOD)
    assert count(session, MonitorItem) == N
    # a replica syncing again adds nothing (and reads no change)
    assert sync_items(session=session, now=T0, period=PERIOD) == []
    assert count(session, MonitorItem) == N

    # the DUE items with the lowest ids fall due (one statement, no id list)
    first = session.exec(select(func.min(MonitorItem.id))).one()
    session.execute(
        update(MonitorItem)
        .where(col(MonitorItem.id) < first + DUE)
        .values(next_check_at=T0 - timedelta(minutes=1))
    )
    session.commit()
    prober, clock, sink = InstantProber(), ManualClock(T0), RecordingSink()
    report = await sweep(engine=engine, prober=prober, sink=sink, clock=clock, config=CONFIG)
    assert report.checked == DUE
    assert len(prober.calls) == DUE
    assert set(prober.calls.values()) == {1}
    assert count(session, Validation) == DUE
    alerts = count(session, MonitorAlert)
    assert alerts == DUE // 10 == len(sink.sent)
    idle = await sweep(engine=engine, prober=prober, sink=sink, clock=clock, config=CONFIG)
    assert idle.checked == 0

    # --all, claimed in batches of 4,000: no batch repeats one, all are taken, then none
    seen: set[int] = set()
    while got := claim(
        session=session, now=T0, owner="all", lease=CONFIG.lease, limit=4_000, everything=True
    ):
        ids = {c.item_id for c in got}
        assert not ids & seen
        seen |= ids
    assert len(seen) == N

    # every policy removed in one statement: every item goes, every open alert is closed
    session.execute(update(DomainPolicy).values(status=RecordStatus.REMOVED, updated_at=T0))
    session.commit()
    closed = sync_items(session=session, now=T0, period=PERIOD)
    assert len(closed) == alerts
    assert count(session, MonitorItem) == 0
    assert count(session, MonitorAlert, col(MonitorAlert.resolved_at).is_(None)) == 0
