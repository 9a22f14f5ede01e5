"""What a change request does to routes and policies, item by item, and how to undo it.

A request's payload is ``{"items": [...]}``; every item is one operation on one
subject (a domain, or a route ``host:port``)::

    add_policy     domain, level, mx_hosts, secure_delivery, secure_receipt, mode,
                   relaxed_until, validation_id, evidence, partner (what the partner
                   publishes: DNSSEC, DANE, MTA-STS; bot.probe.partner.PartnerTls)
    remove_policy  policy_id, version, domain
    update_policy  policy_id, version, domain, set={field: value}
    add_route      host, port, validation_id, verdict, evidence
    remove_route   route_id, version, host, port

:func:`conflict` says (one sentence naming the item) why an item can no longer
apply — the request is then *superseded*. :func:`apply_item` applies one item
with a conditional update, appends its audit event and returns the *effect*
(before and after snapshots) kept on the request, from which :func:`inverse`
builds the item that undoes it (rollback).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.policy import audit, gateway_ops
from bot.policy.audit import AuditAction
from bot.policy.errors import InvalidState
from bot.policy.models import ChangeRequest, DomainPolicy, InboundRoute
from bot.policy.types import Actor, RecordStatus

# Fields an update_policy item may set (the monitor's relax/suspend/enforce use these).
UPDATABLE = (
    "level",
    "mx_hosts",
    "secure_delivery",
    "secure_receipt",
    "mode",
    "relaxed_until",
    "partner",
)


class Conflict(Exception):
    """An item cannot apply because its subject changed meanwhile; ``str()`` says which."""


def route_label(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def policy_snapshot(policy: DomainPolicy) -> dict[str, Any]:
    snapshot: dict[str, Any] = audit.jsonable(
        {
            "id": policy.id,
            "domain": policy.domain,
            "status": policy.status,
            "version": policy.version,
            "level": policy.level,
            "mx_hosts": list(policy.mx_hosts),
            "secure_delivery": policy.secure_delivery,
            "secure_receipt": policy.secure_receipt,
            "mode": policy.mode,
            "relaxed_until": policy.relaxed_until,
            "validation_id": policy.validation_id,
            "request_id": policy.request_id,
            "partner": policy.partner,
        }
    )
    return snapshot


def route_snapshot(route: InboundRoute) -> dict[str, Any]:
    snapshot: dict[str, Any] = audit.jsonable(
        {
            "id": route.id,
            "host": route.host,
            "port": route.port,
            "status": route.status,
            "version": route.version,
            "last_verdict": route.last_verdict,
            "last_validation_id": route.last_validation_id,
            "request_id": route.request_id,
        }
    )
    return snapshot


def active_policy(session: Session, domain: str) -> DomainPolicy | None:
    query = select(DomainPolicy).where(
        col(DomainPolicy.domain) == domain, col(DomainPolicy.status) == RecordStatus.ACTIVE
    )
    return session.exec(query.execution_options(populate_existing=True)).first()


def active_route(session: Session, host: str, port: int) -> InboundRoute | None:
    query = select(InboundRoute).where(
        col(InboundRoute.host) == host,
        col(InboundRoute.port) == port,
        col(InboundRoute.status) == RecordStatus.ACTIVE,
    )
    return session.exec(query.execution_options(populate_existing=True)).first()


def conflict(session: Session, item: dict[str, Any]) -> str | None:
    """Why ``item`` cannot apply now, or None when it can."""
    op, subject = item["op"], item["subject"]
    if op == "add_policy":
        if active_policy(session, item["domain"]) is not None:
            return f"{subject} already has a TLS policy"
        return None
    if op in ("remove_policy", "update_policy"):
        policy = session.get(DomainPolicy, item["policy_id"], populate_existing=True)
        if policy is None or policy.status != RecordStatus.ACTIVE:
            return f"the TLS policy of {subject} was removed meanwhile"
        if policy.version != item["version"]:
            return f"the TLS policy of {subject} was changed meanwhile"
        return None
    if op == "add_route":
        if active_route(session, item["host"], item["port"]) is not None:
            return f"the route {subject} already exists"
        return None
    if op == "remove_route":
        route = session.get(InboundRoute, item["route_id"], populate_existing=True)
        if route is None or route.status != RecordStatus.ACTIVE:
            return f"the route {subject} was removed meanwhile"
        if route.version != item["version"]:
            return f"the route {subject} was changed meanwhile"
        return None
    if op == gateway_ops.OP:
        return gateway_ops.conflict(session, item)
    return f"{subject}: unknown operation {op!r}"


def first_conflict(session: Session, items: list[dict[str, Any]]) -> str | None:
    for item in items:
        reason = conflict(session, item)
        if reason is not None:
            return reason
    return None


def apply_item(
    *,
    session: Session,
    item: dict[str, Any],
    request: ChangeRequest,
    approver: Actor,
    now: datetime,
) -> dict[str, Any]:
    """Apply one item (raises :class:`Conflict` if it cannot) and return its effect."""
    reason = conflict(session, item)
    if reason is not None:
        raise Conflict(reason)
    op = item["op"]
    if op == "add_policy":
        return _add_policy(session, item, request, approver, now)
    if op in ("remove_policy", "update_policy"):
        return _change_policy(session, item, request, approver, now)
    if op == "add_route":
        return _add_route(session, item, request, approver, now)
    if op == gateway_ops.OP:
        return gateway_ops.apply(session, item, request, approver, now)
    return _remove_route(session, item, request, approver, now)


def _event(
    session: Session,
    approver: Actor,
    action: AuditAction,
    subject: str,
    before: Any,
    after: Any,
    request: ChangeRequest,
    now: datetime,
) -> None:
    audit.append(
        session=session,
        actor=approver,
        action=action,
        subject=subject,
        before=before,
        after=after,
        request_id=request.id,
        now=now,
    )


def _provenance(request: ChangeRequest, approver: Actor, now: datetime) -> dict[str, Any]:
    """Who asked, who approved, and when: stamped on every row a request writes."""
    return {
        "request_id": request.id,
        "requested_by_id": request.requester_id,
        "requested_by_name": request.requester_name,
        "approved_by_id": approver.id,
        "approved_by_name": approver.name,
        "updated_at": now,
    }


def _add_policy(
    session: Session, item: dict[str, Any], request: ChangeRequest, approver: Actor, now: datetime
) -> dict[str, Any]:
    relaxed_until = item.get("relaxed_until")
    policy = DomainPolicy(
        domain=item["domain"],
        level=item["level"],
        mx_hosts=list(item.get("mx_hosts", [])),
        secure_delivery=item.get("secure_delivery", True),
        secure_receipt=item.get("secure_receipt", True),
        mode=item.get("mode", "enforce"),
        relaxed_until=datetime.fromisoformat(relaxed_until) if relaxed_until else None,
        validation_id=item.get("validation_id"),
        partner=item.get("partner"),
        created_at=now,
        **_provenance(request, approver, now),
    )
    session.add(policy)
    session.flush()
    after = policy_snapshot(policy)
    _event(session, approver, AuditAction.POLICY_ADDED, policy.domain, None, after, request, now)
    return {"op": "add_policy", "subject": item["subject"], "before": None, "after": after}


def _change_policy(
    session: Session, item: dict[str, Any], request: ChangeRequest, approver: Actor, now: datetime
) -> dict[str, Any]:
    policy = session.get(DomainPolicy, item["policy_id"], populate_existing=True)
    assert policy is not None
    before = policy_snapshot(policy)
    values: dict[str, Any] = {"version": policy.version + 1, **_provenance(request, approver, now)}
    if item["op"] == "remove_policy":
        values.update(status=RecordStatus.REMOVED, removed_at=now)
        action = AuditAction.POLICY_REMOVED
    else:
        for key, value in item["set"].items():
            if key not in UPDATABLE:
                raise Conflict(f"{item['subject']}: {key!r} cannot be changed")
            values[key] = (
                datetime.fromisoformat(value) if key == "relaxed_until" and value else value
            )
        action = AuditAction.POLICY_UPDATED
    done = session.execute(
        update(DomainPolicy)
        .where(
            col(DomainPolicy.id) == policy.id,
            col(DomainPolicy.version) == item["version"],
            col(DomainPolicy.status) == RecordStatus.ACTIVE,
        )
        .values(**values)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"the TLS policy of {item['subject']} was changed meanwhile")
    session.refresh(policy)
    after = policy_snapshot(policy)
    _event(session, approver, action, policy.domain, before, after, request, now)
    return {"op": item["op"], "subject": item["subject"], "before": before, "after": after}


def _add_route(
    session: Session, item: dict[str, Any], request: ChangeRequest, approver: Actor, now: datetime
) -> dict[str, Any]:
    route = InboundRoute(
        host=item["host"],
        port=item["port"],
        last_verdict=item.get("verdict"),
        last_validation_id=item.get("validation_id"),
        last_validated_at=now if item.get("validation_id") else None,
        created_at=now,
        **_provenance(request, approver, now),
    )
    session.add(route)
    session.flush()
    after = route_snapshot(route)
    _event(session, approver, AuditAction.ROUTE_ADDED, item["subject"], None, after, request, now)
    return {"op": "add_route", "subject": item["subject"], "before": None, "after": after}


def _remove_route(
    session: Session, item: dict[str, Any], request: ChangeRequest, approver: Actor, now: datetime
) -> dict[str, Any]:
    route = session.get(InboundRoute, item["route_id"], populate_existing=True)
    assert route is not None
    before = route_snapshot(route)
    done = session.execute(
        update(InboundRoute)
        .where(
            col(InboundRoute.id) == route.id,
            col(InboundRoute.version) == item["version"],
            col(InboundRoute.status) == RecordStatus.ACTIVE,
        )
        .values(
            status=RecordStatus.REMOVED,
            version=route.version + 1,
            removed_at=now,
            updated_at=now,
            request_id=request.id,
        )
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"the route {item['subject']} was changed meanwhile")
    session.refresh(route)
    after = route_snapshot(route)
    _event(
        session, approver, AuditAction.ROUTE_REMOVED, item["subject"], before, after, request, now
    )
    return {"op": "remove_route", "subject": item["subject"], "before": before, "after": after}


def inverse(effect: dict[str, Any]) -> dict[str, Any]:
    """The item that undoes one applied effect."""
    op, subject = effect["op"], effect["subject"]
    if op == gateway_ops.OP:
        raise InvalidState(f"Reverting a drift of {subject} changed no policy; it has no undo.")
    before, after = effect["before"], effect["after"]
    if op == "add_policy":
        return {
            "op": "remove_policy",
            "subject": subject,
            "domain": after["domain"],
            "policy_id": after["id"],
            "version": after["version"],
        }
    if op == "remove_policy":
        return {
            "op": "add_policy",
            "subject": subject,
            "domain": before["domain"],
            **{key: before.get(key) for key in UPDATABLE},  # older snapshots lack partner
            "validation_id": before["validation_id"],
            "evidence": {"restores_policy_id": before["id"]},
        }
    if op == "update_policy":
        return {
            "op": "update_policy",
            "subject": subject,
            "domain": after["domain"],
            "policy_id": after["id"],
            "version": after["version"],
            "set": {key: before.get(key) for key in UPDATABLE if before.get(key) != after.get(key)},
        }
    if op == "add_route":
        return {
            "op": "remove_route",
            "subject": subject,
            "host": after["host"],
            "port": after["port"],
            "route_id": after["id"],
            "version": after["version"],
        }
    return {
        "op": "add_route",
        "subject": subject,
        "host": before["host"],
        "port": before["port"],
        "validation_id": before["last_validation_id"],
        "verdict": before["last_verdict"],
        "evidence": {"restores_route_id": before["id"]},
    }
