"""The append-only, hash-chained audit trail.

Every state change appends one :class:`~bot.policy.models.AuditEvent` in the
same transaction as the change (:func:`append`). Each event stores
``prev_hash``, the hash of the event before it (64 zeros for the first), and
``hash`` = SHA-256 over the canonical serialisation of its own fields and
``prev_hash``: JSON with sorted keys, no spaces, UTF-8, timestamps as ISO 8601
UTC with microseconds. The sequence number is deliberately *not* hashed: the
chain itself fixes the order, so :func:`verify` can tell an edited event
(its hash no longer matches) from a removed or moved one (its ``prev_hash`` no
longer names the event before it).

Appends are serial: each first bumps the single ``audit_head`` row with an
``UPDATE`` (a row lock on PostgreSQL, the write lock on SQLite) and only then
reads the previous hash, so concurrent writers cannot fork the chain. Services
take that lock at the start of their transaction (:func:`lock_chain`), so all
writers lock in the same order and never deadlock. The head
also records the last sequence number and hash, so cutting events off the end
is detected too.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import Row, Text, cast, insert, select, update
from sqlmodel import Session, SQLModel, col
from sqlmodel import select as sm_select

from bot.policy.models import AuditEvent, AuditHead
from bot.policy.types import Actor

GENESIS = "0" * 64
_HEAD_ID = 1


class AuditAction(enum.StrEnum):
    ROUTE_ADDED = "route.added"
    ROUTE_REMOVED = "route.removed"
    POLICY_ADDED = "policy.added"
    POLICY_REMOVED = "policy.removed"
    POLICY_UPDATED = "policy.updated"
    POLICY_DELETED = "policy.deleted"
    VALIDATION_RECORDED = "validation.recorded"
    REQUEST_CREATED = "request.created"
    APPROVAL_RECORDED = "request.approval"
    REQUEST_APPROVED = "request.approved"
    REQUEST_REJECTED = "request.rejected"
    REQUEST_EXPIRED = "request.expired"
    REQUEST_SUPERSEDED = "request.superseded"
    EXPORT_PUBLISHED = "export.published"
    GATEWAY_SYNCED = "gateway.synced"  # an API gateway brought in line (Mimecast)
    HANDOVER_APPLIED = "gateway.applied"  # an admin applied a hand-over (Exchange, Google)
    HANDOVER_REMINDED = "gateway.reminded"


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (datetimes as ISO 8601 UTC, enums as their value)."""
    return json.loads(json.dumps(value, default=_default, ensure_ascii=False))


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def canonical(
    *,
    at: datetime,
    actor_id: str,
    actor_name: str,
    action: str,
    subject: str,
    before: Any,
    after: Any,
    request_id: int | None,
    prev_hash: str,
) -> bytes:
    """The bytes an event's hash is computed over."""
    document = {
        "at": _iso(at),
        "actor_id": actor_id,
        "actor_name": actor_name,
        "action": action,
        "subject": subject,
        "before": before,
        "after": after,
        "request_id": request_id,
        "prev_hash": prev_hash,
    }
    return _CANONICAL.encode(document).encode()


# What ``json.dumps(…, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
# builds on every call, built once: the same bytes, without an encoder per event.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def lock_chain(session: Session) -> None:
    """Take the chain's lock now, for the rest of the caller's transaction.

    Every service that changes state calls this *first*, before it locks any
    other row, so all writers take their locks in one order (chain head, then
    rows) and cannot deadlock on PostgreSQL; on SQLite it takes the write lock
    up front. Appends would take it anyway; taking it early is what orders it.
    """
    head = SQLModel.metadata.tables[AuditHead.__tablename__]
    session.connection().execute(update(head).where(head.c.id == _HEAD_ID).values(seq=head.c.seq))


def append(
    *,
    session: Session,
    actor: Actor,
    action: str,
    subject: str,
    before: Any = None,
    after: Any = None,
    request_id: int | None = None,
    now: datetime,
) -> AuditEvent:
    """Append one event in the caller's transaction (which the caller commits)."""
    at = now.astimezone(UTC)
    before, after = jsonable(before), jsonable(after)
    # Plain statements on the session's connection: no autoflush, no identity map.
    connection = session.connection()
    head = SQLModel.metadata.tables[AuditHead.__tablename__]
    # The UPDATE comes first: it takes the lock that makes appends serial.
    connection.execute(update(head).where(head.c.id == _HEAD_ID).values(seq=head.c.seq + 1))
    seq, prev_hash = connection.execute(
        select(head.c.seq, head.c.hash).where(head.c.id == _HEAD_ID)
    ).one()
    digest = _hash(
        canonical(
            at=at,
            actor_id=actor.id,
            actor_name=actor.name,
            action=str(action),
            subject=subject,
            before=before,
            after=after,
            request_id=request_id,
            prev_hash=prev_hash,
        )
    )
    values = {
        "seq": seq,
        "at": at,
        "actor_id": actor.id,
        "actor_name": actor.name,
        "action": str(action),
        "subject": subject,
        "before": before,
        "after": after,
        "request_id": request_id,
        "prev_hash": prev_hash,
        "hash": digest,
    }
    connection.execute(insert(SQLModel.metadata.tables[AuditEvent.__tablename__]).values(**values))
    connection.execute(update(head).where(head.c.id == _HEAD_ID).values(hash=digest))
    return AuditEvent.model_validate(values)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of :func:`verify`: ``ok`` with ``count`` events, or the first bad one."""

    ok: bool
    count: int
    seq: int | None = None  # the first event found wrong
    problem: str | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"OK: {self.count} audit events, chain intact"
        return f"BROKEN: {self.problem}"


_COLUMNS = (
    col(AuditEvent.seq),
    col(AuditEvent.at),
    col(AuditEvent.actor_id),
    col(AuditEvent.actor_name),
    col(AuditEvent.action),
    col(AuditEvent.subject),
    col(AuditEvent.before),
    col(AuditEvent.after),
    col(AuditEvent.request_id),
    col(AuditEvent.prev_hash),
    col(AuditEvent.hash),
)


STREAM_ROWS = 5000  # rows fetched at a time: memory stays flat however long the trail


# What :func:`verify` reads: the JSON columns as their text, which the walk decodes
# itself (cheaper than the driver's decoding, the same values).
_CHAIN_COLUMNS = (
    *_COLUMNS[:6],
    cast(col(AuditEvent.before), Text),
    cast(col(AuditEvent.after), Text),
    *_COLUMNS[8:],
)
_ChainRow = tuple[int, datetime, str, str, str, str, str | None, str | None, int | None, str, str]


def _rows(session: Session, columns: tuple[Any, ...] = _COLUMNS) -> Iterator[Row[Any]]:
    """Every event in order, streamed (a server-side cursor on PostgreSQL), Core rows."""
    query = select(*columns).order_by(col(AuditEvent.seq))
    connection = session.connection().execution_options(yield_per=STREAM_ROWS)
    yield from connection.execute(query)


def _chain(session: Session) -> Iterator[_ChainRow]:
    rows: Iterator[Any] = _rows(session, _CHAIN_COLUMNS)
    return rows


def verify(*, session: Session) -> VerifyReport:
    """Walk the chain in order; report the first event altered, removed or reordered."""
    prev_hash, expected, count = GENESIS, 1, 0
    for row in _chain(session):
        seq, at, actor_id, actor_name, action, subject, before, after, request_id, prev, digest = (
            row
        )
        if seq != expected:
            return VerifyReport(
                False, count, expected, f"event #{expected} is missing: it was removed"
            )
        if prev != prev_hash:
            return VerifyReport(
                False,
                count,
                seq,
                f"event #{seq} does not follow event #{seq - 1}: "
                "an event was removed or the events were reordered",
            )
        recomputed = _hash(
            canonical(
                at=at,
                actor_id=actor_id,
                actor_name=actor_name,
                action=action,
                subject=subject,
                before=None if before is None else json.loads(before),
                after=None if after is None else json.loads(after),
                request_id=request_id,
                prev_hash=prev,
            )
        )
        if recomputed != digest:
            return VerifyReport(
                False, count, seq, f"event #{seq} was altered: its hash does not match"
            )
        prev_hash, expected, count = digest, expected + 1, count + 1
    head_seq, head_hash = session.execute(
        select(col(AuditHead.seq), col(AuditHead.hash)).where(col(AuditHead.id) == _HEAD_ID)
    ).one()
    if head_seq != count or head_hash != prev_hash:
        return VerifyReport(
            False,
            count,
            count + 1,
            f"the trail ends at event #{count} but {head_seq} were recorded: "
            "events at the end were removed",
        )
    return VerifyReport(True, count)


class ExportFormat(enum.StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


CSV_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "action",
    "subject",
    "request_id",
    "before",
    "after",
    "prev_hash",
    "hash",
)


def _record(row: Row[Any]) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "at": _iso(row.at),
        "actor_id": row.actor_id,
        "actor_name": row.actor_name,
        "action": row.action,
        "subject": row.subject,
        "request_id": row.request_id,
        "before": row.before,
        "after": row.after,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def export(*, session: Session, fmt: ExportFormat, out: TextIO) -> int:
    """Write the whole trail in order to ``out``; returns the number of events."""
    count = 0
    if fmt is ExportFormat.JSONL:
        for row in _rows(session):
            out.write(json.dumps(_record(row), sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
        return count
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in _rows(session):
        record = _record(row)
        for key in ("before", "after"):
            value = record[key]
            record[key] = "" if value is None else json.dumps(value, sort_keys=True)
        writer.writerow(record)
        count += 1
    return count


def events(
    *, session: Session, request_id: int | None = None, limit: int = 100
) -> list[AuditEvent]:
    """The latest events (newest first), optionally only those of one request."""
    query = sm_select(AuditEvent).order_by(col(AuditEvent.seq).desc()).limit(limit)
    if request_id is not None:
        query = query.where(col(AuditEvent.request_id) == request_id)
    return list(session.exec(query))
