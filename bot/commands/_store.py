"""Shared by the commands that open the policy store: the engine, and one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from bot.config import Settings
from bot.policy.db import make_engine
from bot.policy.errors import PolicyError


class CommandFailed(Exception):
    """Raised inside :func:`store`; already reported, carries the exit code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@contextmanager
def store(prog: str) -> Iterator[Engine]:
    """An engine on ``DATABASE_URL``; store errors become one line on stderr and exit 2."""
    settings = Settings.from_env()
    engine = None
    try:
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        yield engine
    except PolicyError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        raise CommandFailed(2) from None
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        print(f"{prog}: the database cannot be used: {reason}", file=sys.stderr)
        raise CommandFailed(2) from None
    finally:
        if engine is not None:
            engine.dispose()


def guarded(run: Callable[[], int]) -> int:
    try:
        return run()
    except CommandFailed as failed:
        return failed.code
