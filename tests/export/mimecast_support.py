"""The Mimecast stand-in wired to tlsbot's settings, and running `tlsbot sync mimecast`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot import cli
from bot.config import MimecastSettings, Secret
from tests.export.helpers import cli_url
from tests.support.db import TestDatabase
from tests.support.mimecast_api import CLIENT_ID, CLIENT_SECRET, MimecastApi

STRICT, RELAXED, INBOUND = "eNoG-strict", "eNoG-relaxed", "eNoG-inbound"


@pytest.fixture
async def mimecast() -> AsyncIterator[MimecastApi]:
    api = MimecastApi()
    await api.start()
    for group in (STRICT, RELAXED, INBOUND):
        api.group(group)
    yield api
    await api.stop()


def settings_of(api: MimecastApi, secret: str = CLIENT_SECRET) -> MimecastSettings:
    return MimecastSettings(api.base_url, CLIENT_ID, Secret(secret), STRICT, RELAXED, INBOUND)


def env_for(api: MimecastApi, monkeypatch: pytest.MonkeyPatch, database: TestDatabase) -> None:
    values = {
        "DATABASE_URL": cli_url(database),
        "TLSBOT_GATEWAYS": "postfix,mimecast",
        "MIMECAST_BASE_URL": api.base_url,
        "MIMECAST_CLIENT_ID": CLIENT_ID,
        "MIMECAST_CLIENT_SECRET": CLIENT_SECRET,
        "MIMECAST_STRICT_GROUP_ID": STRICT,
        "MIMECAST_RELAXED_GROUP_ID": RELAXED,
        "MIMECAST_INBOUND_GROUP_ID": INBOUND,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)


async def run_sync(*args: str) -> int:
    """``tlsbot sync mimecast ARGS`` in a thread (its own event loop), the stand-in on ours."""
    return await asyncio.to_thread(cli.main, ["sync", "mimecast", *args])
