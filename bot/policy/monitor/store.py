"""The monitor's database side: which items exist, claiming due ones, recording a check.

Claiming is what makes several replicas check each item once per period:

one statement, ``UPDATE … SET lease_until, lease_owner WHERE id IN (SELECT id …
WHERE due AND not leased … LIMIT n FOR UPDATE SKIP LOCKED) AND not leased RETURNING
id``: PostgreSQL skips rows another replica is claiming right now (SQLite has no row
locks and serialises writers instead), the outer condition makes sure a row is
leased by exactly one claimer even without row locks, and the claimer keeps the
rows its ``RETURNING`` names. The statement is the same size for 10 items or
100,000 (no list of ids travels).

Recording a check (:func:`record_check`) appends the validation to the history,
runs the alert state machine on the stored state, writes the alerts, moves
``next_check_at`` to the item's next slot and releases the lease, in one
transaction, and only if the caller still holds the lease.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, col, select

from bot.policy import changes
from bot.policy.changes import ChangeHead
from bot.policy.db import chunked, insert_many
from bot.policy.evidence.traffic import traffic_for
from bot.policy.models import DomainPolicy, InboundRoute, Validation
from bot.policy.monitor.alerts import Alert, Condition, SubjectKind, Thresholds, Watched, WatchState
from bot.policy.monitor.machine import Outcome, close_all, evaluate
from bot.policy.monitor.models import UNDELIVERED, MonitorAlert, MonitorItem, MonitorSync
from bot.policy.monitor.schedule import next_slot
from bot.policy.types import SYSTEM, PolicyLevel, PolicyMode, RecordStatus
from bot.probe.model import TargetResult, Verdict
from bot.probe.partner import PartnerTls

MONITOR_ACTOR_NAME = "tlsbot monitor"


@dataclass(frozen=True, slots=True)
class Claimed:
    item_id: int
    watched: Watched


def watched_policy(p: DomainPolicy) -> Watched:
    assert p.id is not None
    return _watched_policy(
        p.id, p.domain, p.level, p.mode, p.mx_hosts, p.relaxed_until, p.created_at, p.partner
    )


def _watched_policy(
    policy_id: int,
    domain: str,
    level: str,
    mode: str,
    mx_hosts: list[str] | None,
    relaxed_until: datetime | None,
    created_at: datetime | None,
    partner: dict[str, Any] | None = None,
) -> Watched:
    return Watched(
        kind=SubjectKind.POLICY,
        id=str(policy_id),
        name=domain,
        level=Verdict.STRICT if level == PolicyLevel.STRICT else Verdict.RELAXED,
        observe=mode == PolicyMode.OBSERVE,
        match=tuple(mx_hosts or ()),
        relaxed_until=relaxed_until,
        created_at=created_at,
        partner=PartnerTls.from_dict(partner),
    )


_POLICY_FIELDS = (
    col(DomainPolicy.id),
    col(DomainPolicy.domain),
    col(DomainPolicy.level),
    col(DomainPolicy.mode),
    col(DomainPolicy.mx_hosts),
    col(DomainPolicy.relaxed_until),
    col(DomainPolicy.created_at),
    col(DomainPolicy.partner),
)


def watched_route(r: InboundRoute) -> Watched:
    assert r.id is not None
    level = Verdict.RELAXED if r.last_verdict == Verdict.RELAXED else Verdict.STRICT
    return Watched(SubjectKind.ROUTE, str(r.id), r.label, level, created_at=r.created_at)


def load_watched(session: Session, kind: SubjectKind, subject_id: int) -> Watched | None:
    if kind is SubjectKind.POLICY:
        p = session.get(DomainPolicy, subject_id)
        return watched_policy(p) if p is not None and p.status == RecordStatus.ACTIVE else None
    r = session.get(InboundRoute, subject_id)
    return watched_route(r) if r is not None and r.status == RecordStatus.ACTIVE else None


def load_subjects(
    session: Session, keys: Iterable[tuple[SubjectKind, int]]
) -> dict[tuple[SubjectKind, int], Watched]:
    """The active policies and routes among ``keys``, read by primary key in chunks.

    The status is checked here, not in the query, so that the plan is the key's
    index whatever the table's statistics say (a store loaded in bulk a moment ago
    has none yet).
    """
    wanted: dict[SubjectKind, list[int]] = {}
    for kind, subject_id in keys:
        wanted.setdefault(kind, []).append(subject_id)
    found: dict[tuple[SubjectKind, int], Watched] = {}
    for chunk in chunked(sorted(set(wanted.get(SubjectKind.POLICY, ())))):
        rows = session.execute(
            sa_select(col(DomainPolicy.status), *_POLICY_FIELDS).where(
                col(DomainPolicy.id).in_(chunk)
            )
        )
        for status, *fields in rows:
            if status == RecordStatus.ACTIVE:
                found[(SubjectKind.POLICY, int(fields[0]))] = _watched_policy(*fields)
    for chunk in chunked(sorted(set(wanted.get(SubjectKind.ROUTE, ())))):
        for r in session.exec(select(InboundRoute).where(col(InboundRoute.id).in_(chunk))):
            if r.status == RecordStatus.ACTIVE:
                found[(SubjectKind.ROUTE, int(r.id or 0))] = watched_route(r)
    return found


def sync_items(*, session: Session, now: datetime, period: timedelta) -> list[Alert]:
    """Follow the policies and routes changed since the last sync: add an item for each
    new subject, drop those no longer active (closing their alerts), rename the rest.

    What changed comes from the store's change marker (:mod:`bot.policy.changes`), so
    when nothing did this is one read of two single-row tables, and otherwise it costs
    what changed, in pages, never a statement that grows with the store. Safe with
    several replicas at once (``INSERT … ON CONFLICT DO NOTHING``; an item is closed by
    whoever deleted it). Returns the alerts closed, whose follow-ups the caller delivers.
    """
    mark, newest = session.execute(
        select(
            select(MonitorSync.seq).where(col(MonitorSync.id) == 1).scalar_subquery(),
            select(ChangeHead.seq).where(col(ChangeHead.id) == changes.HEAD_ID).scalar_subquery(),
        )
    ).one()
    mark, newest = int(mark or 0), int(newest or 0)
    if newest <= mark:
        session.rollback()
        return []
    closed: list[Alert] = []
    for page in changes.changed_since(session, after=mark, upto=newest):
        closed.extend(_follow(session, page, now, period))
        session.commit()
    _set_mark(session, newest)
    session.commit()
    return closed


def _follow(
    session: Session, keys: list[tuple[changes.ChangeKind, int]], now: datetime, period: timedelta
) -> list[Alert]:
    """Bring the items of these subjects in line with them."""
    wanted = [(SubjectKind(kind.value), subject_id) for kind, subject_id in keys]
    subjects = load_subjects(session, wanted)
    existing = _items_of(session, wanted)
    rows = [
        {
            "subject": kind.value,
            "subject_id": subject_id,
            "name": w.name,
            "next_check_at": next_slot(w.key, now, period),
            "unreachable_streak": 0,
            "checks": 0,
            "created_at": now,
        }
        for (kind, subject_id), w in subjects.items()
        if (kind, subject_id) not in existing
    ]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = SQLModel.metadata.tables[MonitorItem.__tablename__]
    statement = insert(table).on_conflict_do_nothing(index_elements=["subject", "subject_id"])
    insert_many(session, statement, rows, paged=False)  # no trigger on monitor_item
    for key, (item_id, name) in existing.items():
        if key in subjects and subjects[key].name != name:
            session.execute(
                update(MonitorItem)
                .where(col(MonitorItem.id) == item_id)
                .values(name=subjects[key].name)
            )
    gone = [item_id for key, (item_id, _) in existing.items() if key not in subjects]
    return _drop_items(session, gone, now)


def _items_of(
    session: Session, keys: list[tuple[SubjectKind, int]]
) -> dict[tuple[SubjectKind, int], tuple[int, str]]:
    """The existing items of these subjects: key → (item id, name)."""
    by_kind: dict[SubjectKind, set[int]] = {}
    for kind, subject_id in keys:
        by_kind.setdefault(kind, set()).add(subject_id)
    found = {}
    for kind, ids in by_kind.items():
        for chunk in chunked(sorted(ids)):
            rows = session.execute(
                select(col(MonitorItem.id), col(MonitorItem.subject_id), col(MonitorItem.name))
                .where(col(MonitorItem.subject) == kind.value)
                .where(col(MonitorItem.subject_id).in_(chunk))
            )
            for item_id, subject_id, name in rows:
                found[(kind, int(subject_id))] = (int(item_id), str(name))
    return found


def _drop_items(session: Session, item_ids: list[int], now: datetime) -> list[Alert]:
    """Delete these items and close their open alerts (only those this session deleted)."""
    closed: list[Alert] = []
    for chunk in chunked(item_ids):
        deleted = session.execute(
            delete(MonitorItem)
            .where(col(MonitorItem.id).in_(chunk))
            .returning(col(MonitorItem.subject), col(MonitorItem.subject_id), col(MonitorItem.name))
        ).all()
        by_kind: dict[str, dict[int, str]] = {}
        for subject, subject_id, name in deleted:
            by_kind.setdefault(str(subject), {})[int(subject_id)] = str(name)
        for kind, names in by_kind.items():
            alerts = session.exec(
                select(MonitorAlert).where(
                    col(MonitorAlert.subject) == kind,
                    col(MonitorAlert.subject_id).in_(sorted(names)),
                    col(MonitorAlert.resolved_at).is_(None),
                )
            ).all()
            per_subject: dict[int, dict[Condition, Alert]] = {}
            for row in alerts:
                per_subject.setdefault(row.subject_id, {})[Condition(row.condition)] = alert_of(row)
            for subject_id, open_alerts in per_subject.items():
                reason = f"{names[subject_id]} was removed; it is no longer monitored."
                outcome = close_all(WatchState(open=open_alerts), now, reason)
                _write_alerts(session, outcome, validation_id=None)
                closed.extend(outcome.resolved)
    return closed


def _set_mark(session: Session, seq: int) -> None:
    """Move the sync mark forward to ``seq`` (never back: replicas may race)."""
    moved = session.execute(
        update(MonitorSync)
        .where(col(MonitorSync.id) == 1)
        .values(
            seq=func.greatest(col(MonitorSync.seq), seq)
            if session.get_bind().dialect.name == "postgresql"
            else func.max(col(MonitorSync.seq), seq)
        )
    )
    if moved.rowcount == 0:  # type: ignore[attr-defined]
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(
            insert(MonitorSync).values(id=1, seq=seq).on_conflict_do_nothing(index_elements=["id"])
        )


def claim(
    *,
    session: Session,
    now: datetime,
    owner: str,
    lease: timedelta,
    limit: int,
    everything: bool = False,
) -> list[Claimed]:
    """Lease up to ``limit`` due items for ``owner`` (see the module docstring).

    ``everything`` (``--all``): every item is due, whatever its ``next_check_at``,
    except those this sweep (``owner``) already claimed: each claim stamps the item
    with ``swept_by``, so the sweep needs no list of what it took.
    """
    free = or_(col(MonitorItem.lease_until).is_(None), col(MonitorItem.lease_until) <= now)
    due: ColumnElement[bool]
    if everything:
        due = or_(col(MonitorItem.swept_by).is_(None), col(MonitorItem.swept_by) != owner)
    else:
        due = col(MonitorItem.next_check_at) <= now
    candidates = (
        select(col(MonitorItem.id))
        .where(and_(due, free))
        .order_by(col(MonitorItem.next_check_at), col(MonitorItem.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    # One statement: the rows leased are the ones this owner's UPDATE changed.
    leased = session.execute(
        update(MonitorItem)
        .where(col(MonitorItem.id).in_(candidates.scalar_subquery()), free)
        .values(lease_until=now + lease, lease_owner=owner, swept_by=owner)
        .returning(col(MonitorItem.id), col(MonitorItem.subject), col(MonitorItem.subject_id))
    ).all()
    subjects = load_subjects(session, [(SubjectKind(k), sid) for _, k, sid in leased])
    claimed = [
        Claimed(item_id, subjects[(SubjectKind(kind), subject_id)])
        for item_id, kind, subject_id in sorted(leased)
        if (SubjectKind(kind), subject_id) in subjects
    ]
    session.commit()
    return claimed


def release(*, session: Session, item_id: int, owner: str, retry_at: datetime) -> None:
    """Give a lease back without recording (the check crashed): nobody claims it before
    ``retry_at``, so a probe that keeps crashing cannot spin a sweep."""
    session.execute(
        update(MonitorItem)
        .where(col(MonitorItem.id) == item_id, col(MonitorItem.lease_owner) == owner)
        .values(lease_until=retry_at, lease_owner=None)
    )
    session.commit()


def open_alerts(session: Session, kind: SubjectKind, subject_id: int) -> list[MonitorAlert]:
    return list(
        session.exec(
            select(MonitorAlert).where(
                col(MonitorAlert.subject) == kind.value,
                col(MonitorAlert.subject_id) == subject_id,
                col(MonitorAlert.resolved_at).is_(None),
            )
        ).all()
    )


def load_state(session: Session, item: MonitorItem) -> WatchState:
    rows = open_alerts(session, SubjectKind(item.subject), item.subject_id)
    alerts = {Condition(r.condition): alert_of(r) for r in rows}
    return WatchState(
        open=alerts,
        unreachable_streak=item.unreachable_streak,
        clean_since=item.clean_since,
        last_verdict=Verdict(item.last_verdict) if item.last_verdict else None,
    )


def alert_of(row: MonitorAlert) -> Alert:
    """The stored alert, with its message reference and (when set) its resolution."""
    alert = replace(Alert.from_dict(row.payload), message_ref=row.message_ref)
    if row.resolved_at is not None:
        alert = alert.resolve(row.resolved_at, row.resolution or "")
    return alert


def record_validation(*, session: Session, result: TargetResult, now: datetime) -> Validation:
    """Append one probe result to the validation history (actor: the monitor)."""
    validation = Validation(
        target=result.target[:1000],
        kind=result.kind.value,
        domain=result.domain,
        verdict=result.verdict.value,
        mx_hosts=list(result.validated_hosts),
        result=result.to_dict(),
        actor_id=SYSTEM.id,
        actor_name=MONITOR_ACTOR_NAME,
        created_at=now,
    )
    session.add(validation)
    session.flush()
    return validation


def record_check(
    *,
    session: Session,
    claimed: Claimed,
    owner: str,
    result: TargetResult,
    now: datetime,
    period: timedelta,
    thresholds: Thresholds,
) -> Outcome | None:
    """Store one check and its alerts; ``None`` if the lease was lost meanwhile.

    On PostgreSQL the transaction commits without waiting for its WAL to reach the
    disk (``synchronous_commit`` off, for this transaction only): a check is one
    commit, and the flush would be most of its cost. What a server crash can lose is
    the last fraction of a second of checks; their items are still due and leased,
    so after the lease expires they are simply checked again.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    item = session.exec(
        select(MonitorItem).where(col(MonitorItem.id) == claimed.item_id).with_for_update()
    ).one_or_none()
    if item is None or item.lease_owner != owner:
        session.rollback()
        return None
    validation = record_validation(session=session, result=result, now=now)
    w = claimed.watched
    traffic = None
    if w.kind is SubjectKind.POLICY and w.observe:  # real mail must be clean too
        traffic = traffic_for(session=session, domain=w.name, now=now, days=thresholds.observe_days)
    outcome = evaluate(w, load_state(session, item), result, now, thresholds, traffic=traffic)
    _write_alerts(session, outcome, validation_id=validation.id)
    item.next_check_at = next_slot(claimed.watched.key, now, period)
    item.lease_until = None
    item.lease_owner = None
    item.last_checked_at = now
    item.last_verdict = result.verdict.value
    item.last_validation_id = validation.id
    item.unreachable_streak = outcome.state.unreachable_streak
    item.clean_since = outcome.state.clean_since
    item.checks += 1
    session.add(item)
    session.commit()
    return outcome


def _write_alerts(session: Session, outcome: Outcome, *, validation_id: int | None) -> None:
    for alert in outcome.superseded:
        _close(session, alert, notify=False)
    for alert in outcome.resolved:
        _close(session, alert, notify=True)
    session.flush()
    for alert in outcome.raised:
        session.add(
            MonitorAlert(
                id=alert.id,
                subject=alert.subject.value,
                subject_id=int(alert.subject_id),
                name=alert.subject_name,
                condition=alert.condition.value,
                fingerprint=alert.fingerprint[:2000],
                severity=alert.severity.value,
                payload=alert.to_dict(),
                validation_id=validation_id,
                raised_at=alert.raised_at or outcome_time(outcome),
            )
        )
    session.flush()


def outcome_time(outcome: Outcome) -> datetime:
    for alert in (*outcome.resolved, *outcome.superseded):
        if alert.resolved_at is not None:
            return alert.resolved_at
    raise ValueError("an alert without a time")


def _close(session: Session, alert: Alert, *, notify: bool) -> None:
    session.execute(
        update(MonitorAlert)
        .where(col(MonitorAlert.id) == alert.id, col(MonitorAlert.resolved_at).is_(None))
        .values(
            resolved_at=alert.resolved_at,
            resolution=(alert.resolution or "")[:1000],
            notify_resolution=notify,
        )
    )


def set_change_request(*, session: Session, alert_id: str, request_id: int) -> None:
    row = session.get(MonitorAlert, alert_id)
    if row is None:
        return
    row.change_request_id = request_id
    row.payload = {**row.payload, "change_request_id": str(request_id)}
    session.add(row)


MAX_ATTEMPTS = 5


def next_undelivered(session: Session) -> MonitorAlert | None:
    """One alert whose message or follow-up is not delivered yet, locked (others skip it)."""
    return session.exec(
        select(MonitorAlert)
        .where(UNDELIVERED)  # the predicate of its partial index, word for word
        .where(col(MonitorAlert.attempts) < MAX_ATTEMPTS)
        .order_by(col(MonitorAlert.attempts), col(MonitorAlert.raised_at))
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()


def delivery_failed(*, session: Session, alert_id: str, error: str) -> int:
    """Count a failed delivery; returns the attempts so far."""
    row = session.get(MonitorAlert, alert_id)
    if row is None:
        return 0
    row.attempts += 1
    row.last_error = error[:500]
    session.add(row)
    session.commit()
    return row.attempts
