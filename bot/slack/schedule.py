"""What ``tlsbot serve`` runs beside the listeners: the monitor, and expiring old requests.

:func:`start_schedule` starts two background tasks on the serve process's event
loop, sharing its engine, prober and Web API client:

- the monitor (:func:`bot.policy.monitor.runner.run_monitor`), posting alerts to
  TLSBOT_ALERT_CHANNEL (default: the approval channel), or to the log when
  neither channel is set; a change request the monitor opens itself (*Ready to
  enforce*) is posted to the approval channel with Approve / Reject when its
  alert is delivered (:class:`ProposalPostingSink`);
- every ``poll`` seconds, pending change requests older than
  TLSBOT_REQUEST_TTL_HOURS are expired (:func:`bot.policy.approvals.expire_due`);
- the Slack outbox (:func:`bot.slack.notices.run_outbox`): at start and every few
  seconds, what decisions must show and have not shown yet (the approval message
  updated, without buttons; the requester told by direct message), including
  what a process killed mid-way left behind. An expiry is shown the same way.

:meth:`Schedule.stop` sets the stop event and waits for the tasks to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from slack_sdk.web.async_client import AsyncWebClient

from bot.policy.approvals import expire_due
from bot.policy.monitor.alerts import Alert
from bot.policy.monitor.runner import DEFAULT_POLL_SECONDS, run_monitor
from bot.policy.monitor.sink import AlertSink
from bot.slack import notices
from bot.slack.approval import post_request
from bot.slack.gateways import run_gateways
from bot.slack.monitor.sink import alert_sink
from bot.slack.services import Services

log = logging.getLogger("bot.schedule")

STOP_GRACE = 10.0  # seconds a sweep in flight may take to finish on shutdown (then cancelled)


@dataclass
class Schedule:
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        """Ask both loops to stop; cancel what is still running after STOP_GRACE seconds."""
        self.stop_event.set()
        if not self.tasks:
            return
        _, pending = await asyncio.wait(self.tasks, timeout=STOP_GRACE)
        for task in pending:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class ProposalPostingSink:
    """Delivers alerts through ``inner``; then posts the change request an alert carries.

    The request is posted only after the alert was delivered (so a retried
    delivery does not post it twice); a failure to post is logged, never
    turned into a failed delivery, which would post the alert again.
    """

    def __init__(self, inner: AlertSink, services: Services, client: AsyncWebClient) -> None:
        self.inner = inner
        self.services = services
        self.client = client

    async def send(self, alert: Alert) -> str | None:
        ref = await self.inner.send(alert)
        if alert.change_request_id:
            try:
                await post_request(self.services, self.client, int(alert.change_request_id))
            except Exception:
                log.exception("could not post change request #%s", alert.change_request_id)
        return ref

    async def resolve(self, alert: Alert) -> None:
        await self.inner.resolve(alert)


def start_schedule(
    services: Services, client: AsyncWebClient, *, poll: float = DEFAULT_POLL_SECONDS
) -> Schedule:
    """Start the monitor, the request expiry and the outbox; stop them with ``Schedule.stop()``."""
    schedule = Schedule()
    monitor = run_monitor(
        services.settings,
        sink=ProposalPostingSink(alert_sink(client, services.settings), services, client),
        stop_event=schedule.stop_event,
        engine=services.store.engine,
        prober=services.prober,
        clock=services.clock,
        poll=poll,
    )
    schedule.tasks.append(asyncio.create_task(monitor, name="tlsbot monitor"))
    expiry = run_expiry(services, client, schedule.stop_event, poll=poll)
    schedule.tasks.append(asyncio.create_task(expiry, name="tlsbot request expiry"))
    outbox = notices.run_outbox(services, client, schedule.stop_event)
    schedule.tasks.append(asyncio.create_task(outbox, name="tlsbot slack outbox"))
    gateways = run_gateways(services, client, schedule.stop_event, poll=poll)
    schedule.tasks.append(asyncio.create_task(gateways, name="tlsbot gateways"))
    return schedule


async def run_expiry(
    services: Services, client: AsyncWebClient, stop: asyncio.Event, *, poll: float
) -> None:
    """Expire overdue change requests every ``poll`` seconds until ``stop`` is set."""
    while not stop.is_set():
        try:
            await expire_requests(services, client)
        except Exception:
            log.exception("expiring change requests failed; retrying in %.0f s", poll)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll)


async def expire_requests(services: Services, client: AsyncWebClient) -> int:
    """Expire what is overdue now, then show it (the outbox). Returns how many expired."""
    decisions = await services.store.run(lambda s: expire_due(session=s, now=services.clock()))
    for decision in decisions:
        log.info("change request #%s expired", decision.request.id)
    if decisions:
        await notices.deliver(services, client)
    return len(decisions)
