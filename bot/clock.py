"""The one clock: "now" for every part of tlsbot, handed in from the edge.

A clock is any callable returning an aware UTC :class:`~datetime.datetime`. The
edges (``tlsbot`` commands, ``serve``, the monitor worker) hold one,
:func:`system_clock` in production, and pass it down; services take the instant
they act at (``now=``) or, when they act over time (a sweep, a schedule), the
clock itself. Nothing below the edge reads the wall clock, so a test that fixes
an instant with :class:`ManualClock` fixes it everywhere.

Monotonic time for deadlines and rate limits (``time.monotonic``) is not "now"
and stays where it is used.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The wall clock, aware, in UTC: the clock the edges use in production."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; naive values (as SQLite returns them) are taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class ManualClock:
    """A clock that only moves when told to (tests, and replaying a fixed instant)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self.now = as_utc(start)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**kwargs)``; return the new time."""
        self.now += delta if delta is not None else timedelta(**kwargs)
        return self.now
