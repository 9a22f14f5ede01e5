"""The /tls subcommands, the App Home, and the one error path, through the endpoint."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from sqlmodel import Session

from bot.clock import system_clock
from bot.policy.approvals import approve
from bot.policy.requests import Rules, propose_add_domains
from bot.policy.route_requests import propose_add_route
from bot.policy.types import Actor
from bot.policy.validations import record_validation
from bot.probe.model import Verdict
from bot.slack.ids import Block, Field, View
from bot.slack.views.reports import DELIVERY, RECEIPT
from tests.slack.conftest import APPROVAL_CHANNEL, APPROVER, REQUESTER, Bot
from tests.slack.steps import approval_message, has
from tests.support.slack_api import all_text

pytestmark = [pytest.mark.timeout(30), pytest.mark.db]
ANN, BO = Actor(REQUESTER, "ann"), Actor(APPROVER, "bo")


def seed(bot: Bot) -> int:
    """good.example (strict) and self.example (relaxed) in force; a route pending; then
    good.example's latest validation fails. Returns the pending request's id."""
    results = {}
    for domain, verdict in [("good.example", Verdict.STRICT), ("self.example", Verdict.RELAXED)]:
        bot.prober.verdicts[domain] = verdict
        results[domain] = asyncio.run(bot.prober.probe_domain(domain))
    bot.prober.verdicts["good.example"] = Verdict.UNSUPPORTED
    failing = asyncio.run(bot.prober.probe_domain("good.example"))

    def run(session: Session) -> int:
        entries = []
        for domain, result in results.items():
            validation = record_validation(
                session=session, result=result, actor=ANN, now=system_clock()
            )
            assert validation.id is not None
            entries.append((domain, validation.id))
        request = propose_add_domains(
            session=session, requester=ANN, entries=entries, rules=Rules(), now=system_clock()
        )
        assert request.id is not None
        approve(
            session=session,
            request_id=request.id,
            approver=BO,
            is_approver=lambda _: True,
            now=system_clock(),
        )
        record_validation(session=session, result=failing, actor=ANN, now=system_clock())
        pending = propose_add_route(
            session=session,
            requester=ANN,
            route="mx9.corp.example",
            validation_id=None,
            rules=Rules(),
            now=system_clock(),
        )
        assert pending.id is not None
        return pending.id

    return bot.services.store.run_sync(run)


async def seeded(bot: Bot) -> int:
    return await asyncio.to_thread(seed, bot)


async def answer_to(bot: Bot, text: str, user: str = REQUESTER) -> str:
    before = len(bot.api.calls)
    answer = await bot.slack.command(text, user=user)
    assert answer.status == 200
    call = await bot.api.wait_for("response_url", after=before)
    assert call.body.get("response_type") == "ephemeral"
    return all_text(call.body)


async def test_app_home_shows_levels_pending_failures_and_recent_changes(bot: Bot) -> None:
    pending = await seeded(bot)
    answer = await bot.slack.home_opened(user=REQUESTER)
    assert answer.status == 200
    call = await bot.api.wait_for("views.publish")
    assert call.body["user_id"] == REQUESTER
    text = all_text(call.body)
    assert "2 external domain TLS policies: *1* relaxed, *1* strict" in text
    assert f"#{pending} Add inbound route mx9.corp.example:25" in text
    assert "*good.example* — mx.good.example: the server does not offer STARTTLS" in text
    assert "request.approved" in text


async def test_status_counts_policies_and_shows_one_domain(bot: Bot) -> None:
    await seeded(bot)
    text = await answer_to(bot, "status")
    assert "*2* external domain TLS policies (1 relaxed, 1 strict)" in text
    text = await answer_to(bot, "status Self.Example")
    assert "*self.example*: policy relaxed; last validation :white_check_mark: Relaxed" in text
    text = await answer_to(bot, "status good.example")
    assert "*good.example*: policy strict; last validation :x: TLS Not Supported" in text
    text = await answer_to(bot, "status nothing.example")
    assert "has no TLS policy" in text


async def test_routes_and_audit_answer_privately(bot: Bot) -> None:
    assert "No inbound route is configured yet" in await answer_to(bot, "routes")
    await seeded(bot)
    text = await answer_to(bot, "audit")
    assert "request.created" in text
    assert "request.approved" in text
    text = await answer_to(bot, "audit good.example")
    assert "policy.added" in text
    assert "request.created" not in text


async def test_remove_asks_approvers_and_refuses_a_domain_without_policy(bot: Bot) -> None:
    await seeded(bot)
    text = await answer_to(bot, "remove nothing.example")
    assert "nothing.example has no TLS policy" in text
    text = await answer_to(bot, "remove self.example")
    found = re.search(r"Change request #(\d+) to remove self.example awaits approval", text)
    assert found is not None
    message = await approval_message(bot.api, int(found.group(1)))
    assert message["channel"] == APPROVAL_CHANNEL
    assert "Remove 1 external domain" in message["text"]


async def test_policy_delete_asks_what_to_delete_then_asks_approvers(bot: Bot) -> None:
    await seeded(bot)
    await bot.slack.command("policy delete", user=REQUESTER)
    await bot.api.wait_for("views.open")
    view = next(v for v in bot.api.views.values() if v["callback_id"] == View.POLICY_DELETE)
    none = await bot.slack.submit_state(
        view, {Block.CONFIRM: {Field.CONFIRM: {"type": "checkboxes", "selected_options": []}}}
    )
    assert none.json["response_action"] == "errors"
    both = [{"value": DELIVERY}, {"value": RECEIPT}]
    done = await bot.slack.submit_state(
        view, {Block.CONFIRM: {Field.CONFIRM: {"type": "checkboxes", "selected_options": both}}}
    )
    assert done.status == 200
    call = await bot.api.wait_for(
        "chat.postMessage", lambda b: "Delete the whole TLS policy" in str(b.get("text"))
    )
    assert "2 domains" in call.body["text"]


async def test_add_opens_the_form_with_the_domains_given(bot: Bot) -> None:
    await bot.slack.command("add a.example b.example", user=REQUESTER)
    await bot.api.wait_for("views.open")
    view_id = next(iter(bot.api.views))
    view = await bot.api.wait_view(view_id, has(callback=View.DOMAINS_ADD))
    field = next(b for b in view["blocks"] if b.get("block_id") == Block.DOMAINS)
    assert field["element"]["initial_value"] == "a.example\nb.example"


async def test_an_unexpected_error_is_logged_with_an_id_the_user_also_sees(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(domain: str, *, email: str | None = None) -> None:
        raise RuntimeError("the probe fell over")

    bot.prober.probe_domain = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="bot.slack"):
        text = await answer_to(bot, "check good.example")
        await bot.settle()
    found = re.search(r"error id `([0-9a-f]{12})`", text)
    assert found is not None
    assert any(found.group(1) in r.getMessage() and r.exc_info for r in caplog.records)
    assert "the probe fell over" not in text
