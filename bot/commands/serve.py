"""``tlsbot serve``: the Slack bot (Socket Mode when SLACK_APP_TOKEN is set, else HTTP on PORT)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from sqlalchemy.exc import SQLAlchemyError

from bot.clock import Clock
from bot.config import ConfigError, Settings
from bot.policy.db import open_checked
from bot.policy.errors import PolicyError
from bot.policy.monitor.runner import DEFAULT_POLL_SECONDS
from bot.policy.sts_cache import DatabaseStsCache
from bot.probe.prober import Prober
from bot.slack.app import build_app
from bot.slack.schedule import Schedule, start_schedule
from bot.slack.services import Services
from bot.slack.store import Store

log = logging.getLogger("bot.serve")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the Slack bot",
        description="Run the Slack bot: Socket Mode when SLACK_APP_TOKEN is set, "
        "otherwise HTTP on PORT with Slack's requests at POST /slack/events.",
    )
    parser.add_argument(
        "--host",
        default="0.0.0.0",  # noqa: S104 -- a server is meant to be reachable
        help="HTTP mode: address to bind (default all)",
    )
    parser.set_defaults(run=run)


def check_settings(settings: Settings) -> None:
    """Refuse to start, with one line naming what is missing."""
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set (the bot token, xoxb-…)")
    if settings.slack_app_token is None and settings.slack_signing_secret is None:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set (needed in HTTP mode; "
            "set SLACK_APP_TOKEN instead for Socket Mode)"
        )
    # Every change is a change request an approver confirms: without these none ever could be.
    if settings.approval_channel is None:
        raise ConfigError(
            "TLSBOT_APPROVAL_CHANNEL is not set (the channel ID, C…, where change requests "
            "are posted for approval)"
        )
    if not settings.approvers:
        raise ConfigError(
            "TLSBOT_APPROVERS is not set (Slack user IDs U… and/or user-group IDs S… "
            "who may approve changes)"
        )


def open_store(settings: Settings) -> Store:
    """The database, refused with one line when it cannot be used or its schema is behind."""
    try:
        engine = open_checked(settings.database_url, pool_size=settings.db_pool_size)
    except PolicyError as exc:
        raise ConfigError(f"DATABASE_URL: {exc}") from None
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise ConfigError(f"DATABASE_URL: cannot open the database: {reason}") from None
    return Store(engine)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    check_settings(settings)
    store = open_store(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        asyncio.run(serve(settings, store, host=args.host, clock=args.clock))
    except ConfigError:
        raise
    except OSError as exc:
        print(f"tlsbot: cannot listen on port {settings.port}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


async def serve(
    settings: Settings,
    store: Store,
    *,
    host: str = "0.0.0.0",  # noqa: S104
    stop: asyncio.Event | None = None,
    started: asyncio.Event | None = None,
    monitor: bool = True,
    poll: float = DEFAULT_POLL_SECONDS,
    clock: Clock,
) -> None:
    """Serve until SIGINT/SIGTERM (or until ``stop`` is set, for tests).

    With ``monitor`` (the default) the re-validation schedule and the expiry of
    overdue change requests run in the same process (:mod:`bot.slack.schedule`),
    waking at least every ``poll`` seconds.
    """
    async with aiohttp.ClientSession() as http:
        prober = Prober(settings.probe, clock=clock, sts_cache=DatabaseStsCache(store.engine))
        services = Services.for_settings(settings, store=store, prober=prober, clock=clock)
        app = build_app(settings, services=services, http=http)
        schedule = start_schedule(services, app.client, poll=poll) if monitor else Schedule()
        try:
            await _run(settings, app, services, host=host, stop=stop, started=started)
        finally:
            await schedule.stop()


async def _run(
    settings: Settings,
    app: AsyncApp,
    services: Services,
    *,
    host: str,
    stop: asyncio.Event | None,
    started: asyncio.Event | None,
) -> None:
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    if settings.slack_app_token is not None:
        from bot.slack.server import SocketModeEdge

        handler = SocketModeEdge(app, settings.slack_app_token.get_secret_value())
        await handler.connect_async()  # type: ignore[no-untyped-call]
        log.info("tlsbot connected in Socket Mode")
        if started is not None:
            started.set()
        await stop.wait()
        await handler.close_async()  # type: ignore[no-untyped-call]
    else:
        from bot.slack.server import start_http

        runner = await start_http(app, host, settings.port, services)
        log.info("tlsbot listening on http://%s:%d/slack/events", host, settings.port)
        if started is not None:
            started.set()
        await stop.wait()
        await runner.cleanup()
    await services.background.cancel()
