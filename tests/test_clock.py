"""One clock: nothing in the package reads the wall clock but :mod:`bot.clock`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock, as_utc, system_clock

PACKAGE = Path(__file__).resolve().parents[1] / "bot"
WALL_CLOCK = re.compile(r"\b(datetime\.(now|utcnow|today)|date\.today|time\.time|time\.time_ns)\(")


def test_only_bot_clock_reads_the_wall_clock() -> None:
    readers = [
        f"{path.relative_to(PACKAGE.parent)}:{n}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "clock.py" or path.parent != PACKAGE
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if WALL_CLOCK.search(line)
    ]
    assert readers == []


def test_the_pattern_catches_a_wall_clock_read() -> None:
    # the check above would be worthless if the pattern matched nothing
    assert WALL_CLOCK.search("stamp = datetime.now(UTC)")
    assert WALL_CLOCK.search("t = time.time()")
    assert not WALL_CLOCK.search("t = time.monotonic()")


def test_system_clock_is_aware_utc() -> None:
    now = system_clock()
    assert now.tzinfo is UTC


def test_manual_clock_moves_only_when_told() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    clock = ManualClock(start)
    assert clock() == clock() == start
    assert clock.advance(hours=2) == start + timedelta(hours=2)
    assert clock() == start + timedelta(hours=2)


def test_manual_clock_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2030, 1, 1))


def test_naive_values_are_taken_as_utc() -> None:
    assert as_utc(datetime(2030, 1, 1, 12)) == datetime(2030, 1, 1, 12, tzinfo=UTC)
