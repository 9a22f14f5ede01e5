"""Many policies at once, for the scale tests: chunked core inserts, no services, and
a prober that answers from memory (what those tests exercise is the bookkeeping).

``add_policies(engine, 20_000, now=…)`` writes the rows with ``insert_many``, in
statements of at most ``rows_per_statement`` rows each (the limit the code under
test keeps), so the set-up itself never sends PostgreSQL more than its 65,535 bind
parameters.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import Engine, insert

from bot.policy.db import insert_many
from bot.policy.models import DomainPolicy
from bot.probe.model import Code, HostResult, Reason, TargetKind, TargetResult, Verdict


def policy_row(domain: str, now: datetime, **values: object) -> dict[str, object]:
    return {
        "domain": domain,
        "level": "strict",
        "mx_hosts": [f"mx1.{domain}"],
        "secure_delivery": True,
        "secure_receipt": True,
        "mode": "enforce",
        "status": "active",
        "version": 1,
        "created_at": now,
        "updated_at": now,
        **values,
    }


def add_policies(
    engine: Engine, count: int, *, now: datetime, prefix: str = "d", start: int = 0
) -> list[str]:
    """``count`` active strict policies ``{prefix}{i}.example``; returns their domains."""
    names = [f"{prefix}{i}.example" for i in range(start, start + count)]
    rows = [policy_row(name, now) for name in names]
    with engine.begin() as connection:
        insert_many(connection, insert(DomainPolicy.__table__), rows)  # type: ignore[attr-defined]
    return names


class InstantProber:
    """Every domain strict at once, but every tenth one unsupported; counts the probes."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    async def probe_domain(self, domain: str) -> TargetResult:
        self.calls[domain] += 1
        broken = domain.endswith("0.example")
        verdict = Verdict.UNSUPPORTED if broken else Verdict.STRICT
        reasons = (Reason(Code.STARTTLS_NOT_SUPPORTED, "no STARTTLS"),) if broken else ()
        mx = f"mx1.{domain}"
        host = HostResult(mx, "192.0.2.1", 25, verdict, reasons, reached=True)
        return TargetResult(domain, TargetKind.DOMAIN, domain, verdict, (host,), mx=(mx,))

    async def probe_route(self, host: str, port: int | None = None) -> TargetResult:
        raise NotImplementedError
