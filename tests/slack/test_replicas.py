"""Two ``tlsbot serve`` instances over one database serve one flow, request by request."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
from sqlmodel import Session

from bot.clock import system_clock
from bot.policy.approvals import approve
from bot.policy.queries import list_policies
from bot.policy.requests import Rules
from bot.policy.route_requests import propose_add_route
from bot.policy.types import Actor
from bot.policy.validations import record_validation
from bot.probe.prober import Prober
from bot.slack.ids import Action, Block, Field, View
from tests.slack.conftest import APPROVER, REQUESTER, Bot, running_bot
from tests.slack.net import Net
from tests.slack.steps import approval_message, has
from tests.support.db import TestDatabase
from tests.support.slack_api import SlackApi

pytestmark = [pytest.mark.timeout(60), pytest.mark.db]


@pytest.fixture
async def pair(
    slack_api: SlackApi, engine: object, database: TestDatabase, world: Net
) -> AsyncIterator[tuple[Bot, Bot]]:
    """Two instances, each with its own engine, prober and background tasks."""
    second_engine = database.new_engine()
    settings = world.prober.settings
    try:
        async with (
            running_bot(slack_api, database.engine, world.prober, probe=settings) as a,
            running_bot(
                slack_api,
                second_engine,
                Prober(settings, clock=system_clock, trust=world.prober.trust),
                probe=settings,
            ) as b,
        ):
            yield a, b
    finally:
        second_engine.dispose()


async def approved_route(bot: Bot, world: Net) -> None:
    """An inbound route already in force (approved earlier), validated strict."""
    port = world.prober.settings.smtp_port
    result = await world.prober.probe_route("mx1.corp.test", port)

    def store(session: Session) -> None:
        ann, bo = Actor(REQUESTER, "ann"), Actor(APPROVER, "bo")
        validation = record_validation(
            session=session, result=result, actor=ann, now=system_clock()
        )
        request = propose_add_route(
            session=session,
            requester=ann,
            route=f"mx1.corp.test:{port}",
            validation_id=validation.id,
            rules=Rules(),
            now=system_clock(),
        )
        assert request.id is not None
        approve(
            session=session,
            request_id=request.id,
            approver=bo,
            is_approver=lambda _: True,
            now=system_clock(),
        )
        record_validation(session=session, result=result, actor=ann, now=system_clock())

    bot.services.store.run_sync(store)


async def test_one_flow_alternating_between_two_instances(
    pair: tuple[Bot, Bot], world: Net
) -> None:
    a, b = pair
    api = a.api
    await approved_route(a, world)
    turn = itertools.cycle([a, b])

    def nxt() -> Bot:
        return next(turn)

    await nxt().slack.command("setup", user=REQUESTER)  # a
    await api.wait_for("views.open")
    view_id = next(iter(api.views))
    view = await api.wait_view(view_id, has("Strict - Trusted Enforced", callback=View.ROUTES))
    await nxt().slack.click_in_view(view, Action.ROUTES_NEXT)  # b
    view = await api.wait_view(view_id, has(callback=View.DOMAINS))
    await nxt().slack.click_in_view(view, Action.DOMAINS_ADD)  # a
    view = await api.wait_view(view_id, has(callback=View.DOMAINS_ADD))
    text = "partner.test\nsupplier.test\nnot a domain"
    answer = await nxt().slack.submit(view, {Block.DOMAINS: {Field.DOMAINS: text}})  # b
    assert answer.json["response_action"] == "update"
    view = api.views[view_id]
    assert "2 domains ready to add" in str(view["blocks"])
    answer = await nxt().slack.submit(view)  # a: Add, validation runs on a
    assert answer.json["response_action"] == "update"
    view = await api.wait_view(view_id, has("Supports TLS", absent=("Validating",)))
    await nxt().slack.click_in_view(view, Action.FINISH)  # b
    view = await api.wait_view(view_id, has(callback=View.SUMMARY))
    request = int(str(view["blocks"]).split("Change request #")[1].split(" ")[0])
    message = await approval_message(api, request)
    await nxt().slack.click_in_message(message, Action.APPROVE, str(request), user=APPROVER)  # a
    await api.wait_for("chat.update")
    await a.settle()
    await b.settle()
    await nxt().slack.click_in_view(view, Action.EDIT)  # b
    await api.wait_view(view_id, has("2 external domain TLS policies in force"))
    domains = b.services.store.run_sync(lambda s: [p.domain for p in list_policies(session=s)])
    assert domains == ["partner.test", "supplier.test"]
