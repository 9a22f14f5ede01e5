"""Adopt or Revert a Mimecast drift: each a change request, approved like any other.

* *Adopt* makes the group's state policy: a domain added to the strict or relaxed
  group in the console gets a policy at that level (or its policy that level and
  Secure Delivery); one added to the inbound group gets Secure Receipt; a domain
  removed from a group loses that direction (its policy is removed when no
  direction is left). Ordinary ``add_policy`` / ``update_policy`` /
  ``remove_policy`` items, with the drift as evidence.
* *Revert* is a ``gateway_revert`` item (:mod:`bot.policy.gateway_ops`): once
  approved, the next sync puts the group back as approved.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.export.mimecast_sync import DriftDirection, DriftState
from bot.export.names import ListName
from bot.policy import gateway_ops
from bot.policy.apply import active_policy
from bot.policy.errors import InvalidState, NotFound
from bot.policy.models import ChangeRequest, DomainPolicy, GatewayDrift
from bot.policy.requests import Rules, propose, update_policy_item
from bot.policy.types import Actor, PolicyLevel

ADOPT_KIND = "gateway_adopt"
REVERT_KIND = "gateway_revert"


def subject(drift: GatewayDrift) -> str:
    return f"{drift.gateway} {drift.list_name} {drift.domain}"


def describe(drift: GatewayDrift) -> str:
    where = f"the Mimecast {drift.list_name} group"
    if drift.direction == DriftDirection.ADDED:
        return f"{drift.domain} was added to {where} outside tlsbot"
    return f"{drift.domain} was removed from {where} outside tlsbot"


def open_drift(session: Session, drift_id: int) -> GatewayDrift:
    drift = session.get(GatewayDrift, drift_id, populate_existing=True)
    if drift is None:
        raise NotFound(f"Drift #{drift_id} does not exist.")
    if drift.state != DriftState.OPEN:
        raise InvalidState(f"The drift of {drift.domain} is no longer open ({drift.state}).")
    earlier = session.get(ChangeRequest, drift.request_id) if drift.request_id else None
    if earlier is not None and earlier.state == "pending":
        raise InvalidState(
            f"Change request #{drift.request_id} was already opened for the drift of "
            f"{drift.domain}."
        )
    return drift


def adopt_items(session: Session, drift: GatewayDrift) -> list[dict[str, Any]]:
    kind = ListName(drift.list_name)
    policy = active_policy(session, drift.domain)
    evidence = {"drift_id": drift.id, "gateway": drift.gateway, "group": kind.value}
    if drift.direction == DriftDirection.ADDED:
        if policy is None:
            delivery = kind is not ListName.INBOUND
            level = kind.value if delivery else PolicyLevel.STRICT.value
            return [
                {
                    "op": "add_policy",
                    "subject": drift.domain,
                    "domain": drift.domain,
                    "level": level,
                    "mx_hosts": [],
                    "secure_delivery": delivery,
                    "secure_receipt": not delivery,
                    "mode": "enforce",
                    "relaxed_until": None,
                    "validation_id": None,
                    "evidence": {**evidence, "adopted": "added in the console"},
                }
            ]
        changes: dict[str, Any] = (
            {"secure_receipt": True}
            if kind is ListName.INBOUND
            else {"level": kind.value, "secure_delivery": True}
        )
        return [_update(session, policy, changes)]
    if policy is None:
        raise InvalidState(f"{drift.domain} has no TLS policy left to change.")
    keep_delivery = policy.secure_delivery and kind is ListName.INBOUND
    keep_receipt = policy.secure_receipt and kind is not ListName.INBOUND
    if not (keep_delivery or keep_receipt):
        return [
            {
                "op": "remove_policy",
                "subject": policy.domain,
                "domain": policy.domain,
                "policy_id": policy.id,
                "version": policy.version,
            }
        ]
    changes = {"secure_receipt": False} if kind is ListName.INBOUND else {"secure_delivery": False}
    return [_update(session, policy, changes)]


def _update(session: Session, policy: DomainPolicy, changes: dict[str, Any]) -> dict[str, Any]:
    return update_policy_item(session=session, domain=policy.domain, changes=changes)


def propose_adopt(
    *, session: Session, drift_id: int, requester: Actor, rules: Rules, now: datetime
) -> ChangeRequest:
    drift = open_drift(session, drift_id)
    items = adopt_items(session, drift)
    return _propose(session, drift, ADOPT_KIND, items, requester, rules, now, "Adopt")


def propose_revert(
    *, session: Session, drift_id: int, requester: Actor, rules: Rules, now: datetime
) -> ChangeRequest:
    drift = open_drift(session, drift_id)
    item = {
        "op": gateway_ops.OP,
        "subject": subject(drift),
        "drift_id": drift.id,
        "gateway": drift.gateway,
        "list_name": drift.list_name,
        "domain": drift.domain,
        "direction": drift.direction,
    }
    return _propose(session, drift, REVERT_KIND, [item], requester, rules, now, "Revert")


def _propose(
    session: Session,
    drift: GatewayDrift,
    kind: str,
    items: list[dict[str, Any]],
    requester: Actor,
    rules: Rules,
    now: datetime,
    verb: str,
) -> ChangeRequest:
    def link(request: ChangeRequest) -> None:
        drift.request_id = request.id
        session.add(drift)

    return propose(
        session=session,
        kind=kind,
        items=items,
        requester=requester,
        rules=rules,
        note=f"{verb}: {describe(drift)}.",
        extra={"drift_id": drift.id},
        now=now,
        on_created=link,
    )
