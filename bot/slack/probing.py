"""The seam between the Slack layer and the probe.

The Slack layer only needs these three coroutines; ``bot.probe.prober.Prober``
provides them, and so can any small stand-in a test brings.
"""

from __future__ import annotations

from typing import Protocol

from bot.probe.model import TargetResult


class ProberPort(Protocol):
    async def probe_domain(self, domain: str, *, email: str | None = None) -> TargetResult: ...

    async def probe_email(self, address: str) -> TargetResult: ...

    async def probe_route(
        self, host: str, port: int | None = None, *, email: str | None = None
    ) -> TargetResult: ...
