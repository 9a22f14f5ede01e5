"""Engines, sessions and the schema's migrations.

``make_engine(url)`` builds an engine for SQLite (WAL, foreign keys, a busy
timeout, usable from several threads) or PostgreSQL (psycopg 3; a plain
``postgresql://`` URL gets that driver). Services of this package commit their
own unit of work through :func:`transaction`; callers open sessions with
:func:`session_scope` or :func:`new_session`.

The schema is only ever built by the Alembic migrations that live in
``bot/policy/migrations`` (run by :func:`upgrade`, i.e. ``tlsbot db upgrade``);
:func:`check_schema` lets ``tlsbot serve`` refuse a database that is behind.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.sql import Insert
from sqlmodel import Session, create_engine

from bot.policy.errors import DatabaseUnavailable, InvalidInput, SchemaOutdated

T = TypeVar("T")

SCRIPT_LOCATION = "bot.policy:migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
_MIGRATION_LOCK = 0x746C73626F74  # "tlsbot": the advisory lock key of `tlsbot db upgrade`

# No statement may grow with the size of the store: PostgreSQL's protocol carries at
# most 65,535 bind parameters per statement and SQLite allows 32,766, so bulk inserts,
# updates and IN lists are cut into pieces well under both.
MAX_PARAMETERS = 10_000
IN_CHUNK = 1_000  # values per IN (…) list


def chunked(items: Iterable[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size`` (the last one shorter)."""
    if size < 1:
        raise ValueError("a chunk holds at least one item")
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def rows_per_statement(columns: int) -> int:
    """How many rows of ``columns`` values one multi-row INSERT may carry."""
    return max(1, MAX_PARAMETERS // max(1, columns))


def insert_many(
    executor: Session | Connection,
    statement: Insert,
    rows: Sequence[Mapping[str, Any]],
    *,
    paged: bool = True,
) -> None:
    """Execute the core INSERT ``statement`` for every row; no statement grows with them.

    ``paged`` (the default): multi-row statements of :func:`rows_per_statement` rows,
    SQLAlchemy's "insertmanyvalues" (one compiled statement sent page by page), which
    it uses for an executemany with RETURNING, hence the RETURNING of the key. Use it
    for a table with statement triggers (the change marker's), which then fire once a
    page. ``paged=False``: one single-row statement per row, which psycopg sends in
    one pipeline; cheaper when no trigger fires per statement (a long statement costs
    the driver time to parse, per parameter).
    """
    if not rows:
        return
    if not paged:
        executor.execute(statement, list(rows))
        return
    page = rows_per_statement(len(rows[0]))
    keys = list(statement.table.primary_key.columns)  # type: ignore[attr-defined]
    paged_statement = statement.returning(*keys).execution_options(insertmanyvalues_page_size=page)
    executor.execute(paged_statement, list(rows)).all()


DEFAULT_POOL_SIZE = 10


def make_engine(
    url: str,
    *,
    connect_args: Mapping[str, Any] | None = None,
    echo: bool = False,
    pool_size: int = DEFAULT_POOL_SIZE,
) -> Engine:
    """An engine for ``url`` (``sqlite:///file.db`` or ``postgresql+psycopg://…``).

    On PostgreSQL the process holds at most ``pool_size`` connections
    (``TLSBOT_DB_POOL_SIZE``; no overflow beyond it, so pool size × processes is
    the most the server will see: keep it within ``max_connections``); a thread
    that finds them all busy waits for one. Connections are checked before use,
    so a PostgreSQL restart costs the next query a reconnect, not an error.

    psycopg's automatic server-side preparation is off (``prepare_threshold``
    ``None``): every statement is planned with its values. A prepared statement
    that PostgreSQL switches to a generic plan turns a chunked ``IN (…)`` of 1,000
    values into a linear search per row (a generic plan's array is not a constant,
    so it is not hashed): the first sync of 100,000 policies spent 38 s in such
    lookups of ``monitor_item`` once the table had grown past 60,000 rows, and 1.4 s
    without preparation (``bench/monitor_sweep.py``; psycopg: "Prepared
    statements", https://www.psycopg.org/psycopg3/docs/advanced/prepare.html).
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInput(f"DATABASE_URL {url!r} is not a database URL") from None
    args: dict[str, Any] = dict(connect_args or {})
    backend = parsed.get_backend_name()
    if backend == "postgres":  # the scheme Heroku-style platforms hand out
        parsed, backend = parsed.set(drivername="postgresql+psycopg"), "postgresql"
    if backend == "sqlite":
        args.setdefault("check_same_thread", False)
        args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        engine = create_engine(parsed, connect_args=args, echo=echo)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        args.setdefault("prepare_threshold", None)
        return create_engine(
            parsed,
            connect_args=args,
            echo=echo,
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=0,
        )
    raise InvalidInput(f"DATABASE_URL names {backend!r}; tlsbot supports sqlite and postgresql")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        _enable_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """``journal_mode=WAL``, waiting out a replica that is creating the same new file.

    Switching a fresh database to WAL takes an exclusive lock and SQLite answers
    "database is locked" at once, without its busy handler, when another
    connection holds one; once the file is in WAL mode the pragma is a no-op.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def new_session(engine: Engine) -> Session:
    """A session whose objects stay readable after commit."""
    return Session(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success, rolls back on any error, and closes."""
    with new_session(engine) as session, transaction(session):
        yield session


@contextmanager
def transaction(session: Session) -> Iterator[None]:
    """One unit of work: commit when the block ends, roll back if it raises."""
    try:
        yield
    except BaseException:
        session.rollback()
        raise
    session.commit()


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """Alembic's configuration, built in code so an installed package can migrate."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except OperationalError as exc:
        raise DatabaseUnavailable(
            f"cannot open the database {describe_url(engine)}: {_first_line(exc)}"
        ) from exc


def describe_url(engine: Engine) -> str:
    """The engine's URL with any password hidden."""
    return engine.url.render_as_string(hide_password=True)


def _first_line(exc: OperationalError) -> str:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def open_checked(url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> Engine:
    """For ``tlsbot serve``: an engine on ``url`` whose schema is current, or a PolicyError.

    The error's ``str()`` is one line saying what to run (``tlsbot db upgrade``).
    """
    engine = make_engine(url, pool_size=pool_size)
    try:
        check_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


@dataclass(frozen=True, slots=True)
class UpgradeResult:
    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def upgrade(engine: Engine, revision: str = "head") -> UpgradeResult:
    """Run the migrations up to ``revision``; returns the revisions before and after."""
    before = current_revision(engine)
    with engine.begin() as connection:
        # Replicas starting together: one migrates, the others wait and find it done.
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        elif connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # DDL and all, in one write transaction
        command.upgrade(alembic_config(connection), revision)
    after = current_revision(engine)
    assert after is not None
    return UpgradeResult(before, after)


def make_revision(engine: Engine, message: str) -> None:
    """Developers: autogenerate a migration from the models against an up-to-date database."""
    with engine.begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True)


def check_schema(engine: Engine) -> None:
    """Raise :class:`SchemaOutdated` unless the database is at this code's head revision."""
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return
    if current is None:
        raise SchemaOutdated("the database has no tlsbot schema yet: run `tlsbot db upgrade`")
    known = {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current not in known:
        raise SchemaOutdated(
            f"the database schema ({current}) is newer than this tlsbot ({head}): "
            "install the newer tlsbot"
        )
    raise SchemaOutdated(
        f"the database schema is out of date ({current}, needs {head}): run `tlsbot db upgrade`"
    )
