"""The database from async listeners: each unit of work runs in a worker thread.

The policy store is synchronous SQLAlchemy; calling it on the event loop would
stall every other request (and the 3-second acks) while PostgreSQL answers.
``Store.run(fn)`` opens a session in a thread, runs ``fn(session)`` in one
transaction (commit on success, rollback on error) and returns its result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from bot.policy.db import session_scope

T = TypeVar("T")


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run_sync(self, fn: Callable[[Session], T]) -> T:
        with session_scope(self.engine) as session:
            return fn(session)

    async def run(self, fn: Callable[[Session], T]) -> T:
        return await asyncio.to_thread(self.run_sync, fn)
