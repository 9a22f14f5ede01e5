"""The audit trail: hash chain, tampering detected, export, serial appends."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from bot.policy import audit
from bot.policy.audit import GENESIS, AuditAction, ExportFormat, export, verify
from bot.policy.db import new_session, transaction
from bot.policy.models import AuditEvent
from bot.policy.types import Actor
from tests.policy.factories import ANN, BO
from tests.support.db import TestDatabase, append_only_suspended

pytestmark = pytest.mark.db

T = datetime(2026, 11, 29, 10, 0, 0, 123456, tzinfo=UTC)


def _events(session: Session, n: int) -> None:
    with transaction(session):
        for i in range(n):
            audit.append(
                session=session,
                actor=ANN if i % 2 else BO,
                action=AuditAction.POLICY_ADDED,
                subject=f"d{i}.example",
                before=None,
                after={"level": "strict", "mx_hosts": [f"mx.d{i}.example"], "n": i, "é": "ü"},
                request_id=i,
                now=T,
            )


def test_events_are_chained_from_genesis(session: Session) -> None:
    _events(session, 3)
    rows = session.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == GENESIS
    assert rows[1].prev_hash == rows[0].hash
    assert rows[2].prev_hash == rows[1].hash
    assert rows[0].at == T
    report = verify(session=session)
    assert (report.ok, report.count) == (True, 3)
    assert str(report) == "OK: 3 audit events, chain intact"


def test_empty_trail_verifies(session: Session) -> None:
    assert str(verify(session=session)) == "OK: 0 audit events, chain intact"


SWAP_2_AND_3 = (
    "UPDATE audit_event SET seq = -2 WHERE seq = 2",
    "UPDATE audit_event SET seq = 2 WHERE seq = 3",
    "UPDATE audit_event SET seq = 3 WHERE seq = -2",
)
DELETE_2_AND_RENUMBER = (
    "DELETE FROM audit_event WHERE seq = 2",
    "UPDATE audit_event SET seq = 2 WHERE seq = 3",
    "UPDATE audit_event SET seq = 3 WHERE seq = 4",
    "UPDATE audit_event SET seq = 4 WHERE seq = 5",
)


@pytest.mark.parametrize(
    ("statements", "seq", "problem"),
    [
        pytest.param(
            ("UPDATE audit_event SET subject = 'evil.example' WHERE seq = 3",),
            3,
            "event #3 was altered",
            id="edit-a-field",
        ),
        pytest.param(
            ("UPDATE audit_event SET actor_name = 'Mallory' WHERE seq = 1",),
            1,
            "event #1 was altered",
            id="edit-the-first-event",
        ),
        pytest.param(
            ("""UPDATE audit_event SET after = '{"level": "relaxed"}' WHERE seq = 4""",),
            4,
            "event #4 was altered",
            id="edit-the-json-snapshot",
        ),
        pytest.param(
            ("DELETE FROM audit_event WHERE seq = 2",), 2, "event #2 is missing", id="delete-a-row"
        ),
        pytest.param(
            ("DELETE FROM audit_event WHERE seq = 5",),
            5,
            "events at the end were removed",
            id="delete-the-last-row",
        ),
        pytest.param(SWAP_2_AND_3, 2, "event #2 does not follow event #1", id="swap-two-rows"),
        pytest.param(
            DELETE_2_AND_RENUMBER, 2, "event #2 does not follow event #1", id="delete-and-renumber"
        ),
    ],
)
def test_tampering_is_reported_at_the_first_bad_event(
    session: Session, statements: tuple[str, ...], seq: int, problem: str
) -> None:
    _events(session, 5)
    with append_only_suspended(session):  # someone with the right to drop triggers
        for statement in statements:
            session.execute(text(statement))
    session.commit()
    report = verify(session=session)
    assert not report.ok
    assert report.seq == seq
    assert problem in str(report)
    assert str(report).startswith("BROKEN: ")


def test_rehashing_an_edited_event_still_breaks_the_link_to_the_next(session: Session) -> None:
    _events(session, 3)
    row = session.get(AuditEvent, 2)
    row.subject = "evil.example"
    row.hash = audit._hash(
        audit.canonical(
            at=row.at,
            actor_id=row.actor_id,
            actor_name=row.actor_name,
            action=row.action,
            subject=row.subject,
            before=row.before,
            after=row.after,
            request_id=row.request_id,
            prev_hash=row.prev_hash,
        )
    )
    with append_only_suspended(session):  # someone with the right to drop triggers
        session.add(row)
        session.flush()
    session.commit()
    report = verify(session=session)
    assert (report.ok, report.seq) == (False, 3)


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param("UPDATE audit_event SET subject = 'evil.example' WHERE seq = 2", id="update"),
        pytest.param("DELETE FROM audit_event WHERE seq = 2", id="delete"),
        pytest.param("DELETE FROM audit_event", id="delete-all"),
    ],
)
def test_the_database_refuses_to_change_or_delete_an_event(
    session: Session, statement: str
) -> None:
    # Given a trail, when any client of the database tries to rewrite it, the database refuses
    _events(session, 3)
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text(statement))
    session.rollback()
    # and the trail is whole
    assert str(verify(session=session)) == "OK: 3 audit events, chain intact"


def test_truncate_is_refused_on_postgresql(database: TestDatabase, session: Session) -> None:
    if not database.is_postgresql:
        pytest.skip("TRUNCATE is PostgreSQL's; SQLite has none")
    _events(session, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("TRUNCATE audit_event"))
    session.rollback()
    assert verify(session=session).count == 2


def test_export_jsonl_has_every_event_in_order(session: Session) -> None:
    _events(session, 3)
    out = io.StringIO()
    assert export(session=session, fmt=ExportFormat.JSONL, out=out) == 3
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["seq"] for r in records] == [1, 2, 3]
    first = records[0]
    assert first["at"] == "2026-11-29T10:00:00.123456Z"
    assert (first["actor_id"], first["actor_name"], first["action"]) == (
        BO.id,
        BO.name,
        "policy.added",
    )
    assert first["after"]["é"] == "ü"
    assert first["prev_hash"] == GENESIS
    assert records[1]["prev_hash"] == first["hash"]


def test_export_csv_has_a_header_and_json_cells(session: Session) -> None:
    _events(session, 2)
    out = io.StringIO()
    assert export(session=session, fmt=ExportFormat.CSV, out=out) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == list(audit.CSV_FIELDS)
    assert rows[1]["subject"] == "d1.example"
    assert rows[0]["before"] == ""
    assert json.loads(rows[1]["after"])["n"] == 1


def test_concurrent_appends_do_not_fork_the_chain(database: TestDatabase, engine: Engine) -> None:
    threads, per_thread = 6, 15
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            with new_session(engine) as session:
                barrier.wait(timeout=10)
                for i in range(per_thread):
                    with transaction(session):
                        audit.append(
                            session=session,
                            actor=Actor(f"U{k}", f"writer {k}"),
                            action=AuditAction.EXPORT_PUBLISHED,
                            subject=f"export {k}/{i}",
                            now=T,
                        )
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert errors == []
    with new_session(engine) as session:
        report = verify(session=session)
    assert (report.ok, report.count) == (True, threads * per_thread)
