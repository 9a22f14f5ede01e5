"""How many probes run at once: a global limit and a per-address limit.

``Limits(concurrency, per_address)`` hands out slots with ``async with
limits.slot(address)``. A host probe holds one slot for its whole life and opens its
connections one after another, so "probes per address" is "connections at once per
address"; the probe's setting is 1 (``ProbeSettings.per_address``): never two
connections at once to one address, whatever host names or ports share it. The
per-address slot is taken first, so a probe queued behind a busy address does not
sit on one of the global slots meanwhile. Semaphores of addresses nobody waits for
are dropped, so a long batch does not accumulate them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Limits:
    def __init__(self, concurrency: int, per_address: int = 2) -> None:
        if concurrency < 1 or per_address < 1:
            raise ValueError("limits must be at least 1")
        self.concurrency = concurrency
        self.per_address = per_address
        self._global = asyncio.Semaphore(concurrency)
        self._addresses: dict[str, tuple[asyncio.Semaphore, int]] = {}
        self.active = 0
        self.peak = 0
        self.peak_per_address: dict[str, int] = {}
        self._active_per_address: dict[str, int] = {}

    @asynccontextmanager
    async def slot(self, address: str) -> AsyncIterator[None]:
        semaphore, users = self._addresses.get(address, (None, 0))
        if semaphore is None:
            semaphore = asyncio.Semaphore(self.per_address)
        self._addresses[address] = (semaphore, users + 1)
        try:
            async with semaphore, self._global:
                self._enter(address)
                try:
                    yield
                finally:
                    self._leave(address)
        finally:
            semaphore, users = self._addresses[address]
            if users <= 1:
                del self._addresses[address]
            else:
                self._addresses[address] = (semaphore, users - 1)

    def _enter(self, address: str) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)
        now = self._active_per_address.get(address, 0) + 1
        self._active_per_address[address] = now
        self.peak_per_address[address] = max(self.peak_per_address.get(address, 0), now)

    def _leave(self, address: str) -> None:
        self.active -= 1
        now = self._active_per_address[address] - 1
        if now:
            self._active_per_address[address] = now
        else:
            del self._active_per_address[address]
