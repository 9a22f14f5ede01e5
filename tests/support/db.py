"""The shared database fixtures: ``database`` (per test session), ``engine`` and ``session``.

``TLSBOT_TEST_DATABASE_URL`` names a PostgreSQL database to test on (CI:
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); unset, a temporary
SQLite *file* is used, so threads and processes can share it. On PostgreSQL
every test session gets its own schema (``tlsbot_t_<pid>_<random>``, created
here and dropped at the end, reached through ``search_path``), because several
people run tests against the same database at the same time.

The schema is built by running the Alembic migrations, which tests them too.
After each test that used ``engine`` every table is emptied again.

Use it from a test module::

    pytestmark = pytest.mark.db

    def test_something(session): ...

Threads and worker processes make their own engine with
``database.new_engine()`` (or ``make_engine(database.url, connect_args=database.connect_args)``).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, delete, text, update
from sqlmodel import Session, SQLModel

from bot.policy import append_only
from bot.policy.changes import ChangeHead, SubjectChange
from bot.policy.db import make_engine, new_session, upgrade
from bot.policy.models import AuditHead

URL_VARIABLE = "TLSBOT_TEST_DATABASE_URL"


@dataclass
class TestDatabase:
    url: str
    engine: Engine
    schema: str | None = None
    connect_args: dict[str, Any] = field(default_factory=dict)

    __test__ = False  # not a test class, whatever its name says

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def url_with_schema(self) -> str:
        """The URL alone reaching this test session's schema (for DATABASE_URL in CLI tests)."""
        if self.schema is None:
            return self.url
        joiner = "&" if "?" in self.url else "?"
        return f"{self.url}{joiner}options=-csearch_path%3D{self.schema}"

    def new_engine(self) -> Engine:
        """A separate engine on the same database and schema (for threads, processes)."""
        return make_engine(self.url, connect_args=self.connect_args)


@contextmanager
def append_only_suspended(db: Session | Connection) -> Iterator[None]:
    """Act as someone with DDL rights: drop the audit triggers, tamper, put them back.

    Everything happens in ``db``'s current transaction; flush ORM changes inside.
    """
    dialect = db.get_bind().dialect.name if isinstance(db, Session) else db.dialect.name
    for statement in append_only.remove_statements(dialect):
        if isinstance(db, Session):
            with db.no_autoflush:  # pending edits are the tampering: they flush inside
                db.execute(text(statement))
        else:
            db.execute(text(statement))
    yield
    for statement in append_only.install_statements(dialect):
        db.execute(text(statement))


# Emptied last: deleting the policies and routes records their removal in these.
_CHANGE_MARKER = (SubjectChange.__tablename__, ChangeHead.__tablename__)


def wipe(engine: Engine) -> None:
    """Empty every table and reset the audit chain's head and the change marker."""
    with engine.begin() as connection, append_only_suspended(connection):
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table.name == AuditHead.__tablename__ or table.name in _CHANGE_MARKER:
                continue
            connection.execute(delete(table))
        connection.execute(update(AuditHead).values(seq=0, hash="0" * 64))
        connection.execute(delete(SubjectChange))
        connection.execute(update(ChangeHead).values(seq=0))


def _drop_orphans(admin: Engine) -> None:
    """Drop test schemas left by test runs on this machine whose process is gone."""
    with admin.begin() as connection:
        names = connection.execute(
            text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tlsbot_t_%'")
        ).scalars()
        for name in list(names):
            match = re.fullmatch(r"tlsbot_t_(\d+)_[0-9a-f]+", name)
            if match is None:
                continue
            try:
                os.kill(int(match.group(1)), 0)
            except ProcessLookupError:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
            except OSError:
                continue  # alive, owned by another user


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    url = os.environ.get(URL_VARIABLE, "").strip()
    if not url:
        path = tmp_path_factory.mktemp("db") / "tlsbot-test.db"
        db = TestDatabase(url=f"sqlite:///{path}", engine=make_engine(f"sqlite:///{path}"))
        upgrade(db.engine)
        yield db
        db.engine.dispose()
        return
    schema = f"tlsbot_t_{os.getpid()}_{secrets.token_hex(4)}"
    admin = make_engine(url)
    _drop_orphans(admin)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    connect_args = {"options": f"-csearch_path={schema}"}
    db = TestDatabase(url=url, engine=make_engine(url, connect_args=connect_args), schema=schema)
    db.connect_args = connect_args
    try:
        upgrade(db.engine)
        yield db
    finally:
        db.engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(database: TestDatabase) -> Iterator[Engine]:
    """The migrated test database; emptied again after the test."""
    try:
        yield database.engine
    finally:
        wipe(database.engine)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test database (objects stay readable after commit)."""
    with new_session(engine) as s:
        yield s
