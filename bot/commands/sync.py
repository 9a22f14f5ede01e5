"""``tlsbot sync mimecast [--dry-run]``: bring the Mimecast profile groups in line.

Prints the plan per group (members to add and remove, drift left in place), then
applies it and records it as one audit event; ``--dry-run`` only prints the plan.
Exit 0 when every group matches the policy, 1 when an item failed or drift is
left in place (both listed), 2 when nothing could be synced (settings, the
policy store or the Mimecast API unusable).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.commands._store import CommandFailed, failed, store
from bot.config import ConfigError, Settings
from bot.export.mimecast import MimecastClient, MimecastError
from bot.export.mimecast_sync import EngineRunner, SyncReport, sync


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("sync", help="bring an API gateway in line with the policy")
    gateways = parser.add_subparsers(dest="gateway", required=True, metavar="GATEWAY")
    mimecast = gateways.add_parser(
        "mimecast", help="keep the Mimecast profile groups equal to the approved policy"
    )
    mimecast.add_argument(
        "--dry-run", action="store_true", help="print the plan; change and record nothing"
    )
    mimecast.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if settings.mimecast is None:
        raise ConfigError("MIMECAST_BASE_URL is not set (needed for the Mimecast gateway)")
    try:
        with store("tlsbot", settings=settings, schema=True) as engine:
            client = MimecastClient(settings.mimecast)
            try:
                report = asyncio.run(
                    sync(
                        runner=EngineRunner(engine),
                        client=client,
                        now=args.clock,
                        dry_run=args.dry_run,
                    )
                )
            except MimecastError as exc:
                raise failed(f"tlsbot: {exc}; nothing was recorded") from None
    except CommandFailed as stop:
        return stop.code
    return _print(report)


def _print(report: SyncReport) -> int:
    for line in report.lines():
        print(line)
    if report.dry_run:
        changes = sum(g.plan.changes for g in report.groups)
        print(f"dry run: {changes} changes planned; nothing changed or recorded")
    else:
        added = sum(len(g.added) for g in report.groups)
        removed = sum(len(g.removed) for g in report.groups)
        print(
            f"synced: {added} added, {removed} removed, {report.failed} failed, "
            f"{report.drift} drifted left in place; recorded as audit event #{report.event_seq}"
        )
    if report.failed:
        print(f"tlsbot: {report.failed} items failed (listed above)", file=sys.stderr)
    if report.drift:
        print(
            f"tlsbot: {report.drift} members drifted outside tlsbot (listed above); "
            "Adopt or Revert them from the Slack alert",
            file=sys.stderr,
        )
    return 1 if report.failed or report.drift else 0
