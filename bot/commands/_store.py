"""Shared by the commands that open the policy store: the engine, and one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.policy.db import check_schema, make_engine
from bot.policy.errors import PolicyError


class CommandFailed(Exception):
    """Raised inside :func:`store`; already reported, carries the exit code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@contextmanager
def store(prog: str, *, settings: Settings | None = None, schema: bool = False) -> Iterator[Engine]:
    """An engine on ``DATABASE_URL`` (checked at this code's schema with ``schema``);
    store errors become one line on stderr and exit 2."""
    settings = settings or Settings.from_env()
    engine = None
    try:
        engine = make_engine(settings.database_url)
        if schema:
            check_schema(engine)
        yield engine
    except PolicyError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        raise CommandFailed(2) from None
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None)
        lines = str(orig or exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        print(f"{prog}: the database cannot be used: {reason}", file=sys.stderr)
        raise CommandFailed(2) from None
    finally:
        if engine is not None:
            engine.dispose()


def failed(message: str, code: int = 2) -> CommandFailed:
    """Print ``message`` (one line) on stderr; the exception to raise for ``code``."""
    print(message, file=sys.stderr)
    return CommandFailed(code)


def guarded(run: Callable[[], int]) -> int:
    try:
        return run()
    except CommandFailed as failed:
        return failed.code
