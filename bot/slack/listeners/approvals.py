"""Approve / Reject on a change request's message, and the Reject reason modal."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.policy.approvals import Outcome
from bot.policy.errors import InvalidState
from bot.slack import gateways, notices
from bot.slack.approval import decide, repair_message
from bot.slack.ids import Action, Block, Field, View
from bot.slack.listeners.util import (
    action_int,
    field_value,
    guarded,
    later,
    message_location,
    trigger_of,
)
from bot.slack.middleware import require_approver, services_of
from bot.slack.replies import actor_of, tell
from bot.slack.views.approval import reject_view
from bot.slack.views.kit import escape
from bot.slack.views.meta import Meta


async def on_approve(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    services = services_of(context)
    request_id = action_int(body)
    channel, ts = message_location(body)

    async def work() -> None:
        try:
            decision, _ = await decide(
                services, client, request_id=request_id, actor=actor_of(body), approving=True
            )
        except InvalidState:  # decided meanwhile: the clicked message may be out of date
            await repair_message(services, client, request_id, channel, ts)
            raise
        await notices.deliver(services, client)
        await tell(client, body, escape(decision.message))
        if decision.outcome is Outcome.APPLIED:
            gateways.after_change(services, client)  # hand-overs, the Mimecast sync

    later(services, client, body, work(), f"approve #{request_id}")


async def on_reject(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    request_id = action_int(body)
    channel, ts = message_location(body)
    meta = Meta(request=request_id, channel=channel, ts=ts)
    await client.views_open(trigger_id=trigger_of(body), view=reject_view(meta, request_id))


async def on_reject_reason(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    reason = " ".join(field_value(view, Block.REASON, Field.REASON).split())
    if not reason:
        await ack(response_action="errors", errors={Block.REASON.value: "Give a reason."})
        return
    await ack()
    services = services_of(context)
    meta = Meta.decode(view.get("private_metadata"))
    if meta.request is None:
        return

    async def work() -> None:
        assert meta.request is not None
        try:
            await decide(
                services,
                client,
                request_id=meta.request,
                actor=actor_of(body),
                approving=False,
                reason=reason,
            )
        except InvalidState:
            await repair_message(services, client, meta.request, meta.channel, meta.ts)
            raise
        await notices.deliver(services, client)

    later(services, client, body, work(), f"reject #{meta.request}")


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
    app.action(Action.APPROVE.value, middleware=[require_approver])(guarded(on_approve))
    app.action(Action.REJECT.value, middleware=[require_approver])(guarded(on_reject))
    app.view(View.REJECT_REASON.value, middleware=[require_approver])(guarded(on_reject_reason))
