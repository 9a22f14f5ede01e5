"""Removing a route from the flow, opening the flow from App Home, approver groups cached."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session

from bot.clock import system_clock
from bot.policy.approvals import approve
from bot.policy.requests import Rules
from bot.policy.route_requests import propose_add_route
from bot.policy.types import Actor
from bot.slack.app import build_client
from bot.slack.approvers import Approvers
from bot.slack.ids import Action, View
from tests.slack.conftest import APPROVER, REQUESTER, Bot, make_settings
from tests.slack.steps import button_values, has
from tests.support.slack_api import SlackApi

pytestmark = [pytest.mark.timeout(30)]


def route_in_force(bot: Bot) -> None:
    def run(session: Session) -> None:
        request = propose_add_route(
            session=session,
            requester=Actor(REQUESTER, "ann"),
            route="mx1.corp.example",
            validation_id=None,
            rules=Rules(),
            now=system_clock(),
        )
        assert request.id is not None
        approve(
            session=session,
            request_id=request.id,
            approver=Actor(APPROVER, "bo"),
            is_approver=lambda _: True,
            now=system_clock(),
        )

    bot.services.store.run_sync(run)


@pytest.mark.db
async def test_remove_on_a_route_asks_approvers(bot: Bot) -> None:
    route_in_force(bot)
    await bot.slack.command("setup", user=REQUESTER)
    await bot.api.wait_for("views.open")
    view_id = next(iter(bot.api.views))
    view = await bot.api.wait_view(view_id, has("mx1.corp.example:25", callback=View.ROUTES))
    [route_id] = button_values(view, Action.ROUTE_REMOVE)
    await bot.slack.click_in_view(view, Action.ROUTE_REMOVE, route_id)
    view = await bot.api.wait_view(view_id, has("to remove mx1.corp.example:25 awaits approval"))
    assert "Awaiting approval: Remove inbound route mx1.corp.example:25" in str(view["blocks"])
    call = await bot.api.wait_for(
        "chat.postMessage", lambda b: "Remove inbound route" in str(b.get("text"))
    )
    assert "'text': 'Approve'" in str(call.body["blocks"])


@pytest.mark.db
async def test_the_home_tab_button_opens_the_flow(bot: Bot) -> None:
    await bot.slack.home_opened(user=REQUESTER)
    await bot.api.wait_for("views.publish")
    home = bot.api.views[f"VHOME{REQUESTER}"]
    await bot.slack.click_in_view(home, Action.HOME_SETUP)
    opened = await bot.api.wait_for("views.open")
    assert opened.body["trigger_id"].endswith(".trigger")
    view_id = next(v for v in bot.api.views if not v.startswith("VHOME"))
    await bot.api.wait_view(view_id, has("No inbound route is configured yet"))


async def test_group_membership_is_cached_for_its_ttl(slack_api: SlackApi) -> None:
    now = [0.0]
    approvers = Approvers(frozenset({"U1"}), frozenset({"SGROUP"}), ttl=60, clock=lambda: now[0])
    client = build_client(make_settings(slack_api.base_url + "api/"))
    slack_api.group_members["SGROUP"] = ["UMEMBER"]
    assert await approvers.is_approver("U1", client)
    assert await approvers.is_approver("UMEMBER", client)
    assert not await approvers.is_approver("UOTHER", client)
    assert len(slack_api.of("usergroups.users.list")) == 1  # U1 needed no lookup; then cached
    slack_api.group_members["SGROUP"] = []
    now[0] = 61.0
    assert not await approvers.is_approver("UMEMBER", client)
    assert len(slack_api.of("usergroups.users.list")) == 2
    await asyncio.sleep(0)
