"""Batches through the endpoint: 50 lines validated with progress, 51 refused, a closed modal."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.policy.models import Draft
from bot.slack.ids import Block, Field, View
from tests.slack.conftest import REQUESTER, Bot
from tests.slack.net import Net
from tests.slack.steps import has

pytestmark = [pytest.mark.timeout(60), pytest.mark.db]


def fifty(world: Net, n: int = 50) -> str:
    for i in range(1, n + 1):
        world.dns.set(f"d{i}.test", "MX", "10 mx.partner.test.")
    return "\n".join(f"d{i}.test" for i in range(1, n + 1))


def draft_lines(bot: Bot) -> list[dict[str, Any]]:
    def load(session: Session) -> list[dict[str, Any]]:
        draft = session.exec(select(Draft).where(Draft.owner_id == REQUESTER)).one()
        return list(draft.lines)

    return bot.services.store.run_sync(load)


async def open_add(bot: Bot) -> str:
    answer = await bot.slack.command("add", user=REQUESTER)
    assert answer.status == 200
    await bot.api.wait_for("views.open")
    view_id = next(iter(bot.api.views))
    await bot.api.wait_view(view_id, has(callback=View.DOMAINS_ADD))
    return view_id


async def test_a_50_line_batch_is_accepted_and_validated_with_progress(
    real_bot: Bot, world: Net
) -> None:
    bot, api = real_bot, real_bot.api
    world.servers["mx.partner.test"].reply_delay = 0.02
    view_id = await open_add(bot)
    answer = await bot.slack.submit(
        api.views[view_id], {Block.DOMAINS: {Field.DOMAINS: fifty(world)}}
    )
    assert answer.json["response_action"] == "update"
    review = api.views[view_id]
    assert "50 domains ready to add" in str(review["blocks"])
    before = len(api.calls)
    started = time.monotonic()
    answer = await bot.slack.submit(review)
    assert answer.status == 200
    assert "Validating 0 of 50" in str(answer.json["view"]["blocks"])
    view = await api.wait_view(view_id, has("Page 1 of 2", absent=("Validating",)), timeout=40)
    elapsed = time.monotonic() - started
    assert str(view["blocks"]).count("Supports TLS") == 25
    updates = [c for c in api.calls[before:] if c.method == "views.update"]
    # About one update a second while it runs, plus the final one.
    assert len(updates) <= elapsed / 1.0 + 2
    draft = draft_lines(bot)
    assert len(draft) == 50
    assert all(line["verdict"] == "strict" for line in draft)


async def test_a_51_line_batch_is_refused_with_a_field_error(real_bot: Bot, world: Net) -> None:
    bot, api = real_bot, real_bot.api
    view_id = await open_add(bot)
    answer = await bot.slack.submit(
        api.views[view_id], {Block.DOMAINS: {Field.DOMAINS: fifty(world, 51)}}
    )
    assert answer.json["response_action"] == "errors"
    error = answer.json["errors"][Block.DOMAINS]
    assert "51 domains" in error
    assert "at most 50" in error
    draft = draft_lines(bot)
    assert draft == []  # nothing half-written


async def test_closing_the_modal_sends_the_result_by_direct_message(
    real_bot: Bot, world: Net
) -> None:
    bot, api = real_bot, real_bot.api
    view_id = await open_add(bot)
    text = "partner.test\nplain.test\nself.test"
    await bot.slack.submit(api.views[view_id], {Block.DOMAINS: {Field.DOMAINS: text}})
    await bot.slack.submit(api.views[view_id])
    api.close_view(view_id)
    dm = await api.wait_for(
        "chat.postMessage",
        lambda b: b.get("channel") == REQUESTER and "finished" in str(b.get("text")),
    )
    words = str(dm.body["blocks"])
    assert "Validation of 3 external domains finished: 2 support TLS" in words
    assert "plain.test*: :x: *TLS Not Supported*" in words


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        pytest.param("postmaster@partner.test", "Supports TLS", id="email-strict"),
        pytest.param("self.test", "Relaxed Encryption Mode", id="domain-relaxed"),
        pytest.param("plain.test", "TLS Not Supported", id="domain-no-starttls"),
    ],
)
async def test_check_probes_for_real_and_answers_privately(
    real_bot: Bot, target: str, shown: str
) -> None:
    answer = await real_bot.slack.command(f"check {target}", user=REQUESTER)
    assert answer.status == 200
    assert f"Checking {target}" in answer.text
    call = await real_bot.api.wait_for("response_url")
    assert call.body["response_type"] == "ephemeral"
    assert shown in str(call.body["blocks"])


async def test_someone_elses_list_cannot_be_changed(real_bot: Bot) -> None:
    bot, api = real_bot, real_bot.api
    view_id = await open_add(bot)
    answer = await bot.slack.submit(
        api.views[view_id], {Block.DOMAINS: {Field.DOMAINS: "partner.test"}}, user="UOTHER001"
    )
    assert answer.json["response_action"] == "errors"
    assert "belongs to someone else" in answer.json["errors"][Block.DOMAINS]
    assert draft_lines(bot) == []
