"""Assemble the Slack app: one AsyncApp, its Web API client, middleware, listeners."""

from __future__ import annotations

import logging

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.slack import dedupe, errors, listeners, middleware
from bot.slack.services import Services

SLACK_API_URL = "https://slack.com/api/"


def build_client(settings: Settings, http: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    """A Web API client for SLACK_API_URL that waits out 429s and retries dropped connections.

    With ``http``, every call shares that session's kept-alive connections (the
    caller opens and closes it); without, each call opens its own.
    """
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    client = AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url or SLACK_API_URL,
        timeout=15,
        session=http,
        logger=logging.getLogger("bot.slack.api"),
    )
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    client.retry_handlers.append(AsyncConnectionErrorRetryHandler(max_retry_count=2))
    return client


def build_app(
    settings: Settings, *, services: Services, http: aiohttp.ClientSession | None = None
) -> AsyncApp:
    secret = settings.slack_signing_secret
    app = AsyncApp(
        client=build_client(settings, http),
        signing_secret=secret.get_secret_value() if secret else "",
        # HTTP: bot/slack/server.py verifies every request, at the one clock, before Bolt.
        request_verification_enabled=False,
        logger=_bolt_logger(),
        name="tlsbot",
    )
    middleware.install(app, services)
    dedupe.install(app, services)
    errors.register(app)
    listeners.register(app)
    return app


class _NoTokenSkippedWarning(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that the client we built (with that
    same token and our base URL and retry handlers) takes priority: true, and noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("bot.slack.bolt")
    if not any(isinstance(f, _NoTokenSkippedWarning) for f in logger.filters):
        logger.addFilter(_NoTokenSkippedWarning())
    return logger
