"""Delivering the outbox: what a decision must show in Slack, after it was committed.

A decision writes its notice in its own transaction (:mod:`bot.policy.notices`).
:func:`deliver` claims the notices that are due, rebuilds each request's card as it
is *now*, updates the approval message where it was announced and, once the
request is closed, tells the requester by direct message; only then is the notice
marked delivered. A call that fails leaves the notice for a later round; a process
killed before or during delivery leaves it too, and the next round, on any replica,
picks it up when its lease runs out. Delivery is at least once, and every copy says
the same thing, because every copy is built from the stored request.

Rounds run right after each decision taken in this process, at start-up, and every
:data:`POLL` seconds from ``serve``'s schedule (:func:`run_outbox`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.policy import notices
from bot.policy.notices import NoticeTopic
from bot.slack.approval import announced_card
from bot.slack.replies import dm
from bot.slack.services import Services
from bot.slack.views.approval import decision_dm, request_message

log = logging.getLogger(__name__)

POLL = 5.0  # seconds between rounds of the outbox in serve


@dataclass(frozen=True, slots=True)
class Round:
    delivered: int = 0
    failed: int = 0


async def deliver(services: Services, client: AsyncWebClient) -> Round:
    """One round: claim what is due and deliver it, one request at a time."""
    claimed = await services.store.run(lambda s: notices.claim(session=s, now=services.clock()))
    by_request: dict[int, list[int]] = {}
    closing: set[int] = set()
    for notice in claimed:
        assert notice.id is not None
        by_request.setdefault(notice.request_id, []).append(notice.id)
        if notice.topic == NoticeTopic.DECIDED:
            closing.add(notice.request_id)
    done = failed = 0
    for request_id, ids in by_request.items():
        try:
            await _show(services, client, request_id, tell_requester=request_id in closing)
        except Exception as exc:  # any failure: the notices wait for a later round
            log.warning("could not show change request #%d in Slack yet: %s", request_id, exc)
            await services.store.run(_mark(ids, failed=str(exc), now=services.clock()))
            failed += len(ids)
            continue
        await services.store.run(_mark(ids, failed=None, now=services.clock()))
        done += len(ids)
    return Round(done, failed)


async def _show(
    services: Services, client: AsyncWebClient, request_id: int, *, tell_requester: bool
) -> None:
    card, where = await announced_card(services, request_id)
    if where is not None:  # not announced yet: post_request shows the decision itself
        await client.chat_update(channel=where["channel"], ts=where["ts"], **request_message(card))
    if tell_requester:
        await dm(client, card.requester_id, decision_dm(card))


def _mark(ids: list[int], *, failed: str | None, now: datetime) -> Callable[[Session], None]:
    def run(session: Session) -> None:
        for notice_id in ids:
            if failed is None:
                notices.delivered(session=session, notice_id=notice_id, now=now)
            else:
                notices.failed(session=session, notice_id=notice_id, now=now, error=failed)

    return run


async def run_outbox(
    services: Services, client: AsyncWebClient, stop: asyncio.Event, *, poll: float = POLL
) -> None:
    """Deliver at start, then every ``poll`` seconds until ``stop`` is set."""
    while not stop.is_set():
        try:
            await deliver(services, client)
        except Exception:
            log.exception("the Slack outbox round failed; retrying in %.0f s", poll)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll)
