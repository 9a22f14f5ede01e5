"""Outside text reaches Slack escaped, in ``text`` and in blocks (issue 11, item 3)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.policy.models import ChangeRequest, InboundRoute
from bot.slack.ids import Action, Block, Field, View
from tests.slack.conftest import APPROVER, REQUESTER, Bot
from tests.slack.steps import has
from tests.slack.test_approvals import posted, route_request
from tests.slack.test_flow import open_setup
from tests.support.slack_api import all_text

pytestmark = [pytest.mark.timeout(30), pytest.mark.db]

HOSTILE = "<!channel> <@U0EVIL1> <https://evil.example|click> & *urgent*"
RAW = ("<!channel>", "<@U0EVIL1>", "<https://evil.example")


def sent_everywhere(bot: Bot) -> str:
    """Every text (``text`` and blocks) of every call the bot made to Slack."""
    return "\n".join(all_text(c.body) for c in bot.api.calls)


async def test_a_reject_reason_is_escaped_in_the_message_the_dm_and_the_late_reply(
    bot: Bot,
) -> None:
    rid = route_request(bot)
    message = await posted(bot, rid)
    await bot.slack.click_in_message(message, Action.REJECT, str(rid), user=APPROVER)
    await bot.api.wait_for("views.open")
    view = bot.api.views[next(iter(bot.api.views))]
    await bot.slack.submit(view, {Block.REASON: {Field.REASON: HOSTILE}}, user=APPROVER)
    update = await bot.api.wait_for("chat.update")
    dm = await bot.api.wait_for("chat.postMessage", lambda b: b.get("channel") == REQUESTER)
    # a late click answers "was rejected by …: reason", escaped too
    await bot.slack.click_in_message(message, Action.APPROVE, str(rid), user="UAPPROV2")
    await bot.settle()
    late = [all_text(c.body) for c in bot.api.of("response_url")]
    for text in (update.body["text"], all_text(update.body), dm.body["text"], *late):
        for raw in RAW:
            assert raw not in text, text
    assert "&lt;!channel&gt; &lt;@U0EVIL1&gt;" in all_text(update.body)
    assert "&lt;!channel&gt;" in dm.body["text"]
    assert "&amp; *urgent*" in dm.body["text"]
    assert f"<@{APPROVER}>" in dm.body["text"]  # our own mentions still work
    for raw in RAW:
        assert raw not in sent_everywhere(bot)


async def test_a_route_with_a_zone_id_and_mentions_is_refused_in_the_form(bot: Bot) -> None:
    view_id = await open_setup(bot)
    view = await bot.api.wait_view(view_id, has(callback=View.ROUTES))
    await bot.slack.click_in_view(view, Action.ROUTE_ADD)
    view = await bot.api.wait_view(view_id, has(callback=View.ROUTE_ADD))
    hostile = "[fe80::1%<!channel> <@U0EVIL1> *urgent*]:25"
    answer = await bot.slack.submit(view, {Block.ROUTE: {Field.ROUTE: hostile}})
    assert answer.json["response_action"] == "errors"
    error = answer.json["errors"][Block.ROUTE]
    assert "zone ID" in error
    await bot.settle()
    stored = bot.services.store.run_sync(
        lambda s: (
            len(s.exec(select(ChangeRequest)).all()),
            len(s.exec(select(InboundRoute)).all()),
        )
    )
    assert stored == (0, 0)
    for raw in RAW[:2]:
        assert raw not in sent_everywhere(bot)
