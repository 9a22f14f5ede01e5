"""The alert message once someone opened a change request from one of its buttons.

The clicked message is found from the click itself (its container's channel and
ts); the alert from the id its actions block carries. The request is linked to
the stored alert (so the alert's history names it) and the message is redrawn
by :func:`~bot.slack.monitor.blocks.request_opened_message`: who opened which
request, with only *Re-check now* left.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.policy.errors import NotFound
from bot.policy.models import ChangeRequest
from bot.policy.monitor.actions import action_of
from bot.policy.monitor.alerts import ActionId, Alert
from bot.policy.monitor.models import MonitorAlert
from bot.policy.monitor.store import alert_of, set_change_request
from bot.policy.types import SYSTEM
from bot.slack.monitor.blocks import alert_id_of, alert_message, request_opened_message
from bot.slack.services import Services


def clicked_alert_id(body: Mapping[str, Any]) -> str | None:
    actions = body.get("actions") or [{}]
    return alert_id_of(str(actions[0].get("block_id") or ""))


def link_request(session: Session, *, alert_id: str, request_id: int) -> Alert | None:
    """Record ``request_id`` on the alert; the alert as now stored (None: unknown alert)."""
    if session.get(MonitorAlert, alert_id) is None:
        return None
    set_change_request(session=session, alert_id=alert_id, request_id=request_id)
    session.flush()
    row = session.get(MonitorAlert, alert_id)
    return alert_of(row) if row is not None else None


async def show_request_opened(
    services: Services,
    client: AsyncWebClient,
    body: Mapping[str, Any],
    *,
    where: tuple[str | None, str | None],
    action: ActionId,
    request_id: int,
) -> bool:
    """Redraw the clicked alert message at ``where`` (channel, ts); False if it is not known."""
    channel, ts = where
    alert_id = clicked_alert_id(body)
    user_id = str((body.get("user") or {}).get("id") or "")
    if not (channel and ts and alert_id and user_id):
        return False

    def link(session: Session) -> Alert | None:
        return link_request(session, alert_id=alert_id, request_id=request_id)

    alert = await services.store.run(link)
    if alert is None:
        return False
    message = request_opened_message(alert, action=action, request_id=request_id, user_id=user_id)
    await client.chat_update(channel=channel, ts=ts, **message)
    return True


def alert_view(session: Session, alert_id: str, *, expanded: bool) -> dict[str, Any]:
    """The stored alert's message as it stands (a request opened from it included),
    collapsed or with its evidence: what *More* and *Less* draw."""
    row = session.get(MonitorAlert, alert_id)
    if row is None:
        raise NotFound("That alert is no longer stored.")
    alert = alert_of(row)
    request = (
        session.get(ChangeRequest, int(alert.change_request_id))
        if alert.change_request_id and alert.change_request_id.isdigit()
        else None
    )
    action = action_of(request.kind) if request is not None else None
    if request is None or action is None or request.requester_id == SYSTEM.id:
        return alert_message(alert, expanded=expanded)
    assert request.id is not None
    return request_opened_message(
        alert,
        action=action,
        request_id=request.id,
        user_id=request.requester_id,
        expanded=expanded,
    )
