"""What changed among policies and routes, and since when: a marker the database keeps.

Every INSERT, UPDATE and DELETE of a ``domain_policy`` or ``inbound_route`` row — made
by tlsbot's services, by a migration or by someone at a ``psql`` prompt — records the
row's kind and id in ``subject_change`` under a number taken from the single
``change_head`` row (triggers installed by migration ``s0001``). The number is bumped
under that row's lock, which the writing transaction holds until it commits, so the
numbers are handed out in commit order: once ``change_head`` reads ``n``, every change
numbered ``n`` or less is committed and visible, and every later one will be numbered
higher. ``subject_change`` keeps one row per subject (its latest change), so it never
grows beyond the tables it watches.

A reader (the monitor's item sync, the socketmap's snapshot) remembers the number it
has applied and asks for what changed after it: :func:`head` is one primary-key read,
:func:`changed_since` one range read of an index, page by page. Idle, nothing grows
with the size of the store.

On PostgreSQL the triggers are per statement (transition tables): a bulk statement
takes one number for all its rows, and a ``TRUNCATE`` (which names no rows) marks
every subject of that table ever recorded as changed. On SQLite they are per row.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator

from sqlalchemy import BigInteger, ColumnElement, Index, tuple_
from sqlmodel import Field, Session, SQLModel, col, select

HEAD_ID = 1
PAGE = 5_000  # changes read per query


class ChangeKind(enum.StrEnum):
    """The watched tables, by the names ``subject_change.subject`` holds."""

    POLICY = "policy"  # domain_policy
    ROUTE = "route"  # inbound_route


WATCHED = {ChangeKind.POLICY: "domain_policy", ChangeKind.ROUTE: "inbound_route"}


class ChangeHead(SQLModel, table=True):
    """The single row holding the number of the newest change (0: none yet)."""

    __tablename__ = "change_head"

    id: int = Field(default=HEAD_ID, primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(default=0, sa_type=BigInteger)


class SubjectChange(SQLModel, table=True):
    """The latest change of one policy or route: its kind, its id, the change's number."""

    __tablename__ = "subject_change"
    __table_args__ = (Index("ix_subject_change_seq", "seq", "subject", "subject_id"),)

    subject: str = Field(primary_key=True, max_length=16)  # ChangeKind
    subject_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(sa_type=BigInteger)


def head(session: Session) -> int:
    """The number of the newest committed change (0 before the first)."""
    seq = session.exec(select(ChangeHead.seq).where(col(ChangeHead.id) == HEAD_ID)).first()
    return int(seq or 0)


def changed_since(
    session: Session,
    *,
    after: int,
    upto: int,
    kind: ChangeKind | None = None,
    page: int = PAGE,
) -> Iterator[list[tuple[ChangeKind, int]]]:
    """The subjects changed after change ``after`` up to ``upto``, in pages of ``page``.

    Keyset pagination over ``(seq, subject, subject_id)``: each page is one indexed
    range read, however many rows one statement changed under a single number.
    """
    key = tuple_(col(SubjectChange.seq), col(SubjectChange.subject), col(SubjectChange.subject_id))
    start: ColumnElement[bool] = col(SubjectChange.seq) > after
    while True:
        query = (
            select(SubjectChange.seq, SubjectChange.subject, SubjectChange.subject_id)
            .where(start, col(SubjectChange.seq) <= upto)
            .order_by(
                col(SubjectChange.seq), col(SubjectChange.subject), col(SubjectChange.subject_id)
            )
            .limit(page)
        )
        if kind is not None:
            query = query.where(col(SubjectChange.subject) == kind.value)
        rows = session.exec(query).all()
        if not rows:
            return
        yield [(ChangeKind(subject), int(subject_id)) for _, subject, subject_id in rows]
        if len(rows) < page:
            return
        last = rows[-1]
        start = key > tuple_(int(last[0]), str(last[1]), int(last[2]))


# --- the triggers (migration s0001) ------------------------------------------------------

_POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION tlsbot_subject_changed() RETURNS trigger AS $$
DECLARE
    next_seq bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM 1 FROM changed_old LIMIT 1;
    ELSIF TG_OP = 'TRUNCATE' THEN
        PERFORM 1 FROM subject_change WHERE subject = TG_ARGV[0] LIMIT 1;
    ELSE
        PERFORM 1 FROM changed_new LIMIT 1;
    END IF;
    IF NOT FOUND THEN
        RETURN NULL;  -- the statement changed no row
    END IF;
    INSERT INTO change_head (id, seq) VALUES (1, 1)
        ON CONFLICT (id) DO UPDATE SET seq = change_head.seq + 1
        RETURNING seq INTO next_seq;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO subject_change (subject, subject_id, seq)
            SELECT TG_ARGV[0], id, next_seq FROM changed_new
            ON CONFLICT (subject, subject_id) DO UPDATE SET seq = EXCLUDED.seq;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO subject_change (subject, subject_id, seq)
            SELECT TG_ARGV[0], id, next_seq FROM changed_old
            ON CONFLICT (subject, subject_id) DO UPDATE SET seq = EXCLUDED.seq;
    ELSIF TG_OP = 'TRUNCATE' THEN  -- no rows to name: every subject ever seen changed
        UPDATE subject_change SET seq = next_seq WHERE subject = TG_ARGV[0];
    ELSE
        INSERT INTO subject_change (subject, subject_id, seq)
            SELECT TG_ARGV[0], id, next_seq FROM changed_new
            UNION SELECT TG_ARGV[0], id, next_seq FROM changed_old
            ON CONFLICT (subject, subject_id) DO UPDATE SET seq = EXCLUDED.seq;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""

_PG_TRANSITIONS = {
    "INSERT": "REFERENCING NEW TABLE AS changed_new",
    "UPDATE": "REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new",
    "DELETE": "REFERENCING OLD TABLE AS changed_old",
    "TRUNCATE": "",  # PostgreSQL only (SQLite has no TRUNCATE)
}

_SQLITE_RECORD = """
    INSERT OR IGNORE INTO change_head (id, seq) VALUES (1, 0);
    UPDATE change_head SET seq = seq + 1 WHERE id = 1;
    INSERT OR REPLACE INTO subject_change (subject, subject_id, seq)
        VALUES ('{kind}', {row}.id, (SELECT seq FROM change_head WHERE id = 1));"""

_SQLITE_OLD_ID = """
    INSERT OR REPLACE INTO subject_change (subject, subject_id, seq)
        SELECT '{kind}', OLD.id, seq FROM change_head WHERE id = 1 AND OLD.id != NEW.id;"""


def _trigger_name(table: str, event: str) -> str:
    return f"{table}_changed_{event.lower()}"


def install_statements(dialect: str) -> list[str]:
    """DDL that makes every change of a watched table record itself (sqlite or postgresql)."""
    statements = [_POSTGRESQL_FUNCTION] if dialect == "postgresql" else []
    for kind, table in WATCHED.items():
        for event, transitions in _PG_TRANSITIONS.items():
            name = _trigger_name(table, event)
            if dialect == "postgresql":
                statements.append(
                    f"CREATE TRIGGER {name} AFTER {event} ON {table} {transitions} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION tlsbot_subject_changed('{kind.value}')"
                )
                continue
            if event == "TRUNCATE":
                continue
            body = _SQLITE_RECORD.format(kind=kind.value, row="OLD" if event == "DELETE" else "NEW")
            if event == "UPDATE":  # an id that changed: its old id is a change too
                body += _SQLITE_OLD_ID.format(kind=kind.value)
            statements.append(f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN{body}\nEND")
    return statements


def remove_statements(dialect: str) -> list[str]:
    """DDL that undoes :func:`install_statements`."""
    statements = []
    for table in WATCHED.values():
        for event in _PG_TRANSITIONS:
            name = _trigger_name(table, event)
            if dialect == "postgresql":
                statements.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            elif event != "TRUNCATE":
                statements.append(f"DROP TRIGGER IF EXISTS {name}")
    if dialect == "postgresql":
        statements.append("DROP FUNCTION IF EXISTS tlsbot_subject_changed()")
    return statements
