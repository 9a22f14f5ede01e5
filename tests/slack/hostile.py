"""Requests an outsider would send, and the checks that nothing came of them."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.slack.ids import Action
from tests.slack.conftest import APPROVER, Bot
from tests.support.recorder import Recorder
from tests.support.slack_api import TEAM

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def command(recorder: Recorder | str, text: str = "help", *, team: str = TEAM) -> bytes:
    """/tls from someone who wants the answer sent to an internal URL."""
    return urlencode(
        {
            "team_id": team,
            "channel_id": "CGENERAL1",
            "user_id": APPROVER,
            "user_name": "approver",
            "command": "/tls",
            "text": text,
            "response_url": _url(recorder),
            "trigger_id": "1.trigger",
        }
    ).encode()


def click(recorder: Recorder | str, value: str = "1", **fields: Any) -> dict[str, Any]:
    """An Approve click whose replies would go to an internal URL, or to a channel."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "test"},
        "user": {"id": APPROVER, "username": "approver", "team_id": TEAM},
        "api_app_id": "A0000001",
        "trigger_id": "2.trigger",
        "container": {"type": "message", "message_ts": "1.000001", "channel_id": "CGENERAL1"},
        "channel": {"id": "CGENERAL1", "name": "general"},
        "message": {"ts": "1.000001", "blocks": []},
        "response_url": _url(recorder),
        "actions": [
            {"type": "button", "action_id": Action.APPROVE, "block_id": "b", "value": value}
        ],
    }
    payload.update(fields)
    return payload


def _url(target: Recorder | str) -> str:
    return target if isinstance(target, str) else target.url()


def form(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def watch_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Capture every record of every logger (the bot's, Bolt's, aiohttp's) from DEBUG up."""
    caplog.set_level(logging.DEBUG)


def assert_no_traceback(caplog: pytest.LogCaptureFixture, stderr: str = "") -> None:
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info], "a log record carries a traceback"
    assert "Traceback" not in stderr


def assert_reached_nobody(bot: Bot, recorder: Recorder) -> None:
    """No Web API call (not even auth.test: Bolt never saw it) and no response_url call."""
    assert [c.method for c in bot.api.calls] == []
    assert recorder.requests == []
