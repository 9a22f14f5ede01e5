"""A prober that answers from a script (for the database-level tests of the monitor).

The end-to-end tests use the real prober against loopback servers; these tests
are about scheduling, claiming and alert bookkeeping, so they set each target's
result directly and count the probes.
"""

from __future__ import annotations

from collections import Counter

from bot.probe.model import TargetResult


class ScriptedProber:
    def __init__(self, results: dict[str, TargetResult] | None = None) -> None:
        self.results: dict[str, TargetResult] = dict(results or {})
        self.calls: Counter[str] = Counter()

    async def probe_domain(self, domain: str) -> TargetResult:
        self.calls[domain] += 1
        return self.results[domain]

    async def probe_route(self, host: str, port: int | None = None) -> TargetResult:
        route = f"{host}:{port}"
        self.calls[route] += 1
        return self.results[route]
