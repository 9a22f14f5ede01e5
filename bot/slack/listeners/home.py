"""App Home (published on app_home_opened), its Set up button, and the policy delete modal."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.policy.requests import Rules, propose_delete_policy
from bot.slack.approval import post_request
from bot.slack.ids import Action, Block, Field, View
from bot.slack.listeners.routes import open_flow
from bot.slack.listeners.util import guarded, later
from bot.slack.middleware import services_of
from bot.slack.pages import home_data
from bot.slack.replies import actor_of, dm
from bot.slack.views.home import home_view
from bot.slack.views.kit import mrkdwn
from bot.slack.views.reports import DELIVERY, RECEIPT


async def on_home_opened(
    event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    if event.get("tab", "home") != "home":
        return
    services = services_of(context)
    gateways = services.settings.gateways
    data = await services.store.run(
        lambda session: home_data(session, gateways, now=services.clock())
    )
    await client.views_publish(user_id=event["user"], view=home_view(data))


async def on_home_setup(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    await open_flow(services_of(context), client, body)


def chosen(view: dict[str, Any]) -> set[str]:
    values = (view.get("state") or {}).get("values") or {}
    entry = (values.get(Block.CONFIRM.value) or {}).get(Field.CONFIRM.value) or {}
    return {str(o.get("value")) for o in entry.get("selected_options") or ()}


async def on_policy_delete_submit(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    picked = chosen(view)
    if not picked & {DELIVERY, RECEIPT}:
        await ack(
            response_action="errors",
            errors={Block.CONFIRM.value: "Choose Secure Delivery, Secure Receipt or both."},
        )
        return
    await ack()
    services, actor = services_of(context), actor_of(body)
    rules = Rules.from_settings(services.settings)

    def propose(session: Session) -> int:
        request = propose_delete_policy(
            session=session,
            requester=actor,
            rules=rules,
            secure_delivery=DELIVERY in picked,
            secure_receipt=RECEIPT in picked,
            now=services.clock(),
        )
        assert request.id is not None
        return request.id

    async def work() -> None:
        request_id = await services.store.run(propose)
        await post_request(services, client, request_id)
        await dm(
            client,
            actor.id,
            mrkdwn("Change request #{} to delete the TLS policy awaits approval.", request_id),
        )

    later(services, client, body, work(), "policy delete")


def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(on_home_opened)
    app.action(Action.HOME_SETUP.value)(guarded(on_home_setup))
    app.view(View.POLICY_DELETE.value)(guarded(on_policy_delete_submit))
