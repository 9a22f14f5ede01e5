"""*Mark applied* on a hand-over, and *Adopt* / *Revert* on a Mimecast drift alert.

Each click is acked at once; the work runs after the ack. *Mark applied* is for
the gateway admins only (TLSBOT_GATEWAY_ADMINS, default the approvers): it records
who applied the hand-over and when, then redraws every copy of its message.
*Adopt* and *Revert* open a change request, posted for approval like any other;
the alert then says who opened which request.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.export import handover
from bot.export.drift import propose_adopt, propose_revert
from bot.export.gateway import GatewayName
from bot.export.registry import GATEWAYS
from bot.policy.models import GatewayDrift
from bot.policy.requests import Rules
from bot.slack.approval import post_request
from bot.slack.errors import UserError
from bot.slack.gateways import drift_card, show_handover
from bot.slack.ids import Action
from bot.slack.listeners.util import action_int, later, message_location
from bot.slack.middleware import services_of
from bot.slack.replies import actor_of, tell
from bot.slack.views.gateways import drift_message
from bot.slack.views.kit import mrkdwn


async def on_mark_applied(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    services = services_of(context)
    handover_id = action_int(body)
    actor = actor_of(body)

    async def work() -> None:
        admins = services.gateway_admins or services.approvers
        if not await admins.is_approver(actor.id, client):
            raise UserError("Only the gateway admins can mark a hand-over applied.")

        def mark(session: Session) -> str:
            row = handover.mark_applied(
                session=session, handover_id=handover_id, actor=actor, now=services.clock()
            )
            return GATEWAYS[GatewayName(row.gateway)].title

        title = await services.store.run(mark)
        await show_handover(services, client, handover_id)
        await tell(
            client, body, mrkdwn("Recorded: you applied the {} hand-over #{}.", title, handover_id)
        )

    later(services, client, body, work(), f"mark applied #{handover_id}")


async def on_drift_button(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    services = services_of(context)
    drift_id = action_int(body)
    actor = actor_of(body)
    adopting = str((body.get("actions") or [{}])[0].get("action_id")) == Action.DRIFT_ADOPT
    verb = "Adopt" if adopting else "Revert"
    rules = Rules.from_settings(services.settings)

    async def work() -> None:
        def open_request(session: Session) -> tuple[int, dict[str, Any]]:
            propose = propose_adopt if adopting else propose_revert
            request = propose(
                session=session,
                drift_id=drift_id,
                requester=actor,
                rules=rules,
                now=services.clock(),
            )
            assert request.id is not None
            drift = session.get(GatewayDrift, drift_id)
            assert drift is not None
            card = drift_card(drift)
            shown = type(card)(card.id, card.text, card.detected_at, request.id, actor.id, verb)
            return request.id, drift_message(shown)

        request_id, message = await services.store.run(open_request)
        await post_request(services, client, request_id)
        channel, ts = message_location(body)
        if channel and ts:
            await client.chat_update(channel=channel, ts=ts, **message)
        await tell(
            client, body, mrkdwn("Change request #{} ({}) awaits approval.", request_id, verb)
        )

    later(services, client, body, work(), f"{verb.lower()} drift #{drift_id}")


def register(app: AsyncApp) -> None:
    app.action(Action.GATEWAY_APPLIED.value)(on_mark_applied)
    app.action(Action.DRIFT_ADOPT.value)(on_drift_button)
    app.action(Action.DRIFT_REVERT.value)(on_drift_button)
