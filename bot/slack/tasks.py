"""Slow work after the ack: background tasks that are kept alive and can be awaited.

asyncio only keeps weak references to tasks, so a fire-and-forget task may be
collected mid-flight; :class:`Background` holds them until they end and logs
whatever escapes them with a correlation id. ``drain()`` lets tests and a
graceful shutdown wait for the work in flight.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(
        self,
        coro: Coroutine[Any, Any, None],
        *,
        name: str = "tlsbot",
        on_error: Callable[[BaseException], Awaitable[None]] | None = None,
    ) -> None:
        """Run ``coro`` after the ack; ``on_error`` tells the user if it fails."""
        if on_error is not None:
            coro = _guard(coro, on_error)
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            error_id = uuid.uuid4().hex[:12]
            log.error("background task %s failed [%s]", task.get_name(), error_id, exc_info=exc)

    @property
    def busy(self) -> int:
        return len(self._tasks)

    async def drain(self, limit: float = 30.0) -> None:
        """Wait until no task is in flight (tasks may spawn more tasks)."""
        async with asyncio.timeout(limit):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def _guard(
    coro: Coroutine[Any, Any, None], on_error: Callable[[BaseException], Awaitable[None]]
) -> None:
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        await on_error(exc)
