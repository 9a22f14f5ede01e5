"""The monitor's database side: which items exist, claiming due ones, recording a check.

Claiming is what makes several replicas check each item once per period:

1. ``SELECT id … WHERE due AND not leased … FOR UPDATE SKIP LOCKED LIMIT n``
   (PostgreSQL skips rows another replica is claiming right now; SQLite has no
   row locks and serialises writers instead);
2. in the same transaction a *conditional* ``UPDATE … SET lease_until, lease_owner
   WHERE id IN (…) AND not leased`` — so even without row locks a row is leased
   by exactly one claimer — and the claimer keeps the rows its owner tag got.

Recording a check (:func:`record_check`) appends the validation to the history,
runs the alert state machine on the stored state, writes the alerts, moves
``next_check_at`` to the item's next slot and releases the lease, in one
transaction, and only if the caller still holds the lease.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, or_, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from bot.policy.evidence.traffic import traffic_for
from bot.policy.models import DomainPolicy, InboundRoute, Validation
from bot.policy.monitor.alerts import Alert, Condition, SubjectKind, Thresholds, Watched, WatchState
from bot.policy.monitor.machine import Outcome, close_all, evaluate
from bot.policy.monitor.models import MonitorAlert, MonitorItem
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
    return Watched(
        kind=SubjectKind.POLICY,
        id=str(p.id),
        name=p.domain,
        level=Verdict.STRICT if p.level == PolicyLevel.STRICT else Verdict.RELAXED,
        observe=p.mode == PolicyMode.OBSERVE,
        match=tuple(p.mx_hosts or ()),
        relaxed_until=p.relaxed_until,
        created_at=p.created_at,
        partner=PartnerTls.from_dict(p.partner),
    )


def watched_route(r: InboundRoute) -> Watched:
    assert r.id is not None
    level = Verdict.RELAXED if r.last_verdict == Verdict.RELAXED else Verdict.STRICT
    return Watched(SubjectKind.ROUTE, str(r.id), r.label, level, created_at=r.created_at)


def active_subjects(session: Session) -> list[Watched]:
    """Every active policy (enforced or observed) and inbound route."""
    policies = session.exec(
        select(DomainPolicy).where(col(DomainPolicy.status) == RecordStatus.ACTIVE)
    ).all()
    routes = session.exec(
        select(InboundRoute).where(col(InboundRoute.status) == RecordStatus.ACTIVE)
    ).all()
    return [watched_policy(p) for p in policies] + [watched_route(r) for r in routes]


def load_watched(session: Session, kind: SubjectKind, subject_id: int) -> Watched | None:
    if kind is SubjectKind.POLICY:
        p = session.get(DomainPolicy, subject_id)
        return watched_policy(p) if p is not None and p.status == RecordStatus.ACTIVE else None
    r = session.get(InboundRoute, subject_id)
    return watched_route(r) if r is not None and r.status == RecordStatus.ACTIVE else None


def sync_items(*, session: Session, now: datetime, period: timedelta) -> list[Alert]:
    """Add an item for every new subject, drop those no longer active (closing their alerts).

    Safe with several replicas at once (``INSERT … ON CONFLICT DO NOTHING``).
    Returns the alerts closed, whose follow-ups the caller delivers.
    """
    subjects = {(w.kind.value, int(w.id)): w for w in active_subjects(session)}
    existing = {(i.subject, i.subject_id): i for i in session.exec(select(MonitorItem)).all()}
    rows = [
        {
            "subject": kind,
            "subject_id": sid,
            "name": w.name,
            "next_check_at": next_slot(w.key, now, period),
            "unreachable_streak": 0,
            "checks": 0,
            "created_at": now,
        }
        for (kind, sid), w in subjects.items()
        if (kind, sid) not in existing
    ]
    if rows:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = insert(MonitorItem).values(rows)
        session.execute(stmt.on_conflict_do_nothing(index_elements=["subject", "subject_id"]))
    closed: list[Alert] = []
    for key, item in existing.items():
        if key in subjects:
            if item.name != subjects[key].name:
                item.name = subjects[key].name
                session.add(item)
            continue
        state = load_state(session, item)
        reason = f"{item.name} was removed; it is no longer monitored."
        outcome = close_all(state, now, reason)
        _write_alerts(session, outcome, validation_id=None)
        closed.extend(outcome.resolved)
        session.execute(delete(MonitorItem).where(col(MonitorItem.id) == item.id))
    session.commit()
    return closed


def claim(
    *,
    session: Session,
    now: datetime,
    owner: str,
    lease: timedelta,
    limit: int,
    everything: bool = False,
    exclude: Collection[int] = (),
) -> list[Claimed]:
    """Lease up to ``limit`` due items for ``owner`` (see the module docstring).

    ``everything`` (``--all``): every item is due, whatever its ``next_check_at``,
    except those in ``exclude`` (the ones this sweep already took).
    """
    free = or_(col(MonitorItem.lease_until).is_(None), col(MonitorItem.lease_until) <= now)
    due: ColumnElement[bool]
    if everything:
        due = col(MonitorItem.id).not_in(list(exclude)) if exclude else true()
    else:
        due = col(MonitorItem.next_check_at) <= now
    ids = session.exec(
        select(MonitorItem.id)
        .where(and_(due, free))
        .order_by(col(MonitorItem.next_check_at), col(MonitorItem.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not ids:
        session.rollback()
        return []
    until = now + lease
    session.execute(
        update(MonitorItem)
        .where(and_(col(MonitorItem.id).in_(ids), free))
        .values(lease_until=until, lease_owner=owner)
    )
    mine = session.exec(
        select(MonitorItem).where(
            col(MonitorItem.id).in_(ids), col(MonitorItem.lease_owner) == owner
        )
    ).all()
    claimed = []
    for item in mine:
        assert item.id is not None
        watched = load_watched(session, SubjectKind(item.subject), item.subject_id)
        if watched is not None:
            claimed.append(Claimed(item.id, watched))
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
    """Store one check and its alerts; ``None`` if the lease was lost meanwhile."""
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
        .where(
            or_(
                col(MonitorAlert.sent_at).is_(None),
                and_(
                    col(MonitorAlert.resolved_at).is_not(None),
                    col(MonitorAlert.notify_resolution),
                    col(MonitorAlert.resolve_sent_at).is_(None),
                ),
            )
        )
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
