"""When each watched item is next due: spread evenly and deterministically over the period.

Every item has a fixed *phase*, a fraction of the period derived from a hash of
its key, so 1,000 domains re-validated every 24 h are checked at 1,000 different
moments of the day rather than all at midnight, and every replica computes the
same slots without talking to the others. Slots are counted from the Unix epoch:
item ``k`` is due at ``epoch + phase(k) * period + n * period``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from bot.clock import as_utc

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def period_of(hours: float) -> timedelta:
    """TLSBOT_REVALIDATE_HOURS (fractions allowed) as a period."""
    if hours <= 0:
        raise ValueError("the re-validation period must be positive")
    return timedelta(hours=hours)


def phase(key: str) -> float:
    """A stable fraction in [0, 1) for ``key`` (the same on every replica and run)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def next_slot(key: str, after: datetime, period: timedelta) -> datetime:
    """The first slot of ``key`` strictly later than ``after``."""
    span = period.total_seconds()
    offset = phase(key) * span
    elapsed = (as_utc(after) - _EPOCH).total_seconds() - offset
    cycles = int(elapsed // span) + 1
    return _EPOCH + timedelta(seconds=offset + cycles * span)
