"""The database from async listeners: each unit of work runs in a worker thread.

The policy store is synchronous SQLAlchemy; calling it on the event loop would
stall every other request (and the 3-second acks) while PostgreSQL answers.
``Store.run(fn)`` opens a session in a thread, runs ``fn(session)`` in one
transaction (commit on success, rollback on error) and returns its result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from bot.policy.db import session_scope

T = TypeVar("T")


# Few threads: the store's work is short, and every extra thread holding the GIL
# for ORM work delays the event loop (and so the acks).
WORKERS = 4


class Store:
    def __init__(self, engine: Engine, *, workers: int = WORKERS) -> None:
        self.engine = engine
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tlsbot-db")

    def run_sync(self, fn: Callable[[Session], T]) -> T:
        with session_scope(self.engine) as session:
            return fn(session)

    async def run(self, fn: Callable[[Session], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.run_sync, fn)
