"""``tlsbot export postfix --out DIR``: write the Postfix tables from the policy store;
``tlsbot export exchange --out FILE.ps1`` / ``export google --out FILE``: the hand-over
file of each manual gateway in :data:`bot.export.registry.GATEWAYS`.

Exit 0 when everything in force was written, 1 when the files were written but
some stored values were dropped (listed on stderr), 2 when nothing was written.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bot.commands._store import CommandFailed, failed, store
from bot.export.gateway import GatewayName
from bot.export.model import MapName
from bot.export.publish import (
    ExportResult,
    Published,
    export_postfix,
    main_cf_lines,
    publish,
    write_one,
)
from bot.export.registry import GATEWAYS
from bot.export.socketmap import DEFAULT_LISTEN
from bot.policy.db import new_session

T = TypeVar("T")

MAP_TYPES = ("hash", "lmdb", "cdb", "btree")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("export", help="publish the approved policy to a mail gateway")
    formats = parser.add_subparsers(dest="format", required=True, metavar="FORMAT")
    postfix = formats.add_parser(
        "postfix", help="write tls_policy and tls_inbound tables for Postfix"
    )
    postfix.add_argument("--out", required=True, type=Path, metavar="DIR", help="directory")
    postfix.add_argument(
        "--map-type",
        choices=MAP_TYPES,
        default="hash",
        help="Postfix map type shown in the main.cf lines (default: hash)",
    )
    postfix.add_argument(
        "--postmap",
        action="store_true",
        help="also run `postmap TYPE:FILE` on both files (needs Postfix installed)",
    )
    postfix.set_defaults(run=run)
    for gateway in GATEWAYS.values():
        if not gateway.manual:
            continue
        handover = formats.add_parser(
            gateway.name.value, help=f"write the hand-over file for {gateway.title}"
        )
        handover.add_argument("--out", required=True, type=Path, metavar="FILE", help="file")
        handover.set_defaults(run=run_handover, gateway=gateway.name)


def run_handover(args: argparse.Namespace) -> int:
    out: Path = args.out
    name: GatewayName = args.gateway
    if out.is_dir():
        print(f"tlsbot: --out {str(out)!r} is a directory; name a file", file=sys.stderr)
        return 2
    if not out.parent.is_dir():
        print(f"tlsbot: --out {str(out)!r}: no directory {str(out.parent)!r}", file=sys.stderr)
        return 2

    def publish_it() -> Published:
        with store("tlsbot", schema=True) as engine, new_session(engine) as session:
            try:
                return publish(
                    session=session,
                    gateway=name,
                    target=str(out.resolve()),
                    write=write_one(out.resolve()),
                    now=args.clock(),
                )
            except OSError as exc:
                raise failed(
                    f"tlsbot: cannot write to {str(out)!r}: {exc.strerror or exc}"
                ) from None

    done = _run(publish_it)
    if done is None:
        return 2
    entries = ", ".join(f"{n} {kind}" for kind, n in done.counts.items())
    print(
        f"wrote {out} for {GATEWAYS[name].title} ({entries}) from audit event "
        f"#{done.source_seq}; recorded as audit event #{done.event_seq}"
    )
    for rejection in done.view.rejected:
        print(f"tlsbot: not published: {rejection}", file=sys.stderr)
    return 1 if done.view.rejected else 0


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = "it is a file" if isinstance(exc, FileExistsError) else exc.strerror
        message = f"tlsbot: --out {str(out)!r} cannot be used as a directory: {reason}"
        print(message, file=sys.stderr)
        return 2

    def export_it() -> ExportResult:
        with store("tlsbot", schema=True) as engine, new_session(engine) as session:
            try:
                return export_postfix(session=session, directory=out.resolve(), now=args.clock())
            except OSError as exc:
                raise failed(
                    f"tlsbot: cannot write to {str(out)!r}: {exc.strerror or exc}"
                ) from None

    result = _run(export_it)
    if result is None:
        return 2
    tables = result.tables
    print(
        f"wrote {result.path(MapName.TLS_POLICY)} ({len(tables.tls_policy)} entries) and "
        f"{result.path(MapName.TLS_INBOUND)} ({len(tables.tls_inbound)} entries) "
        f"from audit event #{result.source_seq}; recorded as audit event #{result.event_seq}"
    )
    for rejection in tables.rejected:
        print(f"tlsbot: not published: {rejection}", file=sys.stderr)
    if args.postmap and not _postmap(args.map_type, [result.path(n) for n in MapName]):
        return 2
    print()
    lines = main_cf_lines(
        result.directory,
        map_type=args.map_type,
        socketmap=DEFAULT_LISTEN,
        dnssec=tables.needs_dnssec,
    )
    print(lines, end="")
    return 1 if tables.rejected else 0


def _unwritable(out: Path, exc: OSError) -> CommandFailed:
    return failed(f"tlsbot: cannot write to {str(out)!r}: {exc.strerror or exc}")


def _run(work: Callable[[], T]) -> T | None:
    """``work()``, or None once a store or write error was reported on stderr."""
    try:
        return work()
    except CommandFailed:
        return None


def _postmap(map_type: str, paths: list[Path]) -> bool:
    postmap = shutil.which("postmap")
    if postmap is None:
        print("tlsbot: --postmap: postmap is not installed (install postfix)", file=sys.stderr)
        return False
    for path in paths:
        done = subprocess.run(  # noqa: S603 - fixed program, our own file names
            [postmap, f"{map_type}:{path}"], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["failed"])[-1]
            print(f"tlsbot: postmap {map_type}:{path}: {reason}", file=sys.stderr)
            return False
    return True
