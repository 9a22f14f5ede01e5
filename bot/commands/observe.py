"""``tlsbot observe postfix [--follow|--once] [--json] [--dry-run] [FILE|-]``: Postfix log evidence.

Reads Postfix's log — a file (``/var/log/mail.log``, Postfix's ``maillog_file``)
or standard input (``journalctl -o short-iso -u postfix -f``, or ``-``) — and adds
what real deliveries got (TLS level and version, TLS deferrals by reason) per
recipient domain and day to the store. ``--follow`` keeps reading as the file
grows and across rotation; ``--once`` (the default) reads to the end and stops.
A file's position is stored with the counts, so the next run resumes where the
last one stopped and no line counts twice; standard input has no position (give
journalctl ``--cursor-file=FILE`` to resume it). ``--json`` prints the counts read
in this run: ``{"domains": [{"domain", "day", "delivered", "deferred", …}]}``.

Exit status: 0 after reading, 1 when the log cannot be read or another reader
moved the stored position, 2 on a usage, settings or database error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from bot.commands._store import CommandFailed, guarded, store
from bot.policy.db import check_schema, new_session
from bot.policy.evidence.logfile import LogFile, LogUnavailable, Reader, Stream
from bot.policy.evidence.observe import Observer, ObserveReport
from bot.policy.evidence.postfix_log import Kind, PostfixLogParser, to_json
from bot.policy.evidence.traffic import CursorMoved, load_cursor


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "observe", help="evidence from real mail: what Postfix's deliveries actually got"
    )
    sources = parser.add_subparsers(dest="source", required=True, metavar="SOURCE")
    postfix = sources.add_parser(
        "postfix",
        help="read Postfix's log: TLS level of each delivery, TLS deferrals",
        description=(__doc__ or "").split("\n\n")[1] if __doc__ else None,
    )
    postfix.add_argument("file", nargs="?", default="-", metavar="FILE|-", help="default: stdin")
    mode = postfix.add_mutually_exclusive_group()
    mode.add_argument("--follow", action="store_true", help="keep reading, across rotation")
    mode.add_argument("--once", action="store_true", help="read to the end, then stop (default)")
    postfix.add_argument("--json", action="store_true", help="print this run's counts as JSON")
    postfix.add_argument(
        "--dry-run", action="store_true", help="count and print; store nothing, keep no position"
    )
    postfix.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.dry_run:
        return _observe(args, engine=None)
    return guarded(lambda: _stored(args))


def _stored(args: argparse.Namespace) -> int:
    with store("tlsbot") as engine:
        check_schema(engine)
        return _observe(args, engine=engine)


def _observe(args: argparse.Namespace, *, engine: Any) -> int:
    parser = PostfixLogParser(now=args.clock())
    source = None if args.file == "-" else str(Path(args.file).resolve())
    cursor = None
    if engine is not None and source is not None:
        with new_session(engine) as session:
            cursor = load_cursor(session=session, source=source)
        if cursor is not None:
            parser.restore(dict(cursor.state))
    try:
        reader: Reader = (
            Stream(sys.stdin.fileno())
            if source is None
            else LogFile(
                Path(source),
                inode=cursor.inode if cursor else None,
                position=cursor.position if cursor else 0,
            )
        )
    except LogUnavailable as exc:
        print(f"tlsbot: {exc}", file=sys.stderr)
        return 1
    observer = Observer(
        reader=reader,
        parser=parser,
        clock=args.clock,
        engine=engine,
        source=source if engine is not None else None,
        cursor=cursor,
    )
    stop = threading.Event()
    with _stop_on_signals(stop):
        try:
            report = observer.run(follow=args.follow, stop=stop)
        except CursorMoved as exc:
            print(f"tlsbot: {exc}", file=sys.stderr)
            raise CommandFailed(1) from None
        except LogUnavailable as exc:
            print(f"tlsbot: {exc}", file=sys.stderr)
            return 1
        finally:
            reader.close()
    _print(report, as_json=args.json, stored=engine is not None)
    return 0


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Any:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_: stop.set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print(report: ObserveReport, *, as_json: bool, stored: bool) -> None:
    if as_json:
        document = to_json(report.counts)
        document["lines"] = report.lines
        document["unknown"] = report.unknown
        print(json.dumps(document, indent=2))
        return
    delivered = sum(n for k, n in report.counts.items() if k[2] is Kind.DELIVERED)
    deferred = sum(n for k, n in report.counts.items() if k[2] is Kind.DEFERRED)
    domains = len({k[0] for k in report.counts})
    print(
        f"read {report.lines:,} line(s) ({report.unknown:,} not understood): "
        f"{delivered:,} deliveries and {deferred:,} TLS deferrals to {domains:,} domain(s)"
        + ("" if stored else " (not stored)")
    )
