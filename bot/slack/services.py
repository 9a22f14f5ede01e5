"""What the listeners need, assembled once at start-up and handed to ``build_app``.

Listeners reach it through ``context["services"]`` (put there by middleware), so
no listener imports a global and tests can bring their own parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.clock import Clock
from bot.config import Settings
from bot.export.gateway import GatewayName
from bot.export.mimecast import MimecastClient
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
    gateway_admins: Approvers | None = None  # who may click Mark applied (default: approvers)
    mimecast: MimecastClient | None = None  # when Mimecast is one of TLSBOT_GATEWAYS

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
            gateway_admins=Approvers(
                frozenset(a for a in settings.admins if a.startswith("U")),
                frozenset(a for a in settings.admins if a.startswith("S")),
            ),
            mimecast=(
                MimecastClient(settings.mimecast)
                if settings.mimecast is not None and GatewayName.MIMECAST in settings.gateways
                else None
            ),
        )
