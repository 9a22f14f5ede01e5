"""Delivering stored alerts to the sink, at least once, one alert per transaction.

An alert is written to the database first and delivered after; a sink that
fails (Slack down) leaves it undelivered and the next sweep tries again. Each
alert is taken with ``FOR UPDATE SKIP LOCKED`` and marked in the same
transaction as its delivery, so two replicas do not post the same message.
An alert superseded before it was ever posted is not posted at all. A failure
stops the round (Slack is probably down); an alert refused ``MAX_ATTEMPTS``
times in a row is given up, so one bad message cannot block the others.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from bot.clock import Clock
from bot.policy.db import new_session
from bot.policy.monitor.sink import AlertSink
from bot.policy.monitor.store import MAX_ATTEMPTS, alert_of, delivery_failed, next_undelivered

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
            except Exception as exc:
                session.rollback()
                error = f"{type(exc).__name__}: {exc}"
                attempts = delivery_failed(session=session, alert_id=alert.id, error=error)
                if attempts >= MAX_ATTEMPTS:
                    log.error(
                        "gave up delivering alert %s after %d attempts: %s",
                        alert.id,
                        attempts,
                        error,
                    )
                else:
                    log.warning("could not deliver alert %s (%s); will retry", alert.id, error)
                return sent
            row.attempts = 0
            row.last_error = None
            session.add(row)
            session.commit()
    return sent
