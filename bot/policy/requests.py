"""Proposing change requests: adding or removing domains, deleting the whole TLS
policy, and reverting an applied request (routes: :mod:`bot.policy.route_requests`).

Every ``propose_*`` checks its input, builds the items (see :mod:`bot.policy.apply`)
with their evidence, and calls :func:`propose`, which refuses a subject that is
already in another pending request, stores the request as *pending* with its
expiry, appends ``request.created`` and commits. Approving, rejecting and
expiring are in :mod:`bot.policy.approvals`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from bot.config import Settings
from bot.policy import audit
from bot.policy.apply import (
    UPDATABLE,
    active_policy,
    first_conflict,
    inverse,
)
from bot.policy.audit import AuditAction
from bot.policy.db import transaction
from bot.policy.errors import InvalidInput, InvalidState, NotFound
from bot.policy.models import ChangeRequest, DomainPolicy
from bot.policy.queries import get_request, get_validation
from bot.policy.types import Actor, PolicyMode, RecordStatus, RequestKind, RequestState
from bot.policy.validations import evidence
from bot.probe.model import Verdict
from bot.probe.names import InvalidName, normalise_domain
from bot.probe.partner import PartnerTls

MAX_ITEMS = 10_000
MAX_NOTE = 2000


@dataclass(frozen=True, slots=True)
class Rules:
    """The approval rules: distinct approvers needed, and how long a request stays open."""

    required_approvals: int = 1
    request_ttl_hours: float = 72.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        return cls(settings.required_approvals, settings.request_ttl_hours)


def propose(
    *,
    session: Session,
    kind: str,
    items: Sequence[dict[str, Any]],
    requester: Actor,
    rules: Rules,
    note: str | None = None,
    reverts_id: int | None = None,
    extra: dict[str, Any] | None = None,
    now: datetime,
    on_created: Callable[[ChangeRequest], None] | None = None,
) -> ChangeRequest:
    """Store a pending change request of ``kind`` with ``items``; commits and returns it.

    ``on_created`` runs inside the same transaction once the request has its id.
    """
    if not items:
        raise InvalidInput("There is nothing to change in this request.")
    if len(items) > MAX_ITEMS:
        raise InvalidInput(f"A change request holds at most {MAX_ITEMS} items.")
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidInput(f"The note is longer than {MAX_NOTE} characters.")
    with transaction(session):
        audit.lock_chain(session)
        reason = first_conflict(session, list(items)) or _pending_conflict(session, items, now)
        if reason is not None:
            raise InvalidState(f"This change cannot be made: {reason}.")
        request = ChangeRequest(
            kind=str(kind),
            payload={**(extra or {}), "items": audit.jsonable(list(items))},
            note=note,
            requester_id=requester.id,
            requester_name=requester.name,
            required_approvals=rules.required_approvals,
            reverts_id=reverts_id,
            created_at=now,
            expires_at=now + timedelta(hours=rules.request_ttl_hours),
        )
        session.add(request)
        session.flush()
        audit.append(
            session=session,
            actor=requester,
            action=AuditAction.REQUEST_CREATED,
            subject=f"request #{request.id}",
            after={
                "kind": request.kind,
                "subjects": [item["subject"] for item in items],
                "expires_at": request.expires_at,
                "required_approvals": request.required_approvals,
                "reverts": reverts_id,
            },
            request_id=request.id,
            now=now,
        )
        if on_created is not None:
            on_created(request)
    return request


def _pending_conflict(
    session: Session, items: Sequence[dict[str, Any]], now: datetime
) -> str | None:
    """Why a subject cannot be proposed while another request for it waits, or None.

    A request past its expiry that the schedule has not closed yet no longer counts.
    Runs under the chain lock, so two replicas proposing one subject at once are serial.
    """
    query = select(ChangeRequest).where(
        col(ChangeRequest.state) == RequestState.PENDING, col(ChangeRequest.expires_at) > now
    )
    waiting: dict[str, int] = {}
    for request in session.exec(query):
        assert request.id is not None
        for item in request.items:
            waiting.setdefault(str(item.get("subject")), request.id)
    for item in items:
        request_id = waiting.get(str(item["subject"]))
        if request_id is not None:
            subject = item["subject"]
            return f"{subject} is already in change request #{request_id}, waiting for approval"
    return None


def add_policy_item(
    *,
    session: Session,
    domain: str,
    validation_id: int,
    secure_delivery: bool = True,
    secure_receipt: bool = True,
    mode: PolicyMode = PolicyMode.ENFORCE,
) -> dict[str, Any]:
    """The item adding ``domain``, admitted by the validation ``validation_id``."""
    name = _domain(domain)
    validation = get_validation(session=session, validation_id=validation_id)
    if validation.domain != name:
        raise InvalidInput(f"Validation #{validation_id} is of {validation.domain}, not {name}.")
    if not Verdict.ok_value(validation.verdict):
        raise InvalidInput(
            f"{name} validated as {Verdict.label_of(validation.verdict)}; only Strict or "
            "Relaxed can be enforced."
        )
    return {
        "op": "add_policy",
        "subject": name,
        "domain": name,
        "level": validation.verdict,
        "mx_hosts": list(validation.mx_hosts),
        "secure_delivery": secure_delivery,
        "secure_receipt": secure_receipt,
        "mode": str(mode),
        "relaxed_until": None,
        "validation_id": validation.id,
        "evidence": evidence(validation),
        "partner": PartnerTls.from_dict(validation.result.get("partner")).to_dict(),
    }


def update_policy_item(*, session: Session, domain: str, changes: dict[str, Any]) -> dict[str, Any]:
    """The item changing fields of ``domain``'s active policy (for the monitor's
    relax / suspend / enforce requests: ``level``, ``mode``, ``relaxed_until``, …)."""
    name = _domain(domain)
    policy = active_policy(session, name)
    if policy is None:
        raise NotFound(f"{name} has no TLS policy.")
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise InvalidInput(f"{', '.join(unknown)} cannot be changed on a TLS policy.")
    item = _remove_policy_item(policy)
    item.update(op="update_policy", set=audit.jsonable(changes))
    return item


def propose_add_domains(
    *,
    session: Session,
    requester: Actor,
    entries: Iterable[tuple[str, int]],
    rules: Rules,
    note: str | None = None,
    now: datetime,
) -> ChangeRequest:
    """Propose policies for ``(domain, validation_id)`` pairs (both directions, enforced)."""
    items = [
        add_policy_item(session=session, domain=domain, validation_id=validation_id)
        for domain, validation_id in entries
    ]
    _no_repeats(items)
    return propose(
        session=session,
        kind=RequestKind.ADD_DOMAINS,
        items=items,
        requester=requester,
        rules=rules,
        note=note,
        now=now,
    )


def _remove_policy_item(policy: DomainPolicy) -> dict[str, Any]:
    return {
        "op": "remove_policy",
        "subject": policy.domain,
        "domain": policy.domain,
        "policy_id": policy.id,
        "version": policy.version,
    }


def propose_remove_domains(
    *,
    session: Session,
    requester: Actor,
    domains: Iterable[str],
    rules: Rules,
    note: str | None = None,
    now: datetime,
) -> ChangeRequest:
    """Propose removing the policies of ``domains`` (each must have one)."""
    items = []
    for domain in domains:
        name = _domain(domain)
        policy = active_policy(session, name)
        if policy is None:
            raise NotFound(f"{name} has no TLS policy.")
        items.append(_remove_policy_item(policy))
    _no_repeats(items)
    return propose(
        session=session,
        kind=RequestKind.REMOVE_DOMAINS,
        items=items,
        requester=requester,
        rules=rules,
        note=note,
        now=now,
    )


def propose_delete_policy(
    *,
    session: Session,
    requester: Actor,
    rules: Rules,
    secure_delivery: bool = True,
    secure_receipt: bool = True,
    now: datetime,
) -> ChangeRequest:
    """Propose deleting the whole TLS policy: Secure Delivery and/or Secure Receipt.

    A domain left with neither direction is removed; one left with the other
    direction is updated.
    """
    if not (secure_delivery or secure_receipt):
        raise InvalidInput("Choose Secure Delivery, Secure Receipt or both to delete.")
    query = (
        select(DomainPolicy)
        .where(col(DomainPolicy.status) == RecordStatus.ACTIVE)
        .order_by(col(DomainPolicy.domain))
    )
    items: list[dict[str, Any]] = []
    for policy in session.exec(query):
        delivery = policy.secure_delivery and not secure_delivery
        receipt = policy.secure_receipt and not secure_receipt
        if (delivery, receipt) == (policy.secure_delivery, policy.secure_receipt):
            continue
        if not (delivery or receipt):
            items.append(_remove_policy_item(policy))
            continue
        item = _remove_policy_item(policy)
        item.update(
            op="update_policy", set={"secure_delivery": delivery, "secure_receipt": receipt}
        )
        items.append(item)
    if not items:
        raise InvalidState("There is no TLS policy to delete.")
    return propose(
        session=session,
        kind=RequestKind.DELETE_POLICY,
        items=items,
        requester=requester,
        rules=rules,
        extra={"secure_delivery": secure_delivery, "secure_receipt": secure_receipt},
        now=now,
    )


def revert(
    *,
    session: Session,
    request_id: int,
    requester: Actor,
    rules: Rules,
    now: datetime,
) -> ChangeRequest:
    """Propose a new request that undoes exactly the applied request ``request_id``."""
    original = get_request(session=session, request_id=request_id)
    if original.state != RequestState.APPROVED or not original.result:
        raise InvalidState(
            f"Change request #{request_id} is {original.state}; only an applied request "
            "can be reverted."
        )
    query = select(ChangeRequest).where(
        col(ChangeRequest.reverts_id) == request_id,
        col(ChangeRequest.state).in_([RequestState.PENDING, RequestState.APPROVED]),
    )
    earlier = session.exec(query).first()
    if earlier is not None:
        verb = "is pending as" if earlier.state == RequestState.PENDING else "was applied as"
        raise InvalidState(f"A revert of change request #{request_id} {verb} #{earlier.id}.")
    items = [inverse(effect) for effect in reversed(original.result)]
    return propose(
        session=session,
        kind=RequestKind.REVERT,
        items=items,
        requester=requester,
        rules=rules,
        note=f"Reverts change request #{request_id}",
        reverts_id=request_id,
        extra={"reverts": request_id, "reverts_kind": original.kind},
        now=now,
    )


def _domain(text: str) -> str:
    try:
        return normalise_domain(text)
    except InvalidName as exc:
        raise InvalidInput(f"{exc}.") from None


def _no_repeats(items: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for item in items:
        if item["subject"] in seen:
            raise InvalidInput(f"{item['subject']} is listed twice.")
        seen.add(item["subject"])
