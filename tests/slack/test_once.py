"""Replays and retries do nothing twice, on one replica or across two (issue 11, item 4)."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlmodel import Session, col, select

from bot.policy.models import ChangeRequest, SeenRequest
from bot.slack.dedupe import request_key
from tests.slack.conftest import REQUESTER, Bot, running_bot
from tests.slack.prober import TableProber
from tests.slack.test_commands import seeded
from tests.support.db import TestDatabase
from tests.support.slack_api import SlackApi, all_text

pytestmark = [pytest.mark.timeout(30), pytest.mark.db]


def removals(bot: Bot) -> list[int]:
    def run(session: Session) -> list[int]:
        query = select(ChangeRequest.id).where(col(ChangeRequest.kind) == "remove_domains")
        return [int(i) for i in session.exec(query) if i is not None]

    return bot.services.store.run_sync(run)


def told(bot: Bot) -> list[str]:
    return [all_text(c.body) for c in bot.api.of("response_url")]


async def test_a_replayed_slash_command_opens_one_change_request(bot: Bot) -> None:
    await seeded(bot)
    body = bot.slack.command_body("remove self.example", user=REQUESTER)
    stamp = int(time.time())  # one signed request, sent three times within its 5 minutes
    answers = [
        await bot.slack.post(body, "application/x-www-form-urlencoded", timestamp=stamp)
        for _ in range(3)
    ]
    assert [a.status for a in answers] == [200, 200, 200]
    assert "Asking to remove" in answers[0].text
    assert answers[1].text == answers[2].text == ""  # the copies are answered, not acted on
    await bot.settle()
    assert len(removals(bot)) == 1
    awaits = [t for t in told(bot) if "awaits approval" in t]
    assert len(awaits) == 1
    assert not any("already in change request" in t for t in told(bot))


async def test_a_retry_with_x_slack_retry_num_is_answered_and_ignored(bot: Bot) -> None:
    body = bot.slack.event_body(
        {"type": "app_home_opened", "user": REQUESTER, "channel": "D0000001", "tab": "home"}
    )
    first = await bot.slack.post(body, "application/json")
    for n in (1, 2):
        retry = await bot.slack.post(
            body,
            "application/json",
            extra_headers={"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"},
        )
        assert retry.status == 200
    assert first.status == 200
    await bot.api.wait_for("views.publish")
    await bot.settle()
    await asyncio.sleep(0.2)
    assert len(bot.api.of("views.publish")) == 1


async def test_one_command_sent_to_two_replicas_at_once_is_acted_on_once(
    bot: Bot, slack_api: SlackApi, database: TestDatabase
) -> None:
    await seeded(bot)
    body = bot.slack.command_body("remove self.example", user=REQUESTER)
    stamp = int(time.time())
    other_engine = database.new_engine()
    try:
        async with running_bot(slack_api, other_engine, TableProber()) as other:
            answers = await asyncio.gather(
                bot.slack.post(body, "application/x-www-form-urlencoded", timestamp=stamp),
                other.slack.post(body, "application/x-www-form-urlencoded", timestamp=stamp),
            )
            await other.settle()
        await bot.settle()
    finally:
        other_engine.dispose()
    assert sorted(bool(a.text) for a in answers) == [False, True]
    assert len(removals(bot)) == 1
    assert len([t for t in told(bot) if "awaits approval" in t]) == 1


def test_every_copy_of_a_request_has_one_key_and_different_requests_differ() -> None:
    event = {"type": "event_callback", "event_id": "Ev1", "trigger_id": "ignored"}
    assert request_key(event, "x") == request_key(event, "y") == "event:Ev1"
    action = {"type": "block_actions", "trigger_id": "1.2.abc"}
    assert request_key(action, "") == "trigger:1.2.abc"
    bare = {"type": "something_else"}
    assert request_key(bare, "a") != request_key(bare, "b")
    assert request_key(bare, "a") == request_key(bare, "a")
    assert request_key({"type": "url_verification"}, "") is None
    assert len(request_key({"trigger_id": "t" * 500}, "") or "") == 128


def test_keys_are_forgotten_after_two_hours(bot: Bot) -> None:
    from datetime import timedelta

    from bot.clock import system_clock
    from bot.policy.seen import KEEP, first_time

    now = system_clock()
    store = bot.services.store
    assert store.run_sync(lambda s: first_time(session=s, key="k1", now=now))
    assert not store.run_sync(lambda s: first_time(session=s, key="k1", now=now))
    later = now + KEEP + timedelta(seconds=1)
    assert store.run_sync(lambda s: first_time(session=s, key="k2", now=later))
    keys = store.run_sync(lambda s: [r.key for r in s.exec(select(SeenRequest))])
    assert keys == ["k2"]
