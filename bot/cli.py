"""The ``tlsbot`` command line: one sub-command module per verb under ``bot.commands``.

:data:`COMMANDS` is the one table of commands: name, module and the one-line help
that ``tlsbot --help`` lists. The top-level parser is built from the table alone;
only the module of the command being run is imported (a two-stage parse), so
``tlsbot probe`` never loads Slack, SQLAlchemy or aiohttp, and ``tlsbot --version``
loads nothing but this module.

Adding a command is one line in :data:`COMMANDS`, plus its module, which offers
``register(subparsers)``: it adds the parser named as in the table, with the same
``help=``, and sets ``run=<callable(args) -> int>``. tests/test_cli.py checks both,
and that README.md lists the command (its command table and ``tlsbot --help``).
Heavy imports a command needs only to run may stay at the top of its module: they
are paid only when that command is chosen.

Expected failures (bad settings, bad input) end with one line on stderr and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from bot import __version__
from bot.clock import Clock, system_clock
from bot.config import ConfigError


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    module: str  # imported only when this command runs
    help: str


COMMANDS: tuple[Command, ...] = (
    Command(
        "probe",
        "bot.commands.probe",
        "check whether mail domains, addresses or inbound routes support enforced TLS",
    ),
    Command("doctor", "bot.commands.doctor", "check DNS, port 25, trust store, database and Slack"),
    Command("serve", "bot.commands.serve", "run the Slack bot"),
    Command("db", "bot.commands.db", "database schema: upgrade, check"),
    Command(
        "audit", "bot.commands.audit", "audit trail: verify the hash chain, export for auditors"
    ),
    Command("export", "bot.commands.export", "publish the approved policy to a mail gateway"),
    Command("socketmap", "bot.commands.socketmap", "serve the tables live to Postfix"),
    Command(
        "monitor",
        "bot.commands.monitor",
        "re-validate policies and routes on schedule; alert before mail bounces",
    ),
    Command(
        "observe",
        "bot.commands.observe",
        "evidence from real mail: what Postfix's deliveries actually got",
    ),
    Command("tlsrpt", "bot.commands.tlsrpt", "TLS-RPT reports about our own MX hosts"),
    Command("sync", "bot.commands.sync", "bring an API gateway in line with the policy"),
)
BY_NAME = {c.name: c for c in COMMANDS}


def chosen(argv: Sequence[str]) -> Command | None:
    """The command named on the line: the first word that is not an option.

    The top-level parser has no option that takes a value, so this is the word
    argparse will take as COMMAND.
    """
    for index, word in enumerate(argv):
        if word == "--":
            following = argv[index + 1 : index + 2]
            return BY_NAME.get(following[0]) if following else None
        if not word.startswith("-"):
            return BY_NAME.get(word)
    return None


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser for ``argv``: every command listed, only the chosen one's module loaded."""
    parser = argparse.ArgumentParser(
        prog="tlsbot",
        description="Enforce TLS on the mail you exchange with partner domains.",
    )
    parser.add_argument("--version", action="version", version=f"tlsbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = chosen(argv)
    for command in COMMANDS:
        if command is wanted:
            importlib.import_module(command.module).register(sub)
        else:  # listed in --help and accepted as a choice; never parsed with
            sub.add_parser(command.name, help=command.help, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None, *, clock: Clock = system_clock) -> int:
    """Run one command; ``clock`` is the one "now" every command passes down."""
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words)
    args = parser.parse_args(words)
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
