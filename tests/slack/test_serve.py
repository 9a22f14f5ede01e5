"""``tlsbot serve`` refuses to start without its settings; the client waits out 429s."""

from __future__ import annotations

import argparse
import time
from typing import Any

import pytest

from bot.commands import serve
from bot.config import ConfigError
from bot.slack.app import build_client
from tests.slack.conftest import make_settings
from tests.support.slack_api import SlackApi

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        pytest.param({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN", id="no-bot-token"),
        pytest.param({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET", id="http-no-secret"),
        pytest.param(
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxp-1"},
            "SLACK_APP_TOKEN",
            id="socket-mode-bad-app-token",
        ),
    ],
)
def test_serve_refuses_to_start_naming_the_missing_setting(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=named) as info:
        serve.run(argparse.Namespace(host="127.0.0.1"))
    assert "\n" not in str(info.value)


async def test_the_web_client_waits_out_a_rate_limit_and_retries(slack_api: SlackApi) -> None:
    client = build_client(make_settings(slack_api.base_url + "api/"))
    slack_api.fail_next("chat.postMessage", retry_after=1)
    started = time.monotonic()
    response = await client.chat_postMessage(channel="C1", text="hello")
    assert response["ok"] is True
    assert time.monotonic() - started >= 1.0
    assert [c.method for c in slack_api.calls] == ["chat.postMessage#429", "chat.postMessage"]


def test_serve_refuses_a_database_without_the_schema(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/empty.db")
    with pytest.raises(ConfigError, match="tlsbot db upgrade") as info:
        serve.run(argparse.Namespace(host="127.0.0.1"))
    assert str(info.value).startswith("DATABASE_URL: ")
