"""Deciding change requests: approve, reject, expire — each exactly once.

Every decision starts with one conditional update of the request row
(``UPDATE change_request SET lock = lock + 1 WHERE id = :id AND state = 'pending'``):
on PostgreSQL it takes the row lock, on SQLite the database write lock, so a
double click, a replayed request or two approvers at once are serialised, and
the loser finds the request no longer pending (:class:`InvalidState`). Reads
that follow see what the winner committed.

Approval rules: the approver is not the requester and ``is_approver(user_id)``
says yes (injected, so Slack user groups can plug in); the request needs
``required_approvals`` distinct approvers (fixed when it was proposed). The
approval that completes the count applies the change in the same transaction —
or, if what it would change changed meanwhile, marks the request *superseded*
naming the item. A request past its expiry becomes *expired* instead.

Each function commits its own transaction and returns a :class:`Decision`; on an
error nothing is written. Every decision also writes its notice (who must be told)
in that same transaction (:mod:`bot.policy.notices`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.policy import audit, notices
from bot.policy.apply import Conflict, apply_item, first_conflict
from bot.policy.audit import AuditAction
from bot.policy.db import transaction
from bot.policy.errors import InvalidInput, InvalidState, NotAllowed
from bot.policy.models import Approval, ChangeRequest
from bot.policy.notices import NoticeTopic
from bot.policy.queries import get_request
from bot.policy.types import SYSTEM, Actor, RequestKind, RequestState

IsApprover = Callable[[str], bool]
MAX_REASON = 1000


class Outcome(enum.StrEnum):
    APPLIED = "applied"  # approved and applied
    WAITING = "waiting"  # approval recorded, more approvers needed
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    request: ChangeRequest
    approvals: int
    message: str  # one sentence for the people in the channel


def describe(request: ChangeRequest) -> str:
    """One sentence saying where a request stands."""
    rid = f"Change request #{request.id}"
    by = f" by {request.decided_by_name}" if request.decided_by_name else ""
    if request.state == RequestState.PENDING:
        return f"{rid} is waiting for approval."
    if request.state == RequestState.APPROVED:
        return f"{rid} was already approved{by}."
    if request.state == RequestState.REJECTED:
        return f"{rid} was rejected{by}: {request.reason}."
    if request.state == RequestState.EXPIRED:
        return f"{rid} expired without enough approvals."
    if request.state == RequestState.SUPERSEDED:
        return f"{rid} was superseded: {request.reason}."
    return f"{rid} is {request.state}."


def _lock_pending(session: Session, request: ChangeRequest) -> None:
    """Take the request for this transaction, or raise if it is no longer pending."""
    done = session.execute(
        update(ChangeRequest)
        .where(col(ChangeRequest.id) == request.id, col(ChangeRequest.state) == "pending")
        .values(lock=col(ChangeRequest.lock) + 1)
    )
    session.refresh(request)
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidState(describe(request))


def _close(
    session: Session,
    request: ChangeRequest,
    state: RequestState,
    actor: Actor,
    now: datetime,
    reason: str | None,
    action: AuditAction,
) -> None:
    request.state = state
    request.reason = reason
    request.decided_at = now
    request.decided_by_id = actor.id
    request.decided_by_name = actor.name
    session.add(request)
    session.flush()
    audit.append(
        session=session,
        actor=actor,
        action=action,
        subject=f"request #{request.id}",
        before={"state": RequestState.PENDING},
        after={"state": state, "reason": reason},
        request_id=request.id,
        now=now,
    )
    assert request.id is not None
    notices.enqueue(session=session, topic=NoticeTopic.DECIDED, request_id=request.id, now=now)


def _expire_locked(session: Session, request: ChangeRequest, now: datetime) -> Decision:
    reason = f"no decision within its time limit (expired {audit.jsonable(request.expires_at)})"
    _close(session, request, RequestState.EXPIRED, SYSTEM, now, reason, AuditAction.REQUEST_EXPIRED)
    return Decision(Outcome.EXPIRED, request, _count(session, request), describe(request))


def _count(session: Session, request: ChangeRequest) -> int:
    query = select(func.count()).where(col(Approval.request_id) == request.id)
    return session.exec(query).one()


def approve(
    *,
    session: Session,
    request_id: int,
    approver: Actor,
    is_approver: IsApprover,
    now: datetime,
) -> Decision:
    """Record ``approver``'s approval; the last one needed applies the change."""
    try:
        with transaction(session):
            return _approve(session, request_id, approver, is_approver, now)
    except IntegrityError:
        # A unique index refused a write: the same thing happened at the same time.
        raise InvalidState(
            f"Change request #{request_id} changed at the same moment; look at it again."
        ) from None


def _approve(
    session: Session, request_id: int, approver: Actor, is_approver: IsApprover, now: datetime
) -> Decision:
    request = get_request(session=session, request_id=request_id)
    if approver.id == request.requester_id:
        raise NotAllowed(f"You cannot approve your own change request #{request_id}.")
    if not is_approver(approver.id):
        raise NotAllowed(f"Only approvers can approve change request #{request_id}.")
    audit.lock_chain(session)
    _lock_pending(session, request)
    if request.expires_at <= now:
        return _expire_locked(session, request, now)
    already = session.exec(
        select(Approval).where(
            col(Approval.request_id) == request_id, col(Approval.approver_id) == approver.id
        )
    ).first()
    if already is not None:
        raise InvalidState(f"You have already approved change request #{request_id}.")
    session.add(
        Approval(
            request_id=request_id,
            approver_id=approver.id,
            approver_name=approver.name,
            created_at=now,
        )
    )
    session.flush()
    count = _count(session, request)
    if count < request.required_approvals:
        audit.append(
            session=session,
            actor=approver,
            action=AuditAction.APPROVAL_RECORDED,
            subject=f"request #{request_id}",
            after={"approvals": count, "required": request.required_approvals},
            request_id=request_id,
            now=now,
        )
        notices.enqueue(
            session=session, topic=NoticeTopic.APPROVAL_RECORDED, request_id=request_id, now=now
        )
        left = request.required_approvals - count
        message = f"Approval recorded; change request #{request_id} needs {left} more."
        return Decision(Outcome.WAITING, request, count, message)
    reason = first_conflict(session, request.items)
    effects = []
    if reason is None:
        try:
            with session.begin_nested():
                effects = [
                    apply_item(
                        session=session, item=item, request=request, approver=approver, now=now
                    )
                    for item in request.items
                ]
        except (Conflict, IntegrityError) as exc:
            reason = str(exc) if isinstance(exc, Conflict) else "another change got there first"
    if reason is not None:
        _close(
            session,
            request,
            RequestState.SUPERSEDED,
            approver,
            now,
            reason,
            AuditAction.REQUEST_SUPERSEDED,
        )
        return Decision(Outcome.SUPERSEDED, request, count, describe(request))
    request.result = effects
    _close(
        session, request, RequestState.APPROVED, approver, now, None, AuditAction.REQUEST_APPROVED
    )
    if request.kind == RequestKind.DELETE_POLICY:
        audit.append(
            session=session,
            actor=approver,
            action=AuditAction.POLICY_DELETED,
            subject="TLS policy",
            before={"domains": [e["subject"] for e in effects]},
            after={
                "secure_delivery_deleted": request.payload.get("secure_delivery", True),
                "secure_receipt_deleted": request.payload.get("secure_receipt", True),
            },
            request_id=request_id,
            now=now,
        )
    message = f"Change request #{request_id} was approved by {approver.name} and applied."
    return Decision(Outcome.APPLIED, request, count, message)


def reject(
    *,
    session: Session,
    request_id: int,
    actor: Actor,
    is_approver: IsApprover,
    reason: str,
    now: datetime,
) -> Decision:
    """Reject a pending request with a reason (an approver, or the requester withdrawing it)."""
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInput(f"Give a reason for rejecting change request #{request_id}.")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"The reason is longer than {MAX_REASON} characters.")
    with transaction(session):
        request = get_request(session=session, request_id=request_id)
        if actor.id != request.requester_id and not is_approver(actor.id):
            raise NotAllowed(f"Only approvers can reject change request #{request_id}.")
        audit.lock_chain(session)
        _lock_pending(session, request)
        if request.expires_at <= now:
            return _expire_locked(session, request, now)
        _close(
            session,
            request,
            RequestState.REJECTED,
            actor,
            now,
            reason,
            AuditAction.REQUEST_REJECTED,
        )
        count = _count(session, request)
    return Decision(Outcome.REJECTED, request, count, describe(request))


def expire_due(*, session: Session, now: datetime) -> list[Decision]:
    """Expire every pending request past its time limit (run it periodically)."""
    query = select(col(ChangeRequest.id)).where(
        col(ChangeRequest.state) == RequestState.PENDING, col(ChangeRequest.expires_at) <= now
    )
    decisions = []
    for request_id in list(session.exec(query)):
        if request_id is None:
            continue
        try:
            with transaction(session):
                request = get_request(session=session, request_id=request_id)
                audit.lock_chain(session)
                _lock_pending(session, request)
                decisions.append(_expire_locked(session, request, now))
        except InvalidState:
            continue  # decided meanwhile by someone else
    return decisions
