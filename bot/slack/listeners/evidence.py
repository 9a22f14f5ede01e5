"""*More* / *Less* on a ``/tls check`` answer and on a monitoring alert.

Each click is acked at once; the message is then rebuilt from the database (the
check's stored validation, the stored alert) with its evidence, or collapsed again
exactly as it was, and replaces the clicked one: a check answer in place through its
``response_url``, an alert with ``chat.update``.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from sqlmodel import Session

from bot.policy.errors import NotFound
from bot.policy.models import Validation
from bot.policy.validations import checked
from bot.slack.errors import UserError
from bot.slack.ids import Action
from bot.slack.listeners.act import Act, listener
from bot.slack.listeners.util import OUT_OF_DATE, action_int, message_location
from bot.slack.monitor.opened import alert_view
from bot.slack.views.results import check_message


def check_view(session: Session, validation_id: int, *, expanded: bool) -> dict[str, Any]:
    found = checked(session.get(Validation, validation_id))
    if found is None:
        raise NotFound("That check is no longer stored; run `/tls check` again.")
    return check_message(
        found.result, validation_id=validation_id, checked_at=found.at, expanded=expanded
    )


async def on_check_more_less(act: Act) -> None:
    await act.ack()
    validation_id, expanded = action_int(act.body), act.action_id == Action.CHECK_MORE

    async def work() -> None:
        message = await act.run(lambda s: check_view(s, validation_id, expanded=expanded))
        await act.tell(message["text"], message["blocks"], replace=True)

    act.later(work(), f"check more #{validation_id}")


async def on_alert_more_less(act: Act) -> None:
    await act.ack()
    alert_id, expanded = act.value, act.action_id == Action.ALERT_MORE
    channel, ts = message_location(act.body)
    if not (alert_id and channel and ts):
        raise UserError(OUT_OF_DATE)

    async def work() -> None:
        message = await act.run(lambda s: alert_view(s, alert_id, expanded=expanded))
        await act.client.chat_update(channel=channel, ts=ts, **message)

    act.later(work(), f"alert more {alert_id}")


def register(app: AsyncApp) -> None:
    for action in (Action.CHECK_MORE, Action.CHECK_LESS):
        app.action(action.value)(listener(on_check_more_less))
    for action in (Action.ALERT_MORE, Action.ALERT_LESS):
        app.action(action.value)(listener(on_alert_more_less))
