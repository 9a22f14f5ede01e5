"""A running bot on loopback: real HTTP endpoint, a Slack Web API stand-in, signed requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import email_validator
import pytest
from sqlalchemy import Engine

from bot.clock import Clock, system_clock
from bot.config import Secret, Settings
from bot.slack.app import build_app
from bot.slack.server import bound_port, start_http
from bot.slack.services import Services
from bot.slack.store import Store
from tests.slack.net import Net, mail_world
from tests.slack.prober import TableProber
from tests.support.certs import Pki
from tests.support.recorder import Recorder
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
    prober: Any

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
async def recorder() -> AsyncIterator[Recorder]:
    """An internal HTTP service that nothing should ever call."""
    server = await Recorder().start()
    yield server
    await server.stop()


@asynccontextmanager
async def running_bot(
    api: SlackApi, engine: Engine, prober: Any, *, clock: Clock = system_clock, **overrides: Any
) -> AsyncIterator[Bot]:
    """One ``tlsbot serve`` in HTTP mode on a loopback port, over ``engine``, at ``clock``."""
    settings = make_settings(api.base_url + "api/", **overrides)
    services = Services.for_settings(settings, store=Store(engine), prober=prober, clock=clock)
    async with aiohttp.ClientSession() as http:
        app = build_app(settings, services=services, http=http)
        runner = await start_http(app, "127.0.0.1", 0, services)
        url = f"http://127.0.0.1:{bound_port(runner)}/slack/events"
        try:
            yield Bot(api, SlackClient(url, SECRET, api, clock=clock), services, prober)
            await services.background.drain()
        finally:
            await services.background.cancel()
            await runner.cleanup()


@pytest.fixture
async def bot(slack_api: SlackApi, engine: Engine) -> AsyncIterator[Bot]:
    async with running_bot(slack_api, engine, TableProber()) as running:
        yield running


@pytest.fixture(autouse=True)
def _test_domains_take_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    """email-validator refuses special-use names such as ``.test`` (right in production);
    our loopback world lives under ``.test``, so these tests drop that one name."""
    names = [n for n in email_validator.SPECIAL_USE_DOMAIN_NAMES if n != "test"]
    monkeypatch.setattr(email_validator, "SPECIAL_USE_DOMAIN_NAMES", names)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.mint(Path(tmp_path_factory.mktemp("slack-pki")))


@pytest.fixture
async def world(pki: Pki) -> AsyncIterator[Net]:
    async with mail_world(pki) as net:
        yield net


@pytest.fixture
async def real_bot(slack_api: SlackApi, engine: Engine, world: Net) -> AsyncIterator[Bot]:
    """The bot with the real prober, probing the loopback mail world."""
    async with running_bot(slack_api, engine, world.prober, probe=world.prober.settings) as running:
        yield running
