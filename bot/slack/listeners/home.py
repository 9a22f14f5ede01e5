"""App Home (published on app_home_opened), its Set up button, and the policy delete modal."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.policy.models import ChangeRequest
from bot.policy.requests import propose_delete_policy
from bot.slack.ids import Action, Block, Field, View
from bot.slack.listeners.act import Act, listener, propose
from bot.slack.listeners.routes import open_flow
from bot.slack.middleware import services_of
from bot.slack.pages import home_data
from bot.slack.views.home import home_view
from bot.slack.views.kit import Mrkdwn, mrkdwn
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


async def on_home_setup(act: Act) -> None:
    await act.ack()
    await open_flow(act.services, act.client, act.body)


def chosen(view: dict[str, Any]) -> set[str]:
    values = (view.get("state") or {}).get("values") or {}
    entry = (values.get(Block.CONFIRM.value) or {}).get(Field.CONFIRM.value) or {}
    return {str(o.get("value")) for o in entry.get("selected_options") or ()}


async def on_policy_delete_submit(act: Act) -> None:
    picked = chosen(act.view)
    if not picked & {DELIVERY, RECEIPT}:
        problem = {Block.CONFIRM.value: "Choose Secure Delivery, Secure Receipt or both."}
        await act.ack(response_action="errors", errors=problem)
        return
    await act.ack()

    def make(session: Session, act: Act) -> ChangeRequest:
        return propose_delete_policy(
            session=session,
            requester=act.actor,
            rules=act.rules,
            secure_delivery=DELIVERY in picked,
            secure_receipt=RECEIPT in picked,
            now=act.now(),
        )

    def say(request_id: int) -> Mrkdwn:
        return mrkdwn("Change request #{} to delete the TLS policy awaits approval.", request_id)

    act.later(propose(act, make, say=say), "policy delete")


def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(on_home_opened)
    app.action(Action.HOME_SETUP.value)(listener(on_home_setup))
    app.view(View.POLICY_DELETE.value)(listener(on_policy_delete_submit))
