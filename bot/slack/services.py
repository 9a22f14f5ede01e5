"""What the listeners need, assembled once at start-up and handed to ``build_app``.

Listeners reach it through ``context["services"]`` (put there by middleware), so
no listener imports a global and tests can bring their own parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.clock import Clock
from bot.config import Settings
from bot.slack.approvers import Approvers
from bot.slack.probing import ProberPort
from bot.slack.store import Store
from bot.slack.tasks import Background


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    prober: ProberPort
    approvers: Approvers
    clock: Clock  # the one "now" of every listener and of the schedule
    background: Background = field(default_factory=Background)

    @classmethod
    def for_settings(
        cls, settings: Settings, *, store: Store, prober: ProberPort, clock: Clock
    ) -> Services:
        return cls(
            settings=settings,
            store=store,
            prober=prober,
            approvers=Approvers(settings.approver_users, settings.approver_groups),
            clock=clock,
        )
