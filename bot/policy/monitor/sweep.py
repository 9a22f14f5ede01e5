"""One sweep: add new items, claim what is due, probe it, record it, deliver the alerts.

``sweep(engine=…, prober=…, sink=…, clock=…, config=…)`` is what ``tlsbot monitor
--once`` runs and what the worker loop repeats. Items are claimed in batches of
the probe's concurrency limit and probed together; the prober applies its own
global and per-destination limits inside. The whole round is one probe batch
(``Prober.batch()``): a host shared by many domains due in it is probed once.
A probe that crashes (a bug) is logged and its item is left alone for
``RETRY_AFTER_CRASH`` (at most one period).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from sqlalchemy import Engine
from sqlmodel import Session

from bot.clock import Clock
from bot.config import Settings
from bot.policy.db import new_session
from bot.policy.monitor.alerts import Alert, SubjectKind, Thresholds, Watched
from bot.policy.monitor.delivery import deliver
from bot.policy.monitor.evidence import check_evidence
from bot.policy.monitor.machine import Outcome
from bot.policy.monitor.schedule import period_of
from bot.policy.monitor.sink import AlertSink
from bot.policy.monitor.store import Claimed, claim, record_check, release, sync_items
from bot.probe.model import TargetResult
from bot.probe.names import parse_route

log = logging.getLogger("tlsbot.monitor")

RETRY_AFTER_CRASH = timedelta(minutes=10)


class Probe(Protocol):
    """What the monitor needs of ``bot.probe.prober.Prober``."""

    async def probe_domain(self, domain: str) -> TargetResult: ...

    async def probe_route(self, host: str, port: int | None = None) -> TargetResult: ...


@runtime_checkable
class Batching(Protocol):
    """A prober that can share its host probes across every check of one round."""

    def batch(self) -> Probe: ...


# Called after a check is stored, in a fresh session, for each alert raised; the
# monitor uses it to open the change requests it proposes (observe → enforce).
AfterRaise = Callable[[Session, Alert, Watched], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    period: timedelta = timedelta(hours=24)
    thresholds: Thresholds = field(default_factory=Thresholds)
    lease: timedelta = timedelta(minutes=5)
    batch: int = 50

    @classmethod
    def from_settings(cls, settings: Settings) -> MonitorConfig:
        probe = settings.probe
        return cls(
            period=period_of(settings.revalidate_hours),
            thresholds=Thresholds(
                expiry_warn_days=settings.expiry_warn_days,
                relaxed_remind_days=min(settings.expiry_warn_days, settings.relaxed_days),
                relaxed_days=settings.relaxed_days,
                observe_days=settings.observe_days,
            ),
            # a domain's hosts are probed concurrently, each within the deadline;
            # DNS and MTA-STS come first. Generous, so a slow check keeps its lease.
            lease=timedelta(seconds=max(120.0, 6 * probe.timeout + 2 * probe.dns_timeout)),
            batch=probe.concurrency,
        )


@dataclass(frozen=True, slots=True)
class SweepReport:
    checked: int = 0
    raised: tuple[Alert, ...] = ()
    resolved: tuple[Alert, ...] = ()
    failed: int = 0
    delivered: int = 0


def new_owner() -> str:
    """A lease owner tag unique to this sweep: host, process, random."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


async def check(prober: Probe, watched: Watched) -> TargetResult:
    if watched.kind is SubjectKind.ROUTE:
        host, port = parse_route(watched.name)
        return await prober.probe_route(host, port)
    return await prober.probe_domain(watched.name)


async def sweep(
    *,
    engine: Engine,
    prober: Probe,
    sink: AlertSink,
    clock: Clock,
    config: MonitorConfig,
    everything: bool = False,
    after_raise: AfterRaise | None = None,
) -> SweepReport:
    """Check what is due (``everything``: all items not yet checked in this sweep)."""
    owner = new_owner()
    started = clock()
    if isinstance(prober, Batching):
        prober = prober.batch()  # one probe per (host, address, port) for the whole round
    # The database work runs in a worker thread, so that a sweep inside ``serve``
    # never holds the event loop (Slack must be answered within 3 s).
    closed = await asyncio.to_thread(_sync, engine, started, config)
    checked, failed = 0, 0
    raised: list[Alert] = []
    resolved: list[Alert] = list(closed)
    while True:
        batch = await asyncio.to_thread(_claim, engine, clock, owner, config, everything)
        if not batch:
            break
        results = await asyncio.gather(
            *(check(prober, c.watched) for c in batch), return_exceptions=True
        )
        done: list[tuple[Claimed, TargetResult]] = []
        for claimed, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                failed += 1
                log.error("probe of %s failed", claimed.watched.name, exc_info=result)
                retry_at = clock() + min(config.period, RETRY_AFTER_CRASH)
                await asyncio.to_thread(_release, engine, claimed, owner, retry_at)
                continue
            done.append((claimed, result))
        stored = await asyncio.to_thread(_store_all, engine, done, owner, clock, config)
        for (claimed, _), outcome in zip(done, stored, strict=True):
            if outcome is None:
                continue
            checked += 1
            raised.extend(outcome.raised)
            resolved.extend(outcome.resolved)
            if after_raise is not None:
                for alert in outcome.raised:
                    with new_session(engine) as session:
                        await after_raise(session, alert, claimed.watched)
    changed = await asyncio.to_thread(_evidence, engine, clock(), config)
    raised.extend(a for a in changed if not a.resolved)
    resolved.extend(a for a in changed if a.resolved)
    delivered = await deliver(engine=engine, sink=sink, clock=clock)
    return SweepReport(checked, tuple(raised), tuple(resolved), failed, delivered)


def _evidence(engine: Engine, now: datetime, config: MonitorConfig) -> list[Alert]:
    """The alerts from real mail (Postfix's log, TLS-RPT), every sweep."""
    with new_session(engine) as session:
        return check_evidence(session=session, now=now, thresholds=config.thresholds)


def _sync(engine: Engine, now: datetime, config: MonitorConfig) -> list[Alert]:
    with new_session(engine) as session:
        return sync_items(session=session, now=now, period=config.period)


def _claim(
    engine: Engine,
    clock: Clock,
    owner: str,
    config: MonitorConfig,
    everything: bool,
) -> list[Claimed]:
    with new_session(engine) as session:
        return claim(
            session=session,
            now=clock(),
            owner=owner,
            lease=config.lease,
            limit=config.batch,
            everything=everything,
        )


def _release(engine: Engine, claimed: Claimed, owner: str, retry_at: datetime) -> None:
    with new_session(engine) as session:
        release(session=session, item_id=claimed.item_id, owner=owner, retry_at=retry_at)


def _store_all(
    engine: Engine,
    done: list[tuple[Claimed, TargetResult]],
    owner: str,
    clock: Clock,
    config: MonitorConfig,
) -> list[Outcome | None]:
    return [
        store_check(engine, claimed, owner, result, clock(), config) for claimed, result in done
    ]


def store_check(
    engine: Engine,
    claimed: Claimed,
    owner: str,
    result: TargetResult,
    now: datetime,
    config: MonitorConfig,
) -> Outcome | None:
    """Record one claimed item's check in its own transaction (``None``: the lease was lost)."""
    with new_session(engine) as session:
        return record_check(
            session=session,
            claimed=claimed,
            owner=owner,
            result=result,
            now=now,
            period=config.period,
            thresholds=config.thresholds,
        )
