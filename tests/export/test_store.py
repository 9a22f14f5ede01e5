"""The socketmap's view of the store: a cheap version check, reloads of what changed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, delete, text, update
from sqlmodel import Session, col

from bot.export.snapshot import LayeredMap
from bot.export.store import DatabaseSource, load_published
from bot.export.tables import build_tables
from bot.policy.models import DomainPolicy
from bot.probe.model import Verdict
from tests.export.helpers import approve_added, approve_removed, plant
from tests.support.bulk import add_policies

pytestmark = pytest.mark.db


def assert_agrees_with_a_full_read(source: DatabaseSource, session: Session) -> None:
    _, tables = source.load()
    session.expire_all()
    full = build_tables(load_published(session))
    assert tables.tls_policy == full.tls_policy
    assert tables.tls_inbound == full.tls_inbound
    assert sorted(tables.rejected, key=str) == sorted(full.rejected, key=str)


def test_approved_changes_are_loaded_incrementally_and_agree_with_a_full_read(
    engine: Engine, session: Session
) -> None:
    source = DatabaseSource(engine)
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
    assert source.changes_applied == 2


def test_edits_made_past_the_services_are_seen_at_once(engine: Engine) -> None:
    """No audit event, an old timestamp, the same row count: the database still numbers it."""
    source = DatabaseSource(engine)
    plant(engine, domain="quiet.example")
    v1, _ = source.load()
    plant(engine, domain="late.example", updated_at=datetime(2000, 1, 1, tzinfo=UTC))
    assert source.version() != v1
    with engine.begin() as connection:
        connection.execute(text("UPDATE domain_policy SET level = 'relaxed'"))
    _, tables = source.load()
    assert tables.tls_policy["quiet.example"].startswith("encrypt ")
    assert tables.tls_policy["late.example"].startswith("encrypt ")
    with engine.begin() as connection:
        connection.execute(delete(DomainPolicy).where(col(DomainPolicy.domain) == "quiet.example"))
    _, tables = source.load()
    assert set(tables.tls_policy) == {"late.example"}
    assert source.full_loads == 1


def test_hostile_rows_and_a_domain_replaced_agree_with_a_full_read_change_by_change(
    engine: Engine, session: Session
) -> None:
    source = DatabaseSource(engine)
    plant(engine, domain="swap.example", level="strict", mx_hosts=["mx.swap.example"])
    plant(engine, domain="Bad..Example", level="strict")
    plant(engine, domain="odd.example", level="strict", mx_hosts=["mx ok", "mx.odd.example"])
    assert_agrees_with_a_full_read(source, session)
    assert len(source.load()[1].rejected) == 2
    with engine.begin() as connection:  # the strict policy goes, a relaxed one replaces it
        connection.execute(
            update(DomainPolicy)
            .where(col(DomainPolicy.domain) == "swap.example")
            .values(status="removed")
        )
    plant(engine, domain="swap.example", level="relaxed")
    _, tables = source.load()
    assert tables.tls_policy["swap.example"].startswith("encrypt ")
    assert_agrees_with_a_full_read(source, session)
    with engine.begin() as connection:  # the hostile MX name is cleaned up
        connection.execute(
            update(DomainPolicy)
            .where(col(DomainPolicy.domain) == "odd.example")
            .values(mx_hosts=["mx.odd.example"])
        )
    _, tables = source.load()
    assert [r.domain for r in tables.rejected] == ["Bad..Example"]
    assert_agrees_with_a_full_read(source, session)
    assert source.full_loads == 1


@pytest.mark.scale
def test_20000_policies_one_change_then_5000_then_all(engine: Engine, session: Session) -> None:
    """A change to one of 20,000 is applied alone; 5,000 at once are read in chunks of ids."""
    add_policies(engine, 20_000, now=datetime(2026, 11, 1, tzinfo=UTC))
    source = DatabaseSource(engine)
    _, tables = source.load()
    assert len(tables.tls_policy) == 20_000
    with engine.begin() as connection:
        connection.execute(
            update(DomainPolicy).where(col(DomainPolicy.domain) == "d7.example").values(level="x")
        )
    _, changed = source.load()
    assert source.changes_applied == 1
    assert "d7.example" not in changed.tls_policy  # an unknown level is not published
    assert "d7.example" in tables.tls_policy  # the snapshot served before is untouched
    assert len(changed.tls_policy) == 19_999
    # 5,000 changed at once: applied by id, in chunks of 1,000
    with engine.begin() as connection:
        connection.execute(
            update(DomainPolicy).where(col(DomainPolicy.id) % 4 == 0).values(mode="observe")
        )
    assert_agrees_with_a_full_read(source, session)
    assert source.full_loads == 1
    assert source.changes_applied == 5_001
    # all 20,000 at once: one full read is cheaper than 20 chunks
    with engine.begin() as connection:
        connection.execute(update(DomainPolicy).values(mode="enforce"))
    assert_agrees_with_a_full_read(source, session)
    assert source.full_loads == 2


def test_layered_map_changes_leave_the_old_map_alone() -> None:
    base = LayeredMap({f"k{i}": str(i) for i in range(10)})
    newer = base.changed({"k1": None, "k2": "two", "new": "n"})
    assert dict(base) == {f"k{i}": str(i) for i in range(10)}
    assert len(newer) == 10
    assert newer.get("k1") is None
    assert "k1" not in newer
    assert newer["k2"] == "two"
    assert newer.get("new") == "n"
    assert newer == {**{f"k{i}": str(i) for i in range(10) if i != 1}, "k2": "two", "new": "n"}
    with pytest.raises(KeyError):
        newer["k1"]
    # many changes fold into a new base; the content is the same
    folded = newer
    for i in range(LayeredMap.FOLD_MIN + 5):
        folded = folded.changed({f"x{i}": "x"})
    assert len(folded) == 10 + LayeredMap.FOLD_MIN + 5
    assert folded["k2"] == "two"
    assert "k1" not in folded
