"""Block Kit for monitoring alerts, built by pure functions from an :class:`Alert`.

Buttons carry the action ids of :class:`~bot.policy.monitor.alerts.ActionId`
(``monitor_recheck``, ``monitor_relax``, ``monitor_suspend``, ``monitor_upgrade``,
``monitor_enforce``) and, as value, the policy id (a route's is ``route:<id>``;
see :func:`bot.policy.monitor.values.action_value`). An alert raised from a probe
(its ``evidence`` is the stored result) also has *More*, which shows that evidence
(:func:`bot.slack.views.results.evidence_lines`), and then *Less*, which gives back
exactly the message as it was; their value is the alert's id.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.policy.monitor.alerts import ActionId, Alert, Severity
from bot.policy.monitor.values import action_value
from bot.probe.model import TargetResult
from bot.slack.ids import Action
from bot.slack.views.kit import (
    BlockDict,
    Mrkdwn,
    actions,
    button,
    chunk_lines,
    context,
    join,
    mention,
    mrkdwn,
    section,
)
from bot.slack.views.results import evidence_lines

_ICON = {Severity.CRITICAL: ":red_circle:", Severity.WARNING: ":warning:", Severity.INFO: ":bulb:"}
_BLOCK_PREFIX = "monitor_alert:"  # + the alert id: the block holding an alert's buttons
_STYLE = {ActionId.SUSPEND: "danger", ActionId.UPGRADE: "primary", ActionId.ENFORCE: "primary"}
EVIDENCE_SECTIONS = 6  # of the 50 blocks a message holds


def evidence_of(alert: Alert) -> TargetResult | None:
    """The probe result the alert was raised from, typed; None for alerts from real mail."""
    try:
        return TargetResult.from_dict(alert.evidence) if alert.evidence else None
    except (ValueError, TypeError, KeyError):
        return None


def alert_message(
    alert: Alert, *, note: Mrkdwn | None = None, expanded: bool = False
) -> dict[str, Any]:
    """``text`` (the notification) and ``blocks`` of a raised alert; ``note`` follows details."""
    icon = _ICON[alert.severity]
    blocks: list[BlockDict] = [
        section(mrkdwn("{} *{}*: {}", icon, alert.subject_name, alert.summary)),
        section(mrkdwn("*What happens to mail:* {}", alert.mail_impact)),
    ]
    if alert.details:
        blocks.append(section(join("\n", (f"• {d}" for d in alert.details[:20]))))
    if note:
        blocks.append(section(note))
    found = evidence_of(alert)
    if expanded and found is not None:
        lines = evidence_lines(found, alert.raised_at)
        blocks += [section(t) for t in chunk_lines(lines)[:EVIDENCE_SECTIONS]]
    about = mrkdwn("{}", alert.condition.value)
    if alert.raised_at:
        about = mrkdwn("{} · raised {} UTC", about, f"{alert.raised_at:%Y-%m-%d %H:%M}")
    if alert.change_request_id:
        about = mrkdwn("{} · change request #{} awaits approval", about, alert.change_request_id)
    blocks.append(context(about))
    elements = [_button(alert, a) for a in alert.actions]
    if found is not None:
        more = ("Less", Action.ALERT_LESS) if expanded else ("More", Action.ALERT_MORE)
        elements.append(button(more[0], more[1], alert.id))
    if elements:
        blocks.append(actions(*elements, block_id=f"{_BLOCK_PREFIX}{alert.id}"))
    return {"text": mrkdwn("{}: {}", alert.subject_name, alert.summary), "blocks": blocks}


def request_opened_message(
    alert: Alert, *, action: ActionId, request_id: int, user_id: str, expanded: bool = False
) -> dict[str, Any]:
    """The alert once ``user_id`` opened change request ``request_id`` from its ``action`` button.

    Only *Re-check now* is kept: while the request waits, another Relax / Suspend /
    Upgrade / Enforce would be refused (one pending request per domain).
    """
    shown = replace(
        alert,
        change_request_id=str(request_id),
        actions=tuple(a for a in alert.actions if a is ActionId.RECHECK),
    )
    note = mrkdwn(
        ":inbox_tray: {} opened change request #{} (*{}*); it awaits approval in the "
        "approval channel.",
        mention(user_id),
        request_id,
        action.label,
    )
    return alert_message(shown, note=note, expanded=expanded)


def alert_id_of(block_id: str) -> str | None:
    """The alert id an alert's actions block carries (None: not an alert's block)."""
    if block_id.startswith(_BLOCK_PREFIX) and len(block_id) > len(_BLOCK_PREFIX):
        return block_id[len(_BLOCK_PREFIX) :]
    return None


def recovery_message(alert: Alert) -> dict[str, Any]:
    """The follow-up when the condition no longer holds (posted in the alert's thread)."""
    resolution = alert.resolution or "recovered"
    text = mrkdwn(":white_check_mark: *{}*: {}", alert.subject_name, resolution)
    return {"text": mrkdwn("{}: {}", alert.subject_name, resolution), "blocks": [section(text)]}


def _button(alert: Alert, action: ActionId) -> dict[str, Any]:
    value = action_value(alert.subject, alert.subject_id)
    return button(action.label, action.value, value, style=_STYLE.get(action))
