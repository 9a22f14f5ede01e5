"""Running sweeps step by step in the end-to-end tests, and the people who click."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from bot.clock import ManualClock, system_clock
from bot.config import Settings
from bot.policy.models import DomainPolicy, InboundRoute
from bot.policy.monitor.actions import proposal_hook
from bot.policy.monitor.alerts import Condition
from bot.policy.monitor.sink import RecordingSink
from bot.policy.monitor.sweep import MonitorConfig, Probe, SweepReport, sweep
from bot.policy.types import Actor

ANN = Actor("U0ANN", "Ann Admin")  # clicks the alert's buttons
BO = Actor("U0BO", "Bo Approver")


def anyone_approves(user_id: str) -> bool:
    return True


def add_policy(session: Session, domain: str, mx: list[str], **kw: object) -> DomainPolicy:
    kw.setdefault("created_at", system_clock())
    kw.setdefault("updated_at", kw["created_at"])
    policy = DomainPolicy(domain=domain, level=kw.pop("level", "strict"), mx_hosts=mx, **kw)
    session.add(policy)
    session.commit()
    return policy


def add_route(session: Session, host: str, port: int, verdict: str = "strict") -> InboundRoute:
    route = InboundRoute(
        host=host,
        port=port,
        last_verdict=verdict,
        created_at=system_clock(),
        updated_at=system_clock(),
    )
    session.add(route)
    session.commit()
    return route


@dataclass
class Monitor:
    engine: Engine
    prober: Probe
    clock: ManualClock = field(default_factory=lambda: ManualClock(datetime.now(UTC)))
    sink: RecordingSink = field(default_factory=RecordingSink)
    settings: Settings = field(default_factory=lambda: Settings(relaxed_days=90, observe_days=7))

    @property
    def config(self) -> MonitorConfig:
        return MonitorConfig.from_settings(self.settings)

    async def step(self, advance: timedelta = timedelta(hours=1)) -> SweepReport:
        """Move the clock on and re-check everything (like ``tlsbot monitor --once --all``)."""
        self.clock.advance(advance)
        return await sweep(
            engine=self.engine,
            prober=self.prober,
            sink=self.sink,
            clock=self.clock,
            config=self.config,
            everything=True,
            after_raise=proposal_hook(self.settings),
        )


def raised(report: SweepReport) -> list[Condition]:
    return [a.condition for a in report.raised]


def resolved(report: SweepReport) -> list[Condition]:
    return [a.condition for a in report.resolved]
