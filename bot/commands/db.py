"""``tlsbot db upgrade`` — bring the database at ``DATABASE_URL`` to this version's schema.

Also ``tlsbot db check`` (exit 0 when current, 1 when an upgrade is needed) and,
for developers, ``tlsbot db revision -m MESSAGE`` (autogenerate a migration from
the models into ``bot/policy/migrations/versions``).
"""

from __future__ import annotations

import argparse
import sys

from bot.commands._store import guarded, store
from bot.policy.db import check_schema, describe_url, head_revision, make_revision, upgrade
from bot.policy.errors import SchemaOutdated

PROG = "tlsbot db"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "db",
        help="database schema: upgrade, check",
        description="Manage the schema of the database named by DATABASE_URL.",
    )
    actions = parser.add_subparsers(dest="db_action", required=True, metavar="ACTION")
    up = actions.add_parser("upgrade", help="run the migrations up to this version's schema")
    up.set_defaults(run=_upgrade)
    check = actions.add_parser("check", help="exit 1 when the schema needs an upgrade")
    check.set_defaults(run=_check)
    revision = actions.add_parser(
        "revision", help="(developers) autogenerate a migration from the models"
    )
    revision.add_argument("-m", "--message", required=True, help="what the migration changes")
    revision.set_defaults(run=_revision)


def _upgrade(args: argparse.Namespace) -> int:
    def run() -> int:
        with store(PROG) as engine:
            result = upgrade(engine)
            where = describe_url(engine)
            if result.changed:
                print(f"{where}: schema upgraded from {result.before or 'empty'} to {result.after}")
            else:
                print(f"{where}: schema already up to date ({result.after})")
        return 0

    return guarded(run)


def _check(args: argparse.Namespace) -> int:
    def run() -> int:
        with store(PROG) as engine:
            try:
                check_schema(engine)
            except SchemaOutdated as exc:
                print(f"{PROG}: {exc}", file=sys.stderr)
                return 1
            print(f"{describe_url(engine)}: schema up to date ({head_revision()})")
        return 0

    return guarded(run)


def _revision(args: argparse.Namespace) -> int:
    def run() -> int:
        with store(PROG) as engine:
            check_schema(engine)
            make_revision(engine, args.message)
        return 0

    return guarded(run)
