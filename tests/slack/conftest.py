"""A running bot on loopback: real HTTP endpoint, a Slack Web API stand-in, signed requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.config import Secret, Settings
from bot.slack.app import build_app
from bot.slack.server import bound_port, start_http
from bot.slack.services import Services
from bot.slack.store import Store
from tests.slack.prober import TableProber
from tests.support.slack_api import SlackApi
from tests.support.slack_client import SlackClient

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
APPROVER = "UAPPROVE1"
APPROVER_2 = "UAPPROVE2"
REQUESTER = "UADMIN01"
OUTSIDER = "UOUTSIDE1"
APPROVAL_CHANNEL = "CAPPROVE1"


@dataclass
class Bot:
    api: SlackApi
    slack: SlackClient
    services: Services
    prober: TableProber

    async def settle(self) -> None:
        """Wait until the work started after acks is done."""
        await self.services.background.drain()


def make_settings(api_url: str, **overrides: Any) -> Settings:
    base = Settings(
        slack_bot_token=Secret("xoxb-test-token"),
        slack_signing_secret=Secret(SECRET),
        slack_api_url=api_url,
        approvers=(APPROVER, APPROVER_2, "SAPPROVERS"),
        approval_channel=APPROVAL_CHANNEL,
    )
    return replace(base, **overrides)


@pytest.fixture
async def slack_api() -> AsyncIterator[SlackApi]:
    api = SlackApi()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
async def bot(slack_api: SlackApi, engine: Engine) -> AsyncIterator[Bot]:
    settings = make_settings(slack_api.base_url + "api/")
    prober = TableProber()
    services = Services.for_settings(settings, store=Store(engine), prober=prober)
    app = build_app(settings, services=services)
    runner = await start_http(app, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{bound_port(runner)}/slack/events"
    try:
        yield Bot(slack_api, SlackClient(url, SECRET, slack_api), services, prober)
        await services.background.drain()
    finally:
        await services.background.cancel()
        await runner.cleanup()
