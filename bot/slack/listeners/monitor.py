"""The buttons on monitoring alerts: Re-check now, Relax, Suspend, Upgrade, Enforce.

Each click is acked at once; the work (:func:`bot.policy.monitor.actions.perform`,
which does its database work in threads) runs after the ack. The clicker is
answered privately with the sentence it returns. Relax / Suspend / Upgrade /
Enforce open a change request, which is posted to the approval channel with
Approve / Reject like any other; the alert message then says who opened which
request and keeps only *Re-check now*. Errors reach the user through the one error path.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.policy.monitor.actions import perform
from bot.policy.monitor.alerts import ActionId
from bot.slack.listeners.act import Act, announce, listener
from bot.slack.listeners.util import message_location
from bot.slack.monitor.opened import show_request_opened
from bot.slack.monitor.sink import alert_sink
from bot.slack.views.kit import escape


async def on_alert_button(act: Act) -> None:
    await act.ack()
    action, value = act.action_id, act.value
    act.later(_perform(act, action, value), f"{action} {value}")


async def _perform(act: Act, action: str, value: str) -> None:
    """Do what the button says; a request it opens is posted and shown on the alert."""
    services = act.services
    done = await perform(
        engine=services.store.engine,
        prober=services.prober,
        sink=alert_sink(act.client, services.settings, quiet=True),
        settings=services.settings,
        action=action,
        value=value,
        user=act.actor,
        clock=services.clock,
    )
    if done.request_id is not None:
        await announce(act, done.request_id)
        where = message_location(act.body)
        await show_request_opened(
            services,
            act.client,
            act.body,
            where=where,
            action=ActionId(action),
            request_id=done.request_id,
        )
    await act.tell(escape(done.text))


def register(app: AsyncApp) -> None:
    for action in ActionId:
        app.action(action.value)(listener(on_alert_button))
