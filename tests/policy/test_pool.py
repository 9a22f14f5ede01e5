"""TLSBOT_DB_POOL_SIZE: the most PostgreSQL connections one process holds, no overflow."""

from __future__ import annotations

import threading

import pytest

from bot.config import ConfigError, Settings
from bot.policy.db import DEFAULT_POOL_SIZE, make_engine
from tests.support.db import TestDatabase


def test_the_pool_size_is_a_setting() -> None:
    assert Settings.from_env({}).db_pool_size == DEFAULT_POOL_SIZE
    assert Settings.from_env({"TLSBOT_DB_POOL_SIZE": "4"}).db_pool_size == 4
    with pytest.raises(ConfigError, match="TLSBOT_DB_POOL_SIZE"):
        Settings.from_env({"TLSBOT_DB_POOL_SIZE": "0"})


@pytest.mark.db
def test_a_process_never_holds_more_connections_than_its_pool(database: TestDatabase) -> None:
    if not database.is_postgresql:
        pytest.skip("PostgreSQL only: SQLite has no server to spare")
    engine = make_engine(database.url, connect_args=database.connect_args, pool_size=2)
    try:
        held = [engine.connect(), engine.connect()]
        third: list[object] = []
        waiter = threading.Thread(target=lambda: third.append(engine.connect()), daemon=True)
        waiter.start()
        waiter.join(0.5)
        assert waiter.is_alive()  # a third connection waits: there is no overflow
        assert third == []
        held.pop().close()  # one comes back to the pool: the waiting thread gets it
        waiter.join(10)
        assert len(third) == 1
        assert engine.pool.checkedout() == 2
        for connection in [*held, *third]:
            connection.close()  # type: ignore[attr-defined]
    finally:
        engine.dispose()
