"""Delivering stored alerts to the sink, at least once, one alert per transaction.

An alert is written to the database first and delivered after; a sink that
fails (Slack down) leaves it undelivered and the next sweep tries again. Each
alert is taken with ``FOR UPDATE SKIP LOCKED`` and marked in the same
transaction as its delivery, so two replicas do not post the same message.
An alert superseded before it was ever posted is not posted at all.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from bot.policy.db import new_session
from bot.policy.monitor.clock import Clock
from bot.policy.monitor.sink import AlertSink
from bot.policy.monitor.store import alert_of, next_undelivered

log = logging.getLogger("tlsbot.monitor")


async def deliver(*, engine: Engine, sink: AlertSink, clock: Clock, limit: int = 1000) -> int:
    """Deliver what is pending; returns the number of messages sent. Stops at a sink error."""
    sent = 0
    for _ in range(limit):
        with new_session(engine) as session:
            row = next_undelivered(session)
            if row is None:
                return sent
            alert = alert_of(row)
            try:
                if row.sent_at is None:
                    if row.resolved_at is not None and not row.notify_resolution:
                        row.sent_at = clock()  # superseded before anyone saw it
                    else:
                        row.message_ref = await sink.send(alert)
                        row.sent_at = clock()
                        sent += 1
                elif row.resolved_at is not None and row.notify_resolution:
                    await sink.resolve(alert)
                    row.resolve_sent_at = clock()
                    sent += 1
            except Exception:
                session.rollback()
                log.exception("could not deliver alert %s; will retry on the next sweep", row.id)
                return sent
            session.add(row)
            session.commit()
    return sent
