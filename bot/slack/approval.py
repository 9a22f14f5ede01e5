"""Posting change requests to the approval channel, and deciding them from Slack.

The decision itself is the store's (one conditional update: a double click or a
duplicate delivery finds the request no longer pending and changes nothing);
this module resolves the approver through Slack. What the decision must show
(the channel message, the requester's direct message) is written to the outbox
with the decision and delivered by :mod:`bot.slack.notices`. Where each request was posted
(channel and ts) is recorded with it (:mod:`bot.policy.announcements`), so a
request closed without a click (expired) updates its message too.
"""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.policy.announcements import announcement_of, record_announcement
from bot.policy.approvals import Decision, approve, reject
from bot.policy.types import Actor
from bot.slack.cards import request_card
from bot.slack.errors import UserError
from bot.slack.services import Services
from bot.slack.views.approval import request_message
from bot.slack.views.model import RequestCard

log = logging.getLogger(__name__)


async def post_request(services: Services, client: AsyncWebClient, request_id: int) -> None:
    """Post a new change request with its evidence and Approve / Reject buttons."""
    card = await services.store.run(lambda s: request_card(s, request_id))
    channel = services.settings.approval_channel
    if channel is None:
        raise UserError(
            f"Change request #{request_id} was saved, but TLSBOT_APPROVAL_CHANNEL is not set, "
            "so no approver has been asked."
        )
    response = await client.chat_postMessage(channel=channel, **request_message(card))
    where = _location(response.get("channel") or channel, response.get("ts"))
    if where is None:
        return

    def record(session: Session) -> RequestCard | None:
        if record_announcement(session=session, request_id=request_id, announcement=where):
            return None
        return request_card(session, request_id)  # decided meanwhile: show it now

    decided = await services.store.run(record)
    if decided is not None:
        await client.chat_update(
            channel=where["channel"], ts=where["ts"], **request_message(decided)
        )


def _location(channel: object, ts: object) -> dict[str, str] | None:
    return {"channel": str(channel), "ts": str(ts)} if channel and ts else None


async def announced_card(
    services: Services, request_id: int
) -> tuple[RequestCard, dict[str, str] | None]:
    """The request's card, and where it was announced (channel and ts), if recorded."""

    def run(session: Session) -> tuple[RequestCard, dict[str, str] | None]:
        where = announcement_of(session=session, request_id=request_id) or {}
        return request_card(session, request_id), _location(where.get("channel"), where.get("ts"))

    return await services.store.run(run)


async def decide(
    services: Services,
    client: AsyncWebClient,
    *,
    request_id: int,
    actor: Actor,
    approving: bool,
    reason: str = "",
) -> tuple[Decision, RequestCard]:
    """Approve or reject as ``actor`` (already known to be an approver)."""
    allowed = await services.approvers.is_approver(actor.id, client)

    def is_approver(user_id: str) -> bool:
        return allowed and user_id == actor.id

    def run(session: Session) -> tuple[Decision, RequestCard]:
        if approving:
            decision = approve(
                session=session,
                request_id=request_id,
                approver=actor,
                is_approver=is_approver,
                now=services.clock(),
            )
        else:
            decision = reject(
                session=session,
                request_id=request_id,
                actor=actor,
                is_approver=is_approver,
                reason=reason,
                now=services.clock(),
            )
        return decision, request_card(session, request_id)

    return await services.store.run(run)


async def repair_message(
    services: Services, client: AsyncWebClient, request_id: int, channel: str | None, ts: str | None
) -> None:
    """A click on a request decided meanwhile: show the clicked message as the request is now.

    It repairs a message left with its buttons (a lost update, an old copy); a failure
    here is logged, and the clicker still gets the answer of the click.
    """
    if not (channel and ts):
        return
    try:
        card = await services.store.run(lambda s: request_card(s, request_id))
        await client.chat_update(channel=channel, ts=ts, **request_message(card))
    except Exception as exc:
        log.warning("could not repair the message of change request #%d: %s", request_id, exc)
