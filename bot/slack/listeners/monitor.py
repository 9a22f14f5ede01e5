"""The buttons on monitoring alerts: Re-check now, Relax, Suspend, Upgrade, Enforce.

Each click is acked at once; the work (:func:`bot.policy.monitor.actions.perform`,
which does its database work in threads) runs after the ack. The clicker is
answered privately with the sentence it returns. Relax / Suspend / Upgrade /
Enforce open a change request, which is posted to the approval channel with
Approve / Reject like any other; the alert message then says who opened which
request and keeps only *Re-check now*. Errors reach the user through the one error path.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.policy.monitor.actions import perform
from bot.policy.monitor.alerts import ActionId
from bot.slack.approval import post_request
from bot.slack.listeners.util import action_value, guarded, later, message_location
from bot.slack.middleware import services_of
from bot.slack.monitor.opened import show_request_opened
from bot.slack.monitor.sink import alert_sink
from bot.slack.replies import actor_of, tell
from bot.slack.views.kit import escape


async def on_alert_button(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    services = services_of(context)
    actions = body.get("actions") or [{}]
    action = str(actions[0].get("action_id") or "")
    value = action_value(body)

    async def work() -> None:
        done = await perform(
            engine=services.store.engine,
            prober=services.prober,
            sink=alert_sink(client, services.settings, quiet=True),
            settings=services.settings,
            action=action,
            value=value,
            user=actor_of(body),
            clock=services.clock,
        )
        if done.request_id is not None:
            await post_request(services, client, done.request_id)
            await show_request_opened(
                services,
                client,
                body,
                where=message_location(body),
                action=ActionId(action),
                request_id=done.request_id,
            )
        await tell(client, body, escape(done.text))

    later(services, client, body, work(), f"{action} {value}")


def register(app: AsyncApp) -> None:
    for action in ActionId:
        app.action(action.value)(guarded(on_alert_button))
