"""The change marker: every write to policies and routes is numbered by the database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, delete, insert, text, update
from sqlmodel import Session, col, select

from bot.policy import changes
from bot.policy.changes import ChangeKind
from bot.policy.models import DomainPolicy, InboundRoute
from tests.support.bulk import add_policies
from tests.support.db import TestDatabase

pytestmark = pytest.mark.db

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def since(session: Session, after: int, page: int = changes.PAGE) -> list[tuple[ChangeKind, int]]:
    upto = changes.head(session)
    return [
        key
        for chunk in changes.changed_since(session, after=after, upto=upto, page=page)
        for key in chunk
    ]


def ids(session: Session) -> list[int]:
    return [int(i) for i in session.exec(select(DomainPolicy.id).order_by(col(DomainPolicy.id)))]


def test_inserts_updates_and_deletes_made_past_the_services_are_numbered(
    engine: Engine, session: Session
) -> None:
    assert changes.head(session) == 0
    add_policies(engine, 5, now=T0)
    first = changes.head(session)
    assert first > 0
    policies = ids(session)
    assert since(session, 0) == [(ChangeKind.POLICY, i) for i in policies]
    assert since(session, first) == []

    # one UPDATE of two rows, as someone at a psql prompt might
    with engine.begin() as connection:
        connection.execute(
            update(DomainPolicy)
            .where(col(DomainPolicy.id).in_(policies[:2]))
            .values(level="relaxed")
        )
    second = changes.head(session)
    assert second > first
    assert sorted(since(session, first)) == [(ChangeKind.POLICY, i) for i in policies[:2]]

    # a statement that changes nothing is not a change
    with engine.begin() as connection:
        connection.execute(update(DomainPolicy).where(col(DomainPolicy.id) == -1).values(level="x"))
    assert changes.head(session) == second

    with engine.begin() as connection:
        connection.execute(delete(DomainPolicy).where(col(DomainPolicy.id) == policies[4]))
        connection.execute(
            insert(InboundRoute).values(
                host="in.company.test",
                port=25,
                status="active",
                version=1,
                created_at=T0,
                updated_at=T0,
            )
        )
    route = session.exec(select(InboundRoute.id)).one()
    assert since(session, second) == [(ChangeKind.POLICY, policies[4]), (ChangeKind.ROUTE, route)]
    # one row per subject: the table never outgrows what it watches
    assert len(since(session, 0)) == 6


def test_changes_of_one_statement_are_read_page_by_page(engine: Engine, session: Session) -> None:
    add_policies(engine, 7, now=T0)
    mark = changes.head(session)
    with engine.begin() as connection:
        connection.execute(update(DomainPolicy).values(mode="observe"))  # 7 rows, one statement
    pages = list(changes.changed_since(session, after=mark, upto=changes.head(session), page=3))
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sorted(k for p in pages for k in p) == [(ChangeKind.POLICY, i) for i in ids(session)]


def test_a_truncate_marks_every_known_policy_changed(
    database: TestDatabase, engine: Engine, session: Session
) -> None:
    if not database.is_postgresql:
        pytest.skip("TRUNCATE is PostgreSQL's; SQLite has none")
    add_policies(engine, 3, now=T0)
    policies = ids(session)
    mark = changes.head(session)
    session.rollback()  # TRUNCATE waits for every other transaction on the table
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE domain_policy"))
    assert sorted(since(session, mark)) == [(ChangeKind.POLICY, i) for i in policies]
