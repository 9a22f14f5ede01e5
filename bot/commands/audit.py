"""``tlsbot audit verify`` and ``tlsbot audit export --format jsonl|csv [--out FILE]``.

``verify`` walks the hash chain and prints ``OK: N audit events, chain intact``
(exit 0) or the first event altered, removed or reordered (exit 1). ``export``
writes the whole trail for auditors to FILE (written to a temporary file and
renamed, so a failed export leaves nothing half-written) or to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from sqlmodel import Session

from bot.commands._store import guarded, store
from bot.policy.audit import ExportFormat, export, verify
from bot.policy.db import check_schema, new_session

PROG = "tlsbot audit"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="audit trail: verify the hash chain, export for auditors",
        description="Check or export the tamper-evident audit trail.",
    )
    actions = parser.add_subparsers(dest="audit_action", required=True, metavar="ACTION")
    check = actions.add_parser("verify", help="check the hash chain from the first event")
    check.set_defaults(run=_verify)
    out = actions.add_parser("export", help="write every event, oldest first")
    out.add_argument(
        "--format",
        dest="fmt",
        choices=[f.value for f in ExportFormat],
        default=ExportFormat.JSONL.value,
        help="jsonl (one JSON object a line, the default) or csv",
    )
    out.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    out.set_defaults(run=_export)


def _verify(args: argparse.Namespace) -> int:
    def run() -> int:
        with store(PROG) as engine:
            check_schema(engine)
            with new_session(engine) as session:
                report = verify(session=session)
        print(report, file=sys.stdout if report.ok else sys.stderr)
        return 0 if report.ok else 1

    return guarded(run)


def _export(args: argparse.Namespace) -> int:
    fmt = ExportFormat(args.fmt)
    target = Path(args.out) if args.out else None
    if target is not None and not target.parent.is_dir():
        print(
            f"{PROG}: --out {args.out!r}: no such directory {str(target.parent)!r}", file=sys.stderr
        )
        return 2

    def run() -> int:
        with store(PROG) as engine:
            check_schema(engine)
            with new_session(engine) as session:
                if target is None:
                    export(session=session, fmt=fmt, out=sys.stdout)
                    return 0
                count = _export_to(target, fmt, session)
        print(f"wrote {count} audit events to {target}", file=sys.stderr)
        return 0

    return guarded(run)


def _export_to(target: Path, fmt: ExportFormat, session: Session) -> int:
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            count = export(session=session, fmt=fmt, out=handle)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return count
