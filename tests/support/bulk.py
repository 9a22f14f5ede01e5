"""Many policies at once, for the scale tests: chunked core inserts, no services.

``add_policies(engine, 20_000, now=…)`` writes the rows with ``insert_many``, in
statements of at most ``rows_per_statement`` rows each (the limit the code under
test keeps), so the set-up itself never sends PostgreSQL more than its 65,535 bind
parameters.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, insert

from bot.policy.db import insert_many
from bot.policy.models import DomainPolicy


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
