"""The socketmap's view of the store: cheap version checks, incremental reloads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from bot.export.store import DatabaseSource, load_published
from bot.export.tables import build_tables
from bot.probe.model import Verdict
from tests.export.helpers import approve_added, approve_removed, plant

pytestmark = pytest.mark.db


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def assert_agrees_with_a_full_read(source: DatabaseSource, session: Session) -> None:
    _, tables = source.load()
    session.expire_all()
    full = build_tables(load_published(session))
    assert tables.tls_policy == full.tls_policy
    assert tables.tls_inbound == full.tls_inbound


def test_approved_changes_are_loaded_incrementally_and_agree_with_a_full_read(
    engine: Engine, session: Session
) -> None:
    clock = Clock()
    source = DatabaseSource(engine, clock=clock)
    approve_added(session, "a.example")
    v1, tables = source.load()
    assert set(tables.tls_policy) == {"a.example"}
    assert source.version() == v1
    approve_added(session, "b.example", Verdict.RELAXED)
    v2 = source.version()
    assert v2 != v1
    assert_agrees_with_a_full_read(source, session)
    approve_removed(session, "a.example")
    assert source.version() != v2
    _, tables = source.load()
    assert set(tables.tls_policy) == {"b.example"}
    assert_agrees_with_a_full_read(source, session)
    assert source.full_loads == 1  # the rest were incremental


def test_a_row_planted_with_an_old_timestamp_forces_a_full_read(engine: Engine) -> None:
    source = DatabaseSource(engine, fingerprint_every=1)
    plant(engine, domain="first.example")
    v1, _ = source.load()
    plant(engine, domain="late.example", updated_at=datetime(2000, 1, 1, tzinfo=UTC))
    assert source.version() != v1  # the row count changed
    _, tables = source.load()
    assert "late.example" in tables.tls_policy
    assert source.full_loads == 2


def test_an_edit_that_leaves_no_trace_is_picked_up_by_the_periodic_full_read(
    engine: Engine,
) -> None:
    clock = Clock()
    source = DatabaseSource(engine, clock=clock)
    plant(engine, domain="quiet.example")
    v1, _ = source.load()
    with engine.begin() as connection:  # no audit event, same updated_at, same count
        connection.execute(text("UPDATE domain_policy SET level = 'relaxed'"))
    assert source.version() == v1
    clock.now += DatabaseSource.FULL_EVERY
    assert source.version() != v1
    _, tables = source.load()
    assert tables.tls_policy["quiet.example"].startswith("encrypt ")
