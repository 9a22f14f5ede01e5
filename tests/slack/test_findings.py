"""Through the bot's endpoint: warnings in /tls check and in batch results; port 25 said once.

The real prober probes loopback partners: one that publishes MTA-STS and TLSA
(tests/support/findings_world.py), and, for the port-25 notice, domains whose MX
addresses refuse every connection while DNS answers.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Engine

from bot.slack.ids import Action, Block, Field, View
from tests.slack.conftest import REQUESTER, Bot, running_bot
from tests.slack.steps import approval_message, button_values, has
from tests.support.certs import Pki
from tests.support.findings_world import DOMAIN, FindingsWorld, findings_world
from tests.support.slack_api import SlackApi, all_text

pytestmark = [pytest.mark.timeout(60), pytest.mark.db]

DEAD = {"gone1.test": "127.0.12.1", "gone2.test": "127.0.12.2"}  # nothing listens


@pytest.fixture
async def partner(pki: Pki) -> AsyncIterator[FindingsWorld]:
    async with findings_world(pki) as world:
        for domain, address in DEAD.items():
            world.dns.set(domain, "MX", f"10 mx.{domain}.")
            world.dns.set(f"mx.{domain}", "A", address)
        yield world


@pytest.fixture
async def bot(slack_api: SlackApi, engine: Engine, partner: FindingsWorld) -> AsyncIterator[Bot]:
    prober = partner.prober
    async with running_bot(slack_api, engine, prober, probe=prober.settings) as running:
        yield running


async def expected_warnings(partner: FindingsWorld) -> list[str]:
    """The sentences --json prints for the partner."""
    result = await partner.prober.probe_domain(DOMAIN)
    return [w["message"] for w in result.to_dict()["warnings"]]


async def test_check_answers_with_every_warning_in_the_words_of_json(
    bot: Bot, partner: FindingsWorld
) -> None:
    warnings = await expected_warnings(partner)
    assert len(warnings) == 2
    before = len(bot.api.calls)
    await bot.slack.command(f"check {DOMAIN}", user=REQUESTER)
    call = await bot.api.wait_for(
        "response_url", lambda b: "Supports TLS" in all_text(b), after=before
    )
    text = all_text(call.body)
    for warning in warnings:
        assert f":warning: {warning}" in text
    fact = "_MTA-STS: policy (id 20260101) in enforce mode, mx: mx1.sts.test_"
    assert fact not in text  # collapsed: the line and the warnings

    # More shows the evidence; Less gives back the answer exactly as it was
    (value,) = list(button_values(call.body, Action.CHECK_MORE))
    before = len(bot.api.calls)
    await bot.slack.click_in_message(call.body, Action.CHECK_MORE, value, user=REQUESTER)
    more = await bot.api.wait_for("response_url", lambda b: "Less" in all_text(b), after=before)
    expanded = all_text(more.body)
    assert more.body["replace_original"] is True
    assert fact in expanded
    for fragment in ("mx1.sts.test", "TLSv1.3", "issuer", "SANs", "What to do next", "Checked"):
        assert fragment in expanded
    before = len(bot.api.calls)
    await bot.slack.click_in_message(more.body, Action.CHECK_LESS, value, user=REQUESTER)
    less = await bot.api.wait_for("response_url", lambda b: "More" in all_text(b), after=before)
    assert less.body["blocks"] == call.body["blocks"]
    assert less.body["text"] == call.body["text"]


async def open_add(bot: Bot, domains: str) -> str:
    await bot.slack.command("add", user=REQUESTER)
    await bot.api.wait_for("views.open")
    view_id = next(iter(bot.api.views))
    view = await bot.api.wait_view(view_id, has(callback=View.DOMAINS_ADD))
    answer = await bot.slack.submit(view, {Block.DOMAINS: {Field.DOMAINS: domains}})
    assert answer.json["response_action"] == "update"
    await bot.slack.submit(bot.api.views[view_id])
    return view_id


async def test_a_passing_row_shows_its_first_warning_and_more_shows_all(
    bot: Bot, partner: FindingsWorld
) -> None:
    warnings = await expected_warnings(partner)
    view_id = await open_add(bot, DOMAIN)
    view = await bot.api.wait_view(view_id, has("Supports TLS", absent=("Validating",)))
    row = next(b for b in view["blocks"] if DOMAIN in all_text(b) and "Supports TLS" in all_text(b))
    assert f":warning: {warnings[0]}"[:139] in row["text"]["text"]
    assert warnings[1] not in all_text(view)
    collapsed = view["blocks"]
    await bot.slack.click_in_view(view, Action.DOMAIN_MORE, "l1")
    view = await bot.api.wait_view(view_id, has("Less"))
    for warning in warnings:
        assert f":warning: {warning}" in all_text(view)
    for fact in ("mx1.sts.test", "TLSv1.3", "certificate: subject", "MTA-STS", "What to do next"):
        assert fact in all_text(view)
    assert len(view["blocks"]) > len(collapsed)
    await bot.slack.click_in_view(view, Action.DOMAIN_LESS, "l1")
    view = await bot.api.wait_view(view_id, has("More", absent=("Less",)))
    assert view["blocks"] == collapsed  # Less gives back exactly the collapsed row

    # the approver sees them too, on the change request
    await bot.slack.click_in_view(view, Action.FINISH)
    view = await bot.api.wait_view(view_id, has("Summary", callback=View.SUMMARY))
    found = re.search(r"Change request #(\d+)", all_text(view))
    assert found is not None
    message = await approval_message(bot.api, int(found.group(1)))
    words = all_text(message)
    for warning in warnings:
        assert f"{DOMAIN}: {warning}" in words


async def test_a_batch_that_cannot_reach_port_25_says_so_once(
    bot: Bot, partner: FindingsWorld
) -> None:
    view_id = await open_add(bot, "\n".join(DEAD))
    view = await bot.api.wait_view(view_id, has("Could not test", absent=("Validating",)))
    text = all_text(view)
    assert text.count("This host seems unable to reach port") == 1
    assert f"reach port {partner.port}: the connections to all 2 mail server addresses" in text
    assert "were refused, while DNS answered" in text


async def test_the_message_after_a_closed_modal_says_it_once_too(
    bot: Bot, partner: FindingsWorld
) -> None:
    await bot.slack.command("add", user=REQUESTER)
    await bot.api.wait_for("views.open")
    view_id = next(iter(bot.api.views))
    view = await bot.api.wait_view(view_id, has(callback=View.DOMAINS_ADD))
    await bot.slack.submit(view, {Block.DOMAINS: {Field.DOMAINS: "\n".join(DEAD)}})
    review = bot.api.views[view_id]
    bot.api.close_view(view_id)
    await bot.slack.submit(review)
    call = await bot.api.wait_for(
        "chat.postMessage", lambda b: "Validation of 2 external domains finished" in all_text(b)
    )
    text = all_text(call.body)
    assert text.count("This host seems unable to reach port") == 1
    assert "refused the connection" not in text  # the notice explains every row
    for domain in DEAD:
        assert f"*{domain}*: :warning: *Could not test*" in text
