"""*Mark applied* on a hand-over, and *Adopt* / *Revert* on a Mimecast drift alert.

Each click is acked at once; the work runs after the ack. *Mark applied* is for
the gateway admins only (TLSBOT_GATEWAY_ADMINS, default the approvers): it records
who applied the hand-over and when, then redraws every copy of its message.
*Adopt* and *Revert* open a change request, posted for approval like any other;
the alert then says who opened which request.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from sqlmodel import Session

from bot.export import handover
from bot.export.drift import propose_adopt, propose_revert
from bot.export.gateway import GatewayName
from bot.export.registry import GATEWAYS
from bot.policy.models import ChangeRequest, GatewayDrift
from bot.slack.errors import UserError
from bot.slack.gateways import drift_card, show_handover
from bot.slack.ids import Action
from bot.slack.listeners.act import Act, listener, propose
from bot.slack.listeners.util import action_int, message_location
from bot.slack.views.gateways import drift_message
from bot.slack.views.kit import mrkdwn


async def on_mark_applied(act: Act) -> None:
    await act.ack()
    handover_id = action_int(act.body)

    async def work() -> None:
        admins = act.services.gateway_admins or act.services.approvers
        if not await admins.is_approver(act.actor.id, act.client):
            raise UserError("Only the gateway admins can mark a hand-over applied.")

        def mark(session: Session) -> str:
            row = handover.mark_applied(
                session=session, handover_id=handover_id, actor=act.actor, now=act.now()
            )
            return GATEWAYS[GatewayName(row.gateway)].title

        title = await act.run(mark)
        await show_handover(act.services, act.client, handover_id)
        await act.tell(mrkdwn("Recorded: you applied the {} hand-over #{}.", title, handover_id))

    act.later(work(), f"mark applied #{handover_id}")


async def on_drift_button(act: Act) -> None:
    await act.ack()
    drift_id, adopting = action_int(act.body), act.action_id == Action.DRIFT_ADOPT
    verb = "Adopt" if adopting else "Revert"
    shown: list[dict[str, Any]] = []

    def make(session: Session, act: Act) -> ChangeRequest:
        open_request = propose_adopt if adopting else propose_revert
        request = open_request(
            session=session, drift_id=drift_id, requester=act.actor, rules=act.rules, now=act.now()
        )
        shown.append(_opened_card(session, drift_id, request, act.actor.id, verb))
        return request

    async def work() -> None:
        request_id = await propose(act, make)
        channel, ts = message_location(act.body)
        if channel and ts:
            await act.client.chat_update(channel=channel, ts=ts, **shown[0])
        await act.tell(mrkdwn("Change request #{} ({}) awaits approval.", request_id, verb))

    act.later(work(), f"{verb.lower()} drift #{drift_id}")


def _opened_card(
    session: Session, drift_id: int, request: ChangeRequest, user_id: str, verb: str
) -> dict[str, Any]:
    """The drift alert once ``user_id`` opened ``request`` from it."""
    drift = session.get(GatewayDrift, drift_id)
    assert drift is not None
    assert request.id is not None
    card = drift_card(drift)
    return drift_message(
        type(card)(card.id, card.text, card.detected_at, request.id, user_id, verb)
    )


def register(app: AsyncApp) -> None:
    app.action(Action.GATEWAY_APPLIED.value)(listener(on_mark_applied))
    app.action(Action.DRIFT_ADOPT.value)(listener(on_drift_button))
    app.action(Action.DRIFT_REVERT.value)(listener(on_drift_button))
