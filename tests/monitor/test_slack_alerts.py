"""Alerts in Slack: Block Kit from a pure builder, posted by the sink to a local Web API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from bot.config import ConfigError, Secret, Settings
from bot.policy.monitor.alerts import (
    ActionId,
    Alert,
    Condition,
    Severity,
    SubjectKind,
)
from bot.policy.monitor.values import BadActionValue, action_value, parse_action_value
from bot.slack.monitor.blocks import alert_message, recovery_message
from bot.slack.monitor.sink import SlackAlertSink

pytestmark = pytest.mark.timeout(30)

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def alert(kind: SubjectKind = SubjectKind.POLICY, subject_id: str = "42") -> Alert:
    return Alert(
        subject=kind,
        subject_id=subject_id,
        subject_name="partner.test",
        condition=Condition.LEVEL_DROP,
        fingerprint="strict->relaxed",
        severity=Severity.CRITICAL,
        summary="partner.test dropped from Strict - Trusted Enforced to Relaxed Encryption Mode.",
        mail_impact="the certificate no longer verifies, so mail to partner.test is deferred.",
        details=("mx1.partner.test (192.0.2.1): Relaxed Encryption Mode — self-signed",),
        actions=(ActionId.RECHECK, ActionId.RELAX, ActionId.SUSPEND),
        raised_at=T0,
    )


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    (actions,) = [b for b in message["blocks"] if b["type"] == "actions"]
    elements: list[dict[str, Any]] = actions["elements"]
    return elements


def test_alert_message_explains_mail_and_offers_the_three_buttons() -> None:
    message = alert_message(alert())
    text = json.dumps(message)
    assert "What happens to mail" in text
    assert "deferred" in text
    assert "self-signed" in text
    assert [(b["action_id"], b["text"]["text"], b["value"]) for b in buttons(message)] == [
        ("monitor_recheck", "Re-check now", "42"),
        ("monitor_relax", "Relax to encrypt", "42"),
        ("monitor_suspend", "Suspend policy", "42"),
    ]
    assert message["text"].startswith("partner.test: ")


def test_recovery_message_carries_the_resolution() -> None:
    done = alert().resolve(
        T0, "Recovered: partner.test validates as Strict - Trusted Enforced again."
    )
    assert "validates as Strict" in recovery_message(done)["text"]


@pytest.mark.parametrize(
    ("kind", "subject_id", "value"),
    [
        pytest.param(SubjectKind.POLICY, "42", "42", id="policy-is-its-id"),
        pytest.param(SubjectKind.ROUTE, "7", "route:7", id="route-is-prefixed"),
    ],
)
def test_button_values_round_trip(kind: SubjectKind, subject_id: str, value: str) -> None:
    assert action_value(kind, subject_id) == value
    assert parse_action_value(value) == (kind, int(subject_id))


@pytest.mark.parametrize("value", ["", "x", "route:", "zone:3", "-1", "policy:0"])
def test_bad_button_values_are_refused(value: str) -> None:
    with pytest.raises(BadActionValue):
        parse_action_value(value)


@pytest.fixture
async def slack_api() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    calls: list[dict[str, Any]] = []

    async def post_message(request: web.Request) -> web.Response:
        body = (
            await request.json()
            if request.content_type == "application/json"
            else dict(await request.post())
        )
        calls.append({"auth": request.headers.get("Authorization"), **body})
        return web.json_response(
            {"ok": True, "channel": body["channel"], "ts": f"1700000000.{len(calls):06d}"}
        )

    app = web.Application()
    app.router.add_post("/api/chat.postMessage", post_message)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/api/", calls
    finally:
        await runner.cleanup()


async def test_the_sink_posts_to_the_alert_channel_and_threads_the_follow_up(
    slack_api: tuple[str, list[dict[str, Any]]],
) -> None:
    url, calls = slack_api
    settings = Settings(
        slack_bot_token=Secret("xoxb-test"),
        slack_api_url=url,
        approval_channel="CAPPROVE",
        alert_channel="CALERTS",
    )
    sink = SlackAlertSink.from_settings(settings)
    ref = await sink.send(alert())
    assert ref == "1700000000.000001"
    await sink.resolve(replace(alert(), message_ref=ref).resolve(T0, "Recovered."))
    assert [c["channel"] for c in calls] == ["CALERTS", "CALERTS"]
    assert calls[0]["auth"] == "Bearer xoxb-test"
    assert [b["action_id"] for b in buttons(calls[0])] == [
        "monitor_recheck",
        "monitor_relax",
        "monitor_suspend",
    ]
    assert calls[1]["thread_ts"] == ref
    assert calls[1]["reply_broadcast"] is True


def test_alerts_go_to_the_approval_channel_by_default() -> None:
    settings = Settings(slack_bot_token=Secret("xoxb-test"), approval_channel="CAPPROVE")
    assert SlackAlertSink.from_settings(settings).channel == "CAPPROVE"


def test_a_slack_sink_without_a_channel_is_a_setting_error() -> None:
    with pytest.raises(ConfigError, match="TLSBOT_ALERT_CHANNEL"):
        SlackAlertSink.from_settings(Settings(slack_bot_token=Secret("xoxb-test")))
