"""``tlsbot monitor``: re-validate policies and routes on schedule and raise alerts.

- ``tlsbot monitor`` — a worker: sweeps what is due, sleeps until the next item, repeats
  until SIGINT/SIGTERM;
- ``tlsbot monitor --once`` — one sweep of what is due (for cron), then exit;
- ``tlsbot monitor --once --all`` — re-check every policy and route now.

Alerts go to Slack (``TLSBOT_ALERT_CHANNEL``, default the approval channel) when a bot
token and a channel are configured, otherwise to the console; ``--console`` forces the
console. Exit status: 0 after a sweep, 1 if a probe crashed or the database is not
ready, 2 on a usage or settings error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from bot.clock import Clock
from bot.config import Settings
from bot.policy.db import open_checked
from bot.policy.errors import PolicyError
from bot.policy.monitor.sink import AlertSink, LogSink


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "monitor",
        help="re-validate policies and routes on schedule; alert before mail bounces",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--once", action="store_true", help="one sweep of what is due, then exit")
    parser.add_argument(
        "--all", action="store_true", help="with --once: re-check everything now, due or not"
    )
    parser.add_argument(
        "--console", action="store_true", help="print alerts here even if Slack is configured"
    )
    parser.set_defaults(run=run, parser=parser)


def make_sink(settings: Settings, *, console: bool) -> AlertSink:
    if console or settings.slack_bot_token is None or settings.alerts_to is None:
        return LogSink()
    from bot.slack.monitor.sink import SlackAlertSink  # the edge may import Slack

    return SlackAlertSink.from_settings(settings)


def run(args: argparse.Namespace) -> int:
    if args.all and not args.once:
        args.parser.error("--all needs --once")
    settings = Settings.from_env()
    sink = make_sink(settings, console=args.console)
    try:
        engine = open_checked(settings.database_url, pool_size=settings.db_pool_size)
    except PolicyError as exc:
        print(f"tlsbot: {exc}", file=sys.stderr)
        return 1
    except OperationalError as exc:
        print(f"tlsbot: the database cannot be used: {_first_line(exc)}", file=sys.stderr)
        return 1
    try:
        if args.once:
            return asyncio.run(_once(settings, sink, engine, args.clock, everything=args.all))
        asyncio.run(_forever(settings, sink, engine, args.clock))
    except OperationalError as exc:
        print(f"tlsbot: the database cannot be used: {_first_line(exc)}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


def _first_line(exc: OperationalError) -> str:
    return str(exc.orig or exc).strip().splitlines()[0]


async def _once(
    settings: Settings, sink: AlertSink, engine: Engine, clock: Clock, *, everything: bool
) -> int:
    from bot.policy.monitor.runner import run_once

    report = await run_once(settings, sink=sink, engine=engine, clock=clock, everything=everything)
    print(
        f"checked {report.checked}, raised {len(report.raised)}, "
        f"resolved {len(report.resolved)}, delivered {report.delivered}"
        + (f", {report.failed} probe(s) failed" if report.failed else "")
    )
    return 1 if report.failed else 0


async def _forever(settings: Settings, sink: AlertSink, engine: Engine, clock: Clock) -> None:
    from bot.policy.monitor.runner import run_monitor

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    print("tlsbot monitor: running; Ctrl-C to stop", file=sys.stderr)
    await run_monitor(settings, sink=sink, stop_event=stop, engine=engine, clock=clock)
