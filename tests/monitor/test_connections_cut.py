"""A PostgreSQL restart cuts every client connection. ``docs/scale.md`` promises that it
costs each process a reconnect on its next query, not an error and not a restart of
tlsbot: the pool tests connections before use (``pool_pre_ping``). Here the server
ends the connections of one engine (``pg_terminate_backend``, what a restart does to
them), and the next sweep runs on new connections and checks what was due."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text, update

from bot.clock import ManualClock
from bot.policy.db import make_engine, new_session
from bot.policy.monitor.alerts import Thresholds
from bot.policy.monitor.models import MonitorItem
from bot.policy.monitor.sink import RecordingSink
from bot.policy.monitor.store import sync_items
from bot.policy.monitor.sweep import MonitorConfig, sweep
from tests.support.bulk import InstantProber, add_policies
from tests.support.db import TestDatabase

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
CONFIG = MonitorConfig(
    period=timedelta(hours=24), thresholds=Thresholds(), lease=timedelta(minutes=5), batch=10
)


def cut_connections(admin: Engine, application_name: str) -> int:
    """End every server process serving ``application_name``; how many were ended."""
    with admin.begin() as connection:
        return len(
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": application_name},
            ).all()
        )


def due_now(engine: Engine, at: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(update(MonitorItem).values(next_check_at=at - timedelta(minutes=1)))


async def test_cut_connections_cost_a_reconnect_not_an_error(
    database: TestDatabase, engine: Engine
) -> None:
    if not database.is_postgresql:
        pytest.skip("a server that cuts its clients' connections is PostgreSQL's")
    name = f"tlsbot-test-{secrets.token_hex(4)}"
    replica = make_engine(
        database.url, connect_args={**database.connect_args, "application_name": name}
    )
    try:
        add_policies(engine, 30, now=T0)
        with new_session(replica) as session:
            sync_items(session=session, now=T0, period=CONFIG.period)
        due_now(engine, T0)
        prober, sink = InstantProber(), RecordingSink()
        first = await sweep(
            engine=replica, prober=prober, sink=sink, clock=ManualClock(T0), config=CONFIG
        )
        assert first.checked == 30
        assert replica.pool.checkedin() >= 1  # idle pooled connections, about to be cut

        assert cut_connections(engine, name) >= 1
        later = T0 + timedelta(minutes=5)
        due_now(engine, later)
        again = await sweep(
            engine=replica, prober=prober, sink=sink, clock=ManualClock(later), config=CONFIG
        )
        assert again.checked == 30
        assert again.failed == 0
        assert set(prober.calls.values()) == {2}  # each checked once per sweep, none lost
    finally:
        replica.dispose()
