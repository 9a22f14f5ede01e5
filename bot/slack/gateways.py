"""The gateways from ``serve``: hand-overs to the admins, reminders, the Mimecast sync.

:func:`refresh` runs after every approved change (:func:`after_change`, from the
approval listener) and on the monitoring schedule (:func:`run_gateways`):

- for each manual gateway in TLSBOT_GATEWAYS whose lists changed, a hand-over is
  stored (:func:`bot.export.handover.prepare`) and sent to every gateway admin
  (TLSBOT_GATEWAY_ADMINS, users and user groups; default the approvers) as a direct
  message: the file (``files.uploadV2``), then the diff since the last applied state
  with *Mark applied*;
- Mimecast, when in use, is synced; drift seen for the first time raises an alert in
  the alert channel with *Adopt* / *Revert*.

Every ``poll`` seconds :func:`remind_due` reminds once about each hand-over pending
for longer than TLSBOT_APPLY_REMIND_HOURS (the injected clock decides).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session, col, select

from bot.export import handover
from bot.export.drift import describe
from bot.export.gateway import GatewayName
from bot.export.handover import HandoverState, Prepared
from bot.export.mimecast import MimecastError
from bot.export.mimecast_sync import sync
from bot.export.registry import GATEWAYS
from bot.policy.models import GatewayDrift, GatewayHandover
from bot.slack.services import Services
from bot.slack.views.gateways import (
    DriftCard,
    HandoverCard,
    drift_message,
    handover_message,
    reminder_message,
)

log = logging.getLogger("bot.gateways")


def after_change(services: Services, client: AsyncWebClient) -> None:
    """Start :func:`refresh` in the background (an approval was just applied)."""
    services.background.spawn(_guarded(services, client), name="tlsbot gateways")


async def _guarded(services: Services, client: AsyncWebClient) -> None:
    try:
        await refresh(services, client)
    except Exception:
        log.exception("bringing the gateways in line failed; the schedule will try again")


async def refresh(services: Services, client: AsyncWebClient) -> None:
    for name in services.settings.gateways:
        if not GATEWAYS[name].manual:
            continue

        def prepare(session: Session, name: GatewayName = name) -> Prepared | None:
            return handover.prepare(session=session, gateway=name, now=services.clock())

        prepared = await services.store.run(prepare)
        if prepared is not None:
            await hand_over(services, client, prepared)
    if services.mimecast is not None:
        await sync_mimecast(services, client)


async def admin_users(services: Services, client: AsyncWebClient) -> list[str]:
    """Every gateway admin as a user id (user groups resolved through Slack)."""
    users: list[str] = []
    for entry in services.settings.admins:
        if entry.startswith("U"):
            users.append(entry)
            continue
        try:
            answer = await client.usergroups_users_list(usergroup=entry)
        except Exception:
            log.warning("cannot resolve the user group %s of the gateway admins", entry)
            continue
        users += [str(u) for u in answer.get("users") or ()]
    return list(dict.fromkeys(users))


def card_of(row: GatewayHandover, changes: tuple[handover.Change, ...] = ()) -> HandoverCard:
    assert row.id is not None
    adapter = GATEWAYS[GatewayName(row.gateway)]
    return HandoverCard(
        id=row.id,
        title=adapter.title,
        file_name=adapter.file_name or "file",
        created_at=row.created_at,
        changes=changes,
        applied_by=row.applied_by_id,
        applied_at=row.applied_at,
        superseded=row.state == HandoverState.SUPERSEDED,
    )


async def hand_over(services: Services, client: AsyncWebClient, prepared: Prepared) -> None:
    """Send the file and the diff with *Mark applied* to each admin; remember where."""
    title = GATEWAYS[prepared.gateway].title
    card = HandoverCard(
        prepared.handover_id, title, prepared.file_name, services.clock(), prepared.changes
    )
    where: list[dict[str, str]] = []
    for user in await admin_users(services, client):
        try:
            opened = await client.conversations_open(users=user)
            channel = str(opened["channel"]["id"])
            await client.files_upload_v2(
                channel=channel,
                filename=prepared.file_name,
                content=prepared.text,
                title=f"{title}: hand-over #{prepared.handover_id}",
                initial_comment=f"{title}: the file to apply (hand-over #{prepared.handover_id})",
            )
            posted = await client.chat_postMessage(channel=channel, **handover_message(card))
            where.append({"channel": channel, "ts": str(posted["ts"])})
        except Exception:
            log.exception("could not hand over #%d to %s", prepared.handover_id, user)
    await services.store.run(
        lambda s: handover.record_posted(session=s, handover_id=prepared.handover_id, where=where)
    )


async def show_handover(services: Services, client: AsyncWebClient, handover_id: int) -> None:
    """Redraw every message of a hand-over (applied: who and when, no button)."""

    def load(session: Session) -> tuple[HandoverCard, list[dict[str, str]]]:
        row = handover.get(session, handover_id)
        return card_of(row), list(row.posted or [])

    card, where = await services.store.run(load)
    for place in where:
        try:
            await client.chat_update(
                channel=place["channel"], ts=place["ts"], **handover_message(card)
            )
        except Exception:
            log.exception("could not update a message of hand-over #%d", handover_id)


async def remind_due(services: Services, client: AsyncWebClient) -> int:
    """Remind once about each hand-over pending past TLSBOT_APPLY_REMIND_HOURS."""
    settings = services.settings

    def claim(session: Session) -> list[tuple[HandoverCard, list[dict[str, str]]]]:
        rows = handover.due_reminders(
            session=session,
            gateways=settings.gateways,
            now=services.clock(),
            hours=settings.apply_remind_hours,
        )
        return [(card_of(row), list(row.posted or [])) for row in rows]

    due = await services.store.run(claim)
    for card, where in due:
        for place in where:
            try:
                await client.chat_postMessage(
                    channel=place["channel"],
                    thread_ts=place["ts"],
                    reply_broadcast=True,
                    **reminder_message(card),
                )
            except Exception:
                log.exception("could not remind about hand-over #%d", card.id)
    return len(due)


async def sync_mimecast(services: Services, client: AsyncWebClient) -> None:
    assert services.mimecast is not None
    try:
        report = await sync(runner=services.store, client=services.mimecast, now=services.clock)
    except MimecastError as exc:
        log.error("Mimecast sync failed: %s", exc)
        return
    for line in report.lines():
        log.info("%s", line)
    if report.new_drift:
        await alert_drift(services, client, report.new_drift)


def drift_card(drift: GatewayDrift) -> DriftCard:
    assert drift.id is not None
    return DriftCard(drift.id, describe(drift), drift.detected_at)


async def alert_drift(services: Services, client: AsyncWebClient, drift_ids: list[int]) -> None:
    channel = services.settings.alerts_to
    if channel is None:
        log.warning("Mimecast drift %s: no alert channel is set", drift_ids)
        return

    def load(session: Session) -> list[DriftCard]:
        query = select(GatewayDrift).where(col(GatewayDrift.id).in_(drift_ids))
        return [drift_card(d) for d in session.exec(query.order_by(col(GatewayDrift.id)))]

    for card in await services.store.run(load):
        posted = await client.chat_postMessage(channel=channel, **drift_message(card))
        where = {"channel": str(posted.get("channel") or channel), "ts": str(posted["ts"])}

        def record(
            session: Session, drift_id: int = card.id, where: dict[str, str] = where
        ) -> None:
            row = session.get(GatewayDrift, drift_id)
            if row is not None:
                row.alert = where
                session.add(row)

        await services.store.run(record)


async def run_gateways(
    services: Services, client: AsyncWebClient, stop: asyncio.Event, *, poll: float
) -> None:
    """Refresh at start and every TLSBOT_REVALIDATE_HOURS; remind every ``poll`` seconds."""
    every = timedelta(hours=services.settings.revalidate_hours)
    last: datetime | None = None
    while not stop.is_set():
        now = services.clock()
        try:
            if last is None or now - last >= every:
                last = now
                await refresh(services, client)
            await remind_due(services, client)
        except Exception:
            log.exception("the gateways' schedule failed; retrying in %.0f s", poll)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll)
