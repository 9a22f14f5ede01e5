"""``tlsbot tlsrpt import [FILE…|-]``: store TLS-RPT reports (RFC 8460) that arrived by mail.

Each FILE (``-`` or none: standard input, e.g. from a Postfix ``pipe`` transport)
is a whole RFC 5322 message carrying the report as an ``application/tlsrpt+gzip``
or ``+json`` attachment, or a bare ``.json`` / ``.json.gz`` report. Each report is
validated and stored once per ``report-id``; one already stored is reported as
such and left alone. Exit 0 when every report was stored or already there, 1 with
one line per refused report (nothing of it stored), 2 on a settings or database
error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import Engine

from bot.commands._store import guarded, store
from bot.policy.db import check_schema, new_session
from bot.policy.evidence.reports import store_report
from bot.policy.evidence.tlsrpt import MAX_MESSAGE_BYTES, ReportRefused, from_file


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("tlsrpt", help="TLS-RPT reports about our own MX hosts")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = actions.add_parser(
        "import",
        help="store reports received by mail (messages, .json or .json.gz files)",
        description=(__doc__ or "").split("\n\n")[1],
    )
    imp.add_argument("files", nargs="*", metavar="FILE|-", help="default: standard input")
    imp.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return guarded(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    with store("tlsbot") as engine:
        check_schema(engine)
        refused = 0
        for name in args.files or ["-"]:
            if not _import(engine, name, args):
                refused += 1
        return 1 if refused else 0


def _read(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read(MAX_MESSAGE_BYTES + 1)
    with Path(name).open("rb") as f:
        return f.read(MAX_MESSAGE_BYTES + 1)


def _import(engine: Engine, name: str, args: argparse.Namespace) -> bool:
    label = "stdin" if name == "-" else name
    try:
        data = _read(name)
    except OSError as exc:
        print(f"tlsbot: {label}: cannot read it: {exc.strerror or exc}", file=sys.stderr)
        return False
    now = args.clock()
    try:
        report = from_file(data, now=now)
    except ReportRefused as exc:
        print(f"tlsbot: {label}: refused: {exc}", file=sys.stderr)
        return False
    with new_session(engine) as session:
        stored = store_report(session=session, report=report, via="mail", now=now)
    what = "already stored" if stored.duplicate else "stored"
    print(
        f"{label}: {what} report {report.report_id} from {report.organization} "
        f"({report.start:%Y-%m-%d} to {report.end:%Y-%m-%d}: "
        f"{report.successful:,} sessions succeeded, {report.failed:,} failed)"
    )
    return True
