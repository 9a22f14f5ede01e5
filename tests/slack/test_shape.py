"""The shape check takes every payload as Slack writes it (nulls included) and names what
is wrong with one Slack would not write."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.shape import problem

TEAM = {"id": "T01B5M3VC1X", "domain": "corp"}
USER = {"id": "U01AZ88AQQ4", "username": "ann", "name": "ann", "team_id": "T01B5M3VC1X"}
VIEW = {
    "id": "V0123ABCD",
    "team_id": "T01B5M3VC1X",
    "type": "modal",
    "blocks": [],
    "private_metadata": '{"d":1,"v":2}',
    "callback_id": "tls_domains_add",
    "state": {
        "values": {
            "tls_domains": {"domains": {"type": "plain_text_input", "value": "a.example"}},
            "tls_confirm": {"confirm": {"type": "checkboxes", "selected_options": []}},
        }
    },
    "hash": "1600857119.abc",
    "title": {"type": "plain_text", "text": "TLS policies"},
    "clear_on_close": False,
    "notify_on_close": False,
    "close": None,
    "submit": {"type": "plain_text", "text": "Continue"},
    "previous_view_id": None,
    "root_view_id": "V0123ABCD",
    "app_id": "A01BGTV24LQ",
    "external_id": "",
    "app_installed_team_id": "T01B5M3VC1X",
    "bot_id": "B01AQ1SN737",
}

SLACK_WRITES: dict[str, dict[str, Any]] = {
    "button-on-a-message": {
        "type": "block_actions",
        "user": USER,
        "api_app_id": "A01BGTV24LQ",
        "token": "legacy",
        "container": {
            "type": "message",
            "message_ts": "1600857119.015400",
            "channel_id": "C01ACC2E8S3",
            "is_ephemeral": False,
        },
        "trigger_id": "1388105719492.1379717998065.9bc163894734c1f415a2c504e81dec91",
        "team": TEAM,
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": "C01ACC2E8S3", "name": "tls-approvals"},
        "message": {"type": "message", "user": "U01BGV723R6", "ts": "1600857119.015400"},
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/T01B5M3VC1X/1/abc",
        "actions": [
            {
                "action_id": "tls_approve",
                "block_id": "XTkTR",
                "text": {"type": "plain_text", "text": "Approve", "emoji": True},
                "value": "12",
                "style": "primary",
                "type": "button",
                "action_ts": "1600857139.602925",
            }
        ],
    },
    "button-in-a-modal": {
        "type": "block_actions",
        "user": USER,
        "team": TEAM,
        "container": {"type": "view", "view_id": "V0123ABCD"},
        "trigger_id": "1.2.3",
        "view": VIEW,
        "actions": [
            {
                "type": "static_select",
                "action_id": "x",
                "block_id": "b",
                "selected_option": {"value": "1"},
                "action_ts": "1.2",
            }
        ],
    },
    "submission": {
        "type": "view_submission",
        "team": TEAM,
        "user": USER,
        "api_app_id": "A01BGTV24LQ",
        "token": "legacy",
        "trigger_id": "1.2.3",
        "view": VIEW,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    },
    "grid-submission": {
        "type": "view_submission",
        "team": None,
        "user": {**USER, "enterprise_id": "E0123"},
        "enterprise": {"id": "E0123", "name": "Corp"},
        "is_enterprise_install": True,
        "view": {**VIEW, "team_id": None},
    },
    "closed": {
        "type": "view_closed",
        "team": TEAM,
        "user": USER,
        "view": VIEW,
        "is_cleared": False,
    },
    "home-opened": {
        "token": "legacy",
        "team_id": "T01B5M3VC1X",
        "context_team_id": "T01B5M3VC1X",
        "context_enterprise_id": None,
        "api_app_id": "A01BGTV24LQ",
        "event": {
            "type": "app_home_opened",
            "user": "U01AZ88AQQ4",
            "channel": "D01ACC2E8S3",
            "tab": "home",
            "view": {**VIEW, "type": "home", "callback_id": "tls_home"},
            "event_ts": "1600857139.602925",
        },
        "type": "event_callback",
        "event_id": "Ev01ABC",
        "event_time": 1600857139,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": "T01B5M3VC1X",
                "user_id": "U01BGV723R6",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-abc",
    },
    "url-verification": {"token": "legacy", "challenge": "3eZbrw1aB", "type": "url_verification"},
    "slash-command": {
        "token": "legacy",
        "team_id": "T01B5M3VC1X",
        "team_domain": "corp",
        "channel_id": "C01ACC2E8S3",
        "channel_name": "general",
        "user_id": "U01AZ88AQQ4",
        "user_name": "ann",
        "command": "/tls",
        "text": "check partner.example",
        "api_app_id": "A01BGTV24LQ",
        "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.com/commands/T01B5M3VC1X/1/abc",
        "trigger_id": "1.2.3",
    },
}


@pytest.mark.parametrize("body", SLACK_WRITES.values(), ids=SLACK_WRITES.keys())
def test_every_payload_slack_writes_passes(body: dict[str, Any]) -> None:
    assert problem(body) is None


@pytest.mark.parametrize(
    ("body", "named"),
    [
        pytest.param({"type": "block_actions", "user": USER}, "without actions", id="no-actions"),
        pytest.param(
            {"type": "view_submission", "user": USER, "view": {**VIEW, "type": None}},
            "view.type",
            id="view-type-null",
        ),
        pytest.param(
            {"type": "event_callback", "authorizations": [{"team_id": 5}]},
            "authorizations[].team_id",
            id="authorization-team-a-number",
        ),
        pytest.param(
            {"type": "event_callback", "event": {"type": "x", "user": 5}},
            "event.user",
            id="event-user-a-number",
        ),
    ],
)
def test_a_payload_slack_would_not_write_is_named(body: dict[str, Any], named: str) -> None:
    found = problem(body)
    assert found is not None
    assert named in found
