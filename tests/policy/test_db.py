"""Engines, migrations, schema checks and the constraints of the models."""

from __future__ import annotations

import os
import secrets
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.policy.db import (
    check_schema,
    current_revision,
    head_revision,
    make_engine,
    session_scope,
    upgrade,
)
from bot.policy.errors import InvalidInput, SchemaOutdated
from bot.policy.models import Approval, ChangeRequest, DomainPolicy, InboundRoute
from bot.policy.types import RecordStatus
from tests.support.db import TestDatabase

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _request(**kw: object) -> ChangeRequest:
    values: dict[str, object] = {
        "kind": "add_domains",
        "payload": {"items": []},
        "requester_id": "U1",
        "requester_name": "Ann",
        "expires_at": NOW,
        "created_at": NOW,
    }
    values.update(kw)
    return ChangeRequest.model_validate(values)


def test_migrated_database_is_at_head_and_passes_the_check(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    check_schema(engine)


def test_empty_database_is_refused_with_the_command_to_run(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(SchemaOutdated, match=r"run `tlsbot db upgrade`"):
        check_schema(engine)
    engine.dispose()


def test_database_behind_head_is_refused_then_upgrade_brings_it_to_head(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as c:
        c.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        c.execute(text("INSERT INTO alembic_version VALUES ('0000')"))
    with pytest.raises(SchemaOutdated, match="newer than this tlsbot"):
        check_schema(engine)
    with engine.begin() as c:
        c.execute(text("DROP TABLE alembic_version"))
    result = upgrade(engine)
    assert (result.before, result.after, result.changed) == (None, head_revision(), True)
    assert not upgrade(engine).changed
    check_schema(engine)
    engine.dispose()


def test_sqlite_engine_uses_wal_and_foreign_keys(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert c.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("not a url", id="garbage"),
        pytest.param("mysql://u@h/db", id="unsupported-backend"),
    ],
)
def test_bad_database_url_is_one_clear_error(url: str) -> None:
    with pytest.raises(InvalidInput, match="DATABASE_URL"):
        make_engine(url)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_plain_postgresql_url_gets_the_psycopg_driver(scheme: str) -> None:
    engine = make_engine(f"{scheme}://u@127.0.0.1:1/db")
    assert engine.dialect.name == "postgresql"
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_timestamps_come_back_timezone_aware_utc(session: Session) -> None:
    session.add(_request())
    session.commit()
    session.expire_all()
    row = session.exec(select(ChangeRequest)).one()
    assert row.expires_at == NOW
    assert row.expires_at.tzinfo is not None
    assert row.created_at.tzinfo is not None


def test_one_active_policy_per_domain_but_removed_ones_may_repeat(session: Session) -> None:
    for _ in range(2):
        session.add(
            DomainPolicy(
                domain="a.example",
                level="strict",
                status=RecordStatus.REMOVED,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    session.add(DomainPolicy(domain="a.example", level="strict", created_at=NOW, updated_at=NOW))
    session.commit()
    session.add(DomainPolicy(domain="a.example", level="relaxed", created_at=NOW, updated_at=NOW))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_one_active_route_per_host_and_port(session: Session) -> None:
    session.add(InboundRoute(host="mx.corp.example", port=25, created_at=NOW, updated_at=NOW))
    session.add(InboundRoute(host="mx.corp.example", port=2525, created_at=NOW, updated_at=NOW))
    session.commit()
    session.add(InboundRoute(host="mx.corp.example", port=25, created_at=NOW, updated_at=NOW))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_one_approval_per_request_and_approver(session: Session) -> None:
    request = _request()
    session.add(request)
    session.commit()
    assert request.id is not None
    session.add(
        Approval(request_id=request.id, approver_id="U2", approver_name="Bo", created_at=NOW)
    )
    session.commit()
    session.add(
        Approval(request_id=request.id, approver_id="U2", approver_name="Bo", created_at=NOW)
    )
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_session_scope_rolls_back_on_error(engine: Engine) -> None:
    def fail_half_way() -> None:
        with session_scope(engine) as s:
            s.add(InboundRoute(host="mx.corp.example", created_at=NOW, updated_at=NOW))
            s.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_half_way()
    with session_scope(engine) as s:
        assert s.exec(select(InboundRoute)).all() == []


def test_postgresql_tests_run_in_their_own_schema(database: TestDatabase) -> None:
    if not database.is_postgresql:
        pytest.skip("PostgreSQL only")
    with database.engine.connect() as c:
        assert c.execute(text("SELECT current_schema()")).scalar() == database.schema


def test_migrations_match_the_models(engine: Engine) -> None:
    """A model change without its migration fails here: run `tlsbot db revision -m …`."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_the_migrations_have_exactly_one_head() -> None:
    """Two branches each adding a migration after the same parent must be merged."""
    from alembic.script import ScriptDirectory

    from bot.policy.db import alembic_config

    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [head_revision()]


def test_upgrading_an_older_store_keeps_its_change_requests(tmp_path) -> None:
    """a0001 adds ``change_request.announcement``; existing requests keep theirs empty."""
    engine = make_engine(f"sqlite:///{tmp_path / 'm0001.db'}")
    upgrade(engine, "m0001")
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO change_request (kind, payload, state, requester_id, requester_name,"
                " required_approvals, lock, created_at, expires_at)"
                " VALUES ('add_domains', '{\"items\": []}', 'pending', 'U1', 'Ann', 1, 0,"
                " '2026-11-29 12:00:00', '2026-12-02 12:00:00')"
            )
        )
    upgrade(engine)
    with session_scope(engine) as session:
        request = session.exec(select(ChangeRequest)).one()
        assert (request.requester_name, request.announcement) == ("Ann", None)
    engine.dispose()


def test_two_upgrades_at_once_both_succeed(database: TestDatabase, tmp_path) -> None:
    """Replicas starting together: one migrates, the other finds it done."""
    if database.is_postgresql:
        schema = f"tlsbot_t_{os.getpid()}_{secrets.token_hex(4)}"
        admin = database.new_engine()
        with admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        args = {"options": f"-csearch_path={schema}"}
        engines = [make_engine(database.url, connect_args=args) for _ in range(2)]
    else:
        url = f"sqlite:///{tmp_path / 'race.db'}"
        engines = [make_engine(url) for _ in range(2)]
    results: list[object] = []
    barrier = threading.Barrier(2)

    def run(engine: Engine) -> None:
        barrier.wait(timeout=10)
        try:
            results.append(upgrade(engine).after)
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert results == [head_revision(), head_revision()]
    finally:
        for e in engines:
            e.dispose()
        if database.is_postgresql:
            with admin.begin() as c:
                c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def test_postgresql_statements_are_never_prepared_into_generic_plans(
    database: TestDatabase,
) -> None:
    """A statement run many times on one connection is still planned with its values:
    psycopg would prepare it after 5 runs, and a generic plan turns a 1,000-value
    ``IN (…)`` into a linear search per row (issue 17: 38 s of a 100,000-policy sync)."""
    if not database.is_postgresql:
        pytest.skip("psycopg's server-side preparation is PostgreSQL's")
    engine = make_engine(database.url)
    try:
        with engine.connect() as connection:
            for _ in range(10):
                connection.execute(
                    text("SELECT count(*) FROM pg_class WHERE oid = ANY(:oids)"),
                    {"oids": list(range(1000))},
                ).scalar_one()
            prepared = connection.execute(
                text("SELECT count(*) FROM pg_prepared_statements")
            ).scalar_one()
        assert prepared == 0
    finally:
        engine.dispose()
