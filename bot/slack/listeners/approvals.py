"""Approve / Reject on a change request's message, and the Reject reason modal."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.policy.approvals import Decision, Outcome
from bot.policy.errors import InvalidState
from bot.slack import gateways, notices
from bot.slack.approval import decide, repair_message
from bot.slack.ids import Action, Block, Field, View
from bot.slack.listeners.act import Act, listener
from bot.slack.listeners.util import action_int, field_value, message_location, trigger_of
from bot.slack.middleware import require_approver, services_of
from bot.slack.views.approval import reject_view
from bot.slack.views.kit import escape
from bot.slack.views.meta import Meta


async def on_approve(act: Act) -> None:
    await act.ack()
    request_id = action_int(act.body)
    where = message_location(act.body)

    async def work() -> None:
        decision = await _decide(act, request_id, where, approving=True)
        await act.tell(escape(decision.message))
        if decision.outcome is Outcome.APPLIED:
            gateways.after_change(act.services, act.client)  # hand-overs, the Mimecast sync

    act.later(work(), f"approve #{request_id}")


async def _decide(
    act: Act,
    request_id: int,
    where: tuple[str | None, str | None],
    *,
    approving: bool,
    reason: str = "",
) -> Decision:
    """Decide as the clicker, then deliver what the decision shows (the outbox)."""
    try:
        decision, _ = await decide(
            act.services,
            act.client,
            request_id=request_id,
            actor=act.actor,
            approving=approving,
            reason=reason,
        )
    except InvalidState:  # decided meanwhile: the clicked message may be out of date
        await repair_message(act.services, act.client, request_id, *where)
        raise
    await notices.deliver(act.services, act.client)
    return decision


async def on_reject(act: Act) -> None:
    await act.ack()
    request_id = action_int(act.body)
    channel, ts = message_location(act.body)
    meta = Meta(request=request_id, channel=channel, ts=ts)
    await act.client.views_open(trigger_id=trigger_of(act.body), view=reject_view(meta, request_id))


async def on_reject_reason(act: Act) -> None:
    reason = " ".join(field_value(act.view, Block.REASON, Field.REASON).split())
    if not reason:
        await act.ack(response_action="errors", errors={Block.REASON.value: "Give a reason."})
        return
    await act.ack()
    meta = act.meta
    if meta.request is None:
        return
    where, request_id = (meta.channel, meta.ts), meta.request
    act.later(
        _decide(act, request_id, where, approving=False, reason=reason), f"reject #{request_id}"
    )


async def on_members_changed(
    event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """``subteam_members_changed``: an approver (or gateway admin) group changed; look it up."""
    services, group = services_of(context), str(event.get("subteam_id") or "")
    for who in (services.approvers, services.gateway_admins):
        if who is not None:
            await who.refresh(group, client)


def register(app: AsyncApp) -> None:
    app.event("subteam_members_changed")(on_members_changed)
    app.action(Action.APPROVE.value, middleware=[require_approver])(listener(on_approve))
    app.action(Action.REJECT.value, middleware=[require_approver])(listener(on_reject))
    app.view(View.REJECT_REASON.value, middleware=[require_approver])(listener(on_reject_reason))
