"""Posts monitoring alerts to Slack with ``chat.postMessage`` (an :class:`AlertSink`).

Alerts go to ``TLSBOT_ALERT_CHANNEL`` (default: the approval channel); the
follow-up is posted in the alert's thread (the ``ts`` returned by ``send`` is
stored with the alert by the monitor) and also shown in the channel.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import ConfigError, Settings
from bot.policy.monitor.alerts import Alert
from bot.policy.monitor.sink import AlertSink, LogSink
from bot.slack.monitor.blocks import alert_message, recovery_message

log = logging.getLogger("tlsbot.monitor")


class SlackAlertSink:
    def __init__(self, client: AsyncWebClient, channel: str) -> None:
        self.client = client
        self.channel = channel

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackAlertSink:
        if settings.slack_bot_token is None:
            raise ConfigError("SLACK_BOT_TOKEN is needed to post monitoring alerts")
        channel = settings.alerts_to
        if channel is None:
            raise ConfigError("TLSBOT_ALERT_CHANNEL (or TLSBOT_APPROVAL_CHANNEL) is not set")
        kwargs: dict[str, Any] = {"token": settings.slack_bot_token.get_secret_value()}
        if settings.slack_api_url:
            kwargs["base_url"] = settings.slack_api_url
        return cls(AsyncWebClient(**kwargs), channel)

    async def send(self, alert: Alert) -> str | None:
        response = await self.client.chat_postMessage(channel=self.channel, **alert_message(alert))
        ts = response.get("ts")
        return str(ts) if ts else None

    async def resolve(self, alert: Alert) -> None:
        message = recovery_message(alert)
        if alert.message_ref:
            await self.client.chat_postMessage(
                channel=self.channel, thread_ts=alert.message_ref, reply_broadcast=True, **message
            )
        else:
            await self.client.chat_postMessage(channel=self.channel, **message)


def alert_sink(client: AsyncWebClient, settings: Settings, *, quiet: bool = False) -> AlertSink:
    """Where ``serve`` sends alerts: the alert channel, else (one log line) the log."""
    channel = settings.alerts_to
    if channel is not None:
        return SlackAlertSink(client, channel)
    if not quiet:
        log.warning(
            "neither TLSBOT_ALERT_CHANNEL nor TLSBOT_APPROVAL_CHANNEL is set: "
            "monitoring alerts go to the log only"
        )
    return LogSink()
