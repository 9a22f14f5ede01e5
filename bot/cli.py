"""The ``tlsbot`` command line: one sub-command module per verb under ``bot.commands``.

Each module offers ``register(subparsers)`` which adds its parser and sets
``run=<callable(args) -> int>``. Expected failures (bad settings, bad input) end
with one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from bot import __version__
from bot.clock import Clock, system_clock
from bot.config import ConfigError

COMMANDS = (
    "probe",
    "serve",
    "db",
    "audit",
    "export",
    "socketmap",
    "monitor",
    "observe",
    "tlsrpt",
    "sync",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tlsbot",
        description="Enforce TLS on the mail you exchange with partner domains.",
    )
    parser.add_argument("--version", action="version", version=f"tlsbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"bot.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None, *, clock: Clock = system_clock) -> int:
    """Run one command; ``clock`` is the one "now" every command passes down."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.clock = clock
    try:
        result: int = args.run(args)
    except ConfigError as exc:
        print(f"tlsbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tlsbot: interrupted", file=sys.stderr)
        return 130
    return result
