"""The whole flow through the real endpoint: /tls setup to an approved policy."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.policy.queries import list_policies
from bot.slack.ids import Action, Block, Field, View
from tests.slack.conftest import APPROVER, REQUESTER, Bot
from tests.slack.net import ROUTE_GOOD, ROUTE_PLAIN, Net
from tests.slack.steps import approval_message, button_values, has
from tests.support.slack_api import all_text

pytestmark = [pytest.mark.timeout(60), pytest.mark.db]


def request_id(view: dict[str, Any]) -> int:
    found = re.search(r"Change request #(\d+)", all_text(view))
    assert found is not None
    return int(found.group(1))


async def open_setup(bot: Bot) -> str:
    answer = await bot.slack.command("setup", user=REQUESTER)
    assert answer.status == 200
    opened = await bot.api.wait_for("views.open")
    assert "Working" in str(opened.body)
    return next(iter(bot.api.views))


async def test_from_setup_to_an_approved_policy(real_bot: Bot, world: Net) -> None:
    bot = real_bot
    api, slack = bot.api, bot.slack
    view_id = await open_setup(bot)

    # Given no route yet, the flow starts at the routes and says so; Next is refused.
    view = await api.wait_view(
        view_id, has("No inbound route is configured yet", callback=View.ROUTES)
    )
    await slack.click_in_view(view, Action.ROUTES_NEXT)
    view = await api.wait_view(view_id, has("There is no inbound route yet"))

    # Add route: a field error for a bad name, then a change request with its evidence.
    await slack.click_in_view(view, Action.ROUTE_ADD)
    view = await api.wait_view(view_id, has(callback=View.ROUTE_ADD))
    bad = await slack.submit(view, {Block.ROUTE: {Field.ROUTE: "not a host"}})
    assert bad.json["response_action"] == "errors"
    assert Block.ROUTE in bad.json["errors"]
    world.dns.set("mx1.corp.test", "A", ROUTE_PLAIN)  # a server without STARTTLS
    await slack.submit(view, {Block.ROUTE: {Field.ROUTE: "mx1.corp.test"}})
    port = world.prober.settings.smtp_port
    view = await api.wait_view(view_id, has(f"to add mx1.corp.test:{port} awaits approval"))
    first = request_id(view)
    message = await approval_message(api, first)
    assert "TLS Not Supported" in str(message["blocks"])
    await slack.click_in_message(message, Action.APPROVE, str(first), user=APPROVER)
    await api.wait_for("chat.update")
    await bot.settle()

    # Validate: the route does not support TLS, so Next is refused.
    await slack.click_in_view(view, Action.ROUTES_VALIDATE)
    view = await api.wait_view(view_id, has(callback=View.ROUTE_VALIDATE))
    bad = await slack.submit(view, {Block.EMAIL: {Field.EMAIL: "nobody"}})
    assert bad.json["response_action"] == "errors"
    await slack.submit(view, {Block.EMAIL: {Field.EMAIL: "postmaster@corp.test"}})
    view = await api.wait_view(view_id, has("TLS Not Supported", callback=View.ROUTES))
    await slack.click_in_view(view, Action.ROUTES_NEXT)
    view = await api.wait_view(view_id, has("Next is refused"))

    # The server is fixed; Validate again, then Next goes on to the external domains.
    world.dns.set("mx1.corp.test", "A", ROUTE_GOOD)
    await slack.click_in_view(view, Action.ROUTES_VALIDATE)
    view = await api.wait_view(view_id, has(callback=View.ROUTE_VALIDATE))
    await slack.submit(view, {Block.EMAIL: {Field.EMAIL: "postmaster@corp.test"}})
    view = await api.wait_view(view_id, has("Strict - Trusted Enforced", callback=View.ROUTES))
    # the address given was asked for inside TLS (RCPT TO), and nothing was sent
    route_commands = world.servers["mx1.corp.test"].commands
    assert any(c.startswith("RCPT TO:<postmaster@corp.test>") for c in route_commands)
    assert not any(c.startswith("DATA") for c in route_commands)
    await slack.click_in_view(view, Action.ROUTES_NEXT)
    view = await api.wait_view(view_id, has("External domains", callback=View.DOMAINS))

    # Add External Domains: Continue lists each problem with Remove; Add keeps the clean list.
    await slack.click_in_view(view, Action.DOMAINS_ADD)
    view = await api.wait_view(view_id, has(callback=View.DOMAINS_ADD))
    text = "Partner.test\nsupplier.test\nbad..name\npartner.test\nself.test\n"
    answer = await slack.submit(view, {Block.DOMAINS: {Field.DOMAINS: text}})
    assert answer.json["response_action"] == "update"
    view = api.views[view_id]
    assert view["callback_id"] == View.DOMAINS_REVIEW
    assert "3 domains ready to add" in str(view["blocks"])
    assert "2 lines cannot be added" in str(view["blocks"])
    problem_lines = button_values(view, Action.BATCH_REMOVE)
    assert len(problem_lines) == 2
    await slack.click_in_view(view, Action.BATCH_REMOVE, problem_lines[0])
    view = await api.wait_view(view_id, has("1 line cannot be added"))
    answer = await slack.submit(view)
    assert answer.json["response_action"] == "update"

    # The batch validates at once; the view ends with the ticks.
    view = await api.wait_view(
        view_id, has("Supports TLS", "Relaxed Encryption Mode", absent=("Validating",))
    )
    assert str(view["blocks"]).count("Supports TLS") == 3

    # Finish: the change request and the summary; Edit goes back.
    await slack.click_in_view(view, Action.FINISH)
    view = await api.wait_view(view_id, has("Summary", callback=View.SUMMARY))
    assert "0* external domain TLS policies" in str(view["blocks"])
    second = request_id(view)
    assert second > first
    message = await approval_message(api, second)
    words = str(message["blocks"])
    assert "Add 3 external domains" in words
    assert "self.test would be enforced without verified TLS" in words
    assert "self-signed" in words

    # An approver approves; the policies are in force and the requester is told.
    await slack.click_in_message(message, Action.APPROVE, str(second), user=APPROVER)
    dm = await api.wait_for(
        "chat.postMessage",
        lambda b: b.get("channel") == REQUESTER and f"#{second}" in str(b.get("text")),
    )
    assert "approved" in dm.body["text"]
    await bot.settle()
    domains = bot.services.store.run_sync(lambda s: [p.domain for p in list_policies(session=s)])
    assert domains == ["partner.test", "self.test", "supplier.test"]
    await slack.click_in_view(view, Action.EDIT)
    view = await api.wait_view(view_id, has("3 external domain TLS policies in force"))
