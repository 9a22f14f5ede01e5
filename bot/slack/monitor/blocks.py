"""Block Kit for monitoring alerts, built by pure functions from an :class:`Alert`.

Buttons carry the action ids of :class:`~bot.policy.monitor.alerts.ActionId`
(``monitor_recheck``, ``monitor_relax``, ``monitor_suspend``, ``monitor_upgrade``,
``monitor_enforce``) and, as value, the policy id (a route's is ``route:<id>``;
see :func:`bot.policy.monitor.values.action_value`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.policy.monitor.alerts import ActionId, Alert, Severity
from bot.policy.monitor.values import action_value

_ICON = {Severity.CRITICAL: ":red_circle:", Severity.WARNING: ":warning:", Severity.INFO: ":bulb:"}
_MAX_TEXT = 2900  # a section's text may hold 3,000 characters
_BLOCK_PREFIX = "monitor_alert:"  # + the alert id: the block holding an alert's buttons
_STYLE = {ActionId.SUSPEND: "danger", ActionId.UPGRADE: "primary", ActionId.ENFORCE: "primary"}


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def alert_message(alert: Alert, *, note: str | None = None) -> dict[str, Any]:
    """``text`` (the notification) and ``blocks`` of a raised alert; ``note`` follows details."""
    icon = _ICON[alert.severity]
    blocks = [
        _section(f"{icon} *{alert.subject_name}*: {alert.summary}"),
        _section(f"*What happens to mail:* {alert.mail_impact}"),
    ]
    if alert.details:
        blocks.append(_section("\n".join(f"• {d}" for d in alert.details[:20])))
    if note:
        blocks.append(_section(note))
    context = alert.condition.value
    if alert.raised_at:
        context += f" · raised {alert.raised_at:%Y-%m-%d %H:%M} UTC"
    if alert.change_request_id:
        context += f" · change request #{alert.change_request_id} awaits approval"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    if alert.actions:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"{_BLOCK_PREFIX}{alert.id}",
                "elements": [_button(alert, a) for a in alert.actions],
            }
        )
    return {"text": f"{alert.subject_name}: {alert.summary}", "blocks": blocks}


def request_opened_message(
    alert: Alert, *, action: ActionId, request_id: int, user_id: str
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
    note = (
        f":inbox_tray: <@{user_id}> opened change request #{request_id} "
        f"(*{action.label}*); it awaits approval in the approval channel."
    )
    return alert_message(shown, note=note)


def alert_id_of(block_id: str) -> str | None:
    """The alert id an alert's actions block carries (None: not an alert's block)."""
    if block_id.startswith(_BLOCK_PREFIX) and len(block_id) > len(_BLOCK_PREFIX):
        return block_id[len(_BLOCK_PREFIX) :]
    return None


def recovery_message(alert: Alert) -> dict[str, Any]:
    """The follow-up when the condition no longer holds (posted in the alert's thread)."""
    text = f":white_check_mark: *{alert.subject_name}*: {alert.resolution or 'recovered'}"
    return {
        "text": f"{alert.subject_name}: {alert.resolution or 'recovered'}",
        "blocks": [_section(text)],
    }


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}}


def _button(alert: Alert, action: ActionId) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action.value,
        "text": {"type": "plain_text", "text": action.label},
        "value": action_value(alert.subject, alert.subject_id),
    }
    if action in _STYLE:
        button["style"] = _STYLE[action]
    return button
