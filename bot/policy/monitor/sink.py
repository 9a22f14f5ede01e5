"""Where alerts go: an injected async sink, so the core never imports Slack.

:class:`AlertSink` is the protocol: ``send`` delivers a raised alert and may
return a reference to the message (a Slack ``ts``), which is stored with the
alert and handed back as ``alert.message_ref`` to ``resolve``, the follow-up.
:class:`LogSink` prints to a stream and the log for ``tlsbot monitor`` without
Slack; :class:`RecordingSink` keeps what it was given (tests, dry runs).
"""

from __future__ import annotations

import logging
import sys
from typing import Protocol, TextIO

from bot.policy.monitor.alerts import Alert

log = logging.getLogger("tlsbot.monitor")


class AlertSink(Protocol):
    async def send(self, alert: Alert) -> str | None:
        """Deliver a raised alert; return a reference to the message, if any."""

    async def resolve(self, alert: Alert) -> None:
        """Deliver the follow-up: ``alert.resolved_at`` and ``alert.resolution`` are set."""


def describe(alert: Alert) -> str:
    """The alert as a few plain lines (console, log, notification text)."""
    lines = [
        f"[{alert.severity.value.upper()}] {alert.subject_name}: {alert.summary}",
        f"  Mail: {alert.mail_impact}",
    ]
    lines += [f"  - {d}" for d in alert.details]
    if alert.actions:
        lines.append("  Actions: " + " | ".join(a.label for a in alert.actions))
    if alert.change_request_id:
        lines.append(f"  Change request #{alert.change_request_id} opened for approval.")
    return "\n".join(lines)


def describe_recovery(alert: Alert) -> str:
    return f"[RESOLVED] {alert.subject_name}: {alert.resolution or 'recovered'}"


class LogSink:
    """Writes alerts to a text stream (stdout by default)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    async def send(self, alert: Alert) -> str | None:
        text = describe(alert)
        log.debug("alert %s %s", alert.condition.value, alert.subject_name)
        print(text, file=self.stream or sys.stdout, flush=True)
        return None

    async def resolve(self, alert: Alert) -> None:
        log.debug("resolved %s %s", alert.condition.value, alert.subject_name)
        print(describe_recovery(alert), file=self.stream or sys.stdout, flush=True)


class RecordingSink:
    """Keeps every alert sent and resolved, in order."""

    def __init__(self) -> None:
        self.sent: list[Alert] = []
        self.resolved: list[Alert] = []

    async def send(self, alert: Alert) -> str | None:
        self.sent.append(alert)
        return f"ref-{len(self.sent)}"

    async def resolve(self, alert: Alert) -> None:
        self.resolved.append(alert)
