"""An in-memory snapshot of both tables, refreshed when the store's version changes.

The socketmap answers every lookup from memory: at thousands of lookups a second
a query per lookup is out of the question on a remote PostgreSQL. A background
task asks the store for its *version* (one cheap query) every
``refresh_interval`` seconds and reloads the tables only when it changed.

Staleness bound: an approved change is answered at most ``refresh_interval``
plus one reload after it was committed. If the store cannot be reached, the
last snapshot keeps being served until it is ``max_stale`` seconds older than
its last successful check; after that, and before the first successful load,
every lookup is answered ``TEMP`` so Postfix defers instead of guessing.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Protocol

from bot.export.tables import Tables

log = logging.getLogger(__name__)


class Source(Protocol):
    """Where the tables come from (the database in production)."""

    def version(self) -> Hashable:
        """A value that changes whenever the published policy may have changed."""
        ...

    def load(self) -> tuple[Hashable, Tables]:
        """The version and the tables at that version."""
        ...


@dataclass(frozen=True)
class Snapshot:
    tables: Tables
    version: Hashable
    checked_at: float  # monotonic time of the last successful version check


class SnapshotCache:
    """Holds the current :class:`Snapshot`; ``current()`` is what lookups read."""

    def __init__(
        self,
        source: Source,
        *,
        refresh_interval: float = 0.25,
        max_stale: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self.refresh_interval = refresh_interval
        self.max_stale = max_stale
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self.last_error: str | None = None

    def current(self) -> Tables | None:
        """The tables to answer from, or ``None`` when they cannot be trusted (→ TEMP)."""
        snap = self._snapshot
        if snap is None or self._clock() - snap.checked_at > self.max_stale:
            return None
        return snap.tables

    @property
    def version(self) -> Hashable | None:
        return None if self._snapshot is None else self._snapshot.version

    def refresh(self) -> bool:
        """Check the version, reload if it changed; ``True`` when tables were (re)loaded.

        Blocking (it queries the store): run it in a worker thread from asyncio.
        """
        try:
            snap = self._snapshot
            if snap is not None and self._source.version() == snap.version:
                self._snapshot = Snapshot(snap.tables, snap.version, self._clock())
                self.last_error = None
                return False
            version, tables = self._source.load()
        except Exception as exc:  # any store failure means "could not check"
            message = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            if message != self.last_error:
                log.warning("policy store unavailable: %s", message)
            self.last_error = message
            return False
        gc.freeze()  # the snapshot lives long: keep it out of future collections' work
        for rejection in tables.rejected:
            log.warning("not published: %s", rejection)
        self._snapshot = Snapshot(tables, version, self._clock())
        self.last_error = None
        log.info(
            "loaded version %s: %d outbound, %d inbound entries",
            version,
            len(tables.tls_policy),
            len(tables.tls_inbound),
        )
        return True

    async def run(self) -> None:
        """Refresh forever, every ``refresh_interval`` seconds."""
        while True:
            await asyncio.to_thread(self.refresh)
            await asyncio.sleep(self.refresh_interval)
