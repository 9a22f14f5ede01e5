"""The one change-request operation that touches a gateway rather than a policy:
``gateway_revert`` (approved *Revert* of a Mimecast drift), item by item as in
:mod:`bot.policy.apply`::

    gateway_revert  drift_id, gateway, list_name, domain, direction

Applying it marks the drift ``revert`` (one conditional update from ``open``); the
next sync then puts the group back and resolves it. It changes no policy, so it
has no inverse: a revert of it is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from bot.policy import audit
from bot.policy.models import ChangeRequest, GatewayDrift
from bot.policy.types import Actor

OP = "gateway_revert"


def conflict(session: Session, item: dict[str, Any]) -> str | None:
    drift = session.get(GatewayDrift, item["drift_id"], populate_existing=True)
    if drift is None or drift.state != "open":
        return f"the drift of {item['subject']} was resolved meanwhile"
    return None


def apply(
    session: Session, item: dict[str, Any], request: ChangeRequest, approver: Actor, now: datetime
) -> dict[str, Any]:
    done = session.execute(
        update(GatewayDrift)
        .where(col(GatewayDrift.id) == item["drift_id"], col(GatewayDrift.state) == "open")
        .values(state="revert", request_id=request.id)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        from bot.policy.apply import Conflict

        raise Conflict(f"the drift of {item['subject']} was resolved meanwhile")
    before, after = {"state": "open"}, {"state": "revert"}
    audit.append(
        session=session,
        actor=approver,
        action="gateway.revert_approved",
        subject=item["subject"],
        before=before,
        after={**after, "direction": item["direction"], "list": item["list_name"]},
        request_id=request.id,
        now=now,
    )
    return {"op": OP, "subject": item["subject"], "before": before, "after": after}
