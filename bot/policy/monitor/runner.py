"""Running the monitor: one sweep (``--once``), or a loop until told to stop.

For the Slack ``serve`` process (sharing its engine, prober and Web API client)::

    stop = asyncio.Event()
    task = asyncio.create_task(
        run_monitor(
            settings,
            sink=SlackAlertSink(app.client, settings.alerts_to),
            stop_event=stop,
            engine=store.engine,
            prober=prober,
        )
    )
    ...                 # on shutdown:
    stop.set(); await task

Without ``engine`` / ``prober`` it makes (and closes) its own.

``run_monitor`` never raises on a failed sweep (database away, a bug in a probe):
it logs and tries again after ``poll`` seconds, so it cannot take ``serve`` down.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import select

from bot.clock import Clock, as_utc
from bot.config import Settings
from bot.policy.db import make_engine, new_session
from bot.policy.monitor.models import MonitorItem
from bot.policy.monitor.sink import AlertSink
from bot.policy.monitor.sweep import AfterRaise, MonitorConfig, Probe, SweepReport, sweep

log = logging.getLogger("tlsbot.monitor")

DEFAULT_POLL_SECONDS = 60.0


def make_prober(settings: Settings, clock: Clock, engine: Engine | None = None) -> Probe:
    """The real prober (imported here so the monitor's import stays light); with the
    store's ``engine``, MTA-STS policies are cached there, shared by every replica."""
    from bot.policy.sts_cache import DatabaseStsCache
    from bot.probe.prober import Prober

    cache = DatabaseStsCache(engine) if engine is not None else None
    prober: Probe = Prober(settings.probe, clock=clock, sts_cache=cache)
    return prober


async def close_prober(prober: object) -> None:
    closer: Any = getattr(prober, "aclose", None) or getattr(prober, "close", None)
    if closer is not None:
        result = closer()
        if inspect.isawaitable(result):
            await result


async def run_once(
    settings: Settings,
    *,
    sink: AlertSink,
    clock: Clock,
    everything: bool = False,
    engine: Engine | None = None,
    prober: Probe | None = None,
    after_raise: AfterRaise | None = None,
) -> SweepReport:
    """One sweep of what is due (``everything``: of every item) with the settings' limits."""
    own_engine = engine is None
    engine = engine or make_engine(settings.database_url, pool_size=settings.db_pool_size)
    own_prober = prober is None
    prober = prober or make_prober(settings, clock, engine)
    try:
        return await sweep(
            engine=engine,
            prober=prober,
            sink=sink,
            clock=clock,
            config=MonitorConfig.from_settings(settings),
            everything=everything,
            after_raise=after_raise if after_raise is not None else default_after_raise(settings),
        )
    finally:
        if own_prober:
            await close_prober(prober)
        if own_engine:
            engine.dispose()


async def run_monitor(
    settings: Settings,
    *,
    sink: AlertSink,
    stop_event: asyncio.Event,
    clock: Clock,
    engine: Engine | None = None,
    prober: Probe | None = None,
    poll: float = DEFAULT_POLL_SECONDS,
) -> None:
    """Sweep, sleep until the next item is due (at most ``poll`` s), repeat until stopped."""
    own_engine = engine is None
    engine = engine or make_engine(settings.database_url, pool_size=settings.db_pool_size)
    own_prober = prober is None
    prober = prober or make_prober(settings, clock, engine)
    config = MonitorConfig.from_settings(settings)
    after = default_after_raise(settings)
    try:
        while not stop_event.is_set():
            try:
                report = await sweep(
                    engine=engine,
                    prober=prober,
                    sink=sink,
                    clock=clock,
                    config=config,
                    after_raise=after,
                )
                if report.checked or report.delivered:
                    log.info(
                        "monitor: checked %d, raised %d, resolved %d, delivered %d",
                        report.checked,
                        len(report.raised),
                        len(report.resolved),
                        report.delivered,
                    )
                wait = seconds_until_due(engine, clock, poll)
            except Exception:
                log.exception("monitor sweep failed; retrying in %.0f s", poll)
                wait = poll
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), timeout=wait)
    finally:
        if own_prober:
            await close_prober(prober)
        if own_engine:
            engine.dispose()


def seconds_until_due(engine: Engine, clock: Clock, poll: float) -> float:
    with new_session(engine) as session:
        first: datetime | None = session.exec(select(func.min(MonitorItem.next_check_at))).one()
    if first is None:
        return poll
    delta = as_utc(first) - clock()
    return max(0.5, min(poll, delta / timedelta(seconds=1)))


def default_after_raise(settings: Settings) -> AfterRaise | None:
    """Open the change requests the monitor proposes itself (observe → enforce)."""
    from bot.policy.monitor.actions import proposal_hook

    return proposal_hook(settings)
