"""``tlsbot serve`` refuses to start without its settings; the client waits out 429s."""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
from sqlalchemy import Engine

from bot.cli import main
from bot.clock import system_clock
from bot.commands import serve
from bot.config import ConfigError, Secret
from bot.slack.app import build_client
from bot.slack.store import Store
from tests.slack.conftest import SECRET, make_settings
from tests.support.slack_api import SlackApi
from tests.support.slack_client import SlackClient
from tests.support.smtp_server import free_port

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
        pytest.param(
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"},
            "TLSBOT_APPROVAL_CHANNEL",
            id="no-approval-channel",
        ),
        pytest.param(
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_SIGNING_SECRET": "s",
                "TLSBOT_APPROVAL_CHANNEL": "C0APPROVE",
            },
            "TLSBOT_APPROVERS",
            id="no-approvers",
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
    monkeypatch.setenv("TLSBOT_APPROVAL_CHANNEL", "C0APPROVE")
    monkeypatch.setenv("TLSBOT_APPROVERS", "U0APPROVER")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/empty.db")
    with pytest.raises(ConfigError, match="tlsbot db upgrade") as info:
        serve.run(argparse.Namespace(host="127.0.0.1"))
    assert str(info.value).startswith("DATABASE_URL: ")


@pytest.mark.parametrize(
    ("env", "line"),
    [
        pytest.param({}, "tlsbot: SLACK_BOT_TOKEN is not set", id="nothing-set"),
        pytest.param(
            {"SLACK_BOT_TOKEN": "xoxb-1"}, "tlsbot: SLACK_SIGNING_SECRET is not set", id="no-secret"
        ),
        pytest.param(
            {"SLACK_BOT_TOKEN": "oops"}, "SLACK_BOT_TOKEN must start with", id="bad-token"
        ),
    ],
)
def test_the_command_line_prints_one_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    line: str,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert line in err
    assert err.count("\n") == 1


@pytest.mark.db
async def test_serve_answers_signed_requests_and_health_on_port(
    slack_api: SlackApi, engine: Engine
) -> None:
    port = free_port()
    settings = replace(make_settings(slack_api.base_url + "api/"), port=port)
    stop, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve.serve(
            settings,
            Store(engine),
            host="127.0.0.1",
            stop=stop,
            started=started,
            clock=system_clock,
        )
    )
    try:
        await asyncio.wait_for(started.wait(), 10)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            assert response.status == 200
        client = SlackClient(f"http://127.0.0.1:{port}/slack/events", SECRET, slack_api)
        answer = await client.command("help")
        assert answer.status == 200
        assert "/tls setup" in answer.text
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@pytest.mark.db
async def test_socket_mode_takes_requests_over_the_socket_and_acks_them(
    slack_api: SlackApi, engine: Engine
) -> None:
    settings = replace(
        make_settings(slack_api.base_url + "api/"),
        slack_app_token=Secret("xapp-test"),
        slack_signing_secret=None,
    )
    stop, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve.serve(settings, Store(engine), stop=stop, started=started, clock=system_clock)
    )
    try:
        await asyncio.wait_for(started.wait(), 10)
        await slack_api.wait_for("apps.connections.open")
        while not slack_api.sockets:
            await asyncio.sleep(0.01)
        client = SlackClient("unused", SECRET, slack_api)
        form = dict(parse_qsl(client.command_body("help")))
        envelope = await slack_api.send_envelope("slash_commands", form)
        ack = await slack_api.wait_for("socket_ack", lambda b: b.get("envelope_id") == envelope)
        assert "/tls setup" in str(ack.body["payload"])
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
