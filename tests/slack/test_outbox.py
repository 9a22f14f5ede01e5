"""Nothing is left half-shown after a crash: the outbox of Slack notices (issue 11, item 5).

A decision writes its notice in its own transaction. These tests leave a decision
committed with nothing shown — as a process killed right after the commit would —
or with its notice claimed by a delivery that died, or with Slack failing, and
check that the next round (on a fresh instance over the same database) shows it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest
from sqlmodel import Session

from bot.clock import ManualClock, system_clock
from bot.policy import notices as outbox
from bot.policy.approvals import approve
from bot.policy.types import Actor, RequestState
from bot.slack import notices
from bot.slack.app import build_client
from bot.slack.ids import Action
from tests.slack.conftest import APPROVER, REQUESTER, Bot, running_bot
from tests.slack.prober import TableProber
from tests.slack.steps import button_values
from tests.slack.test_approvals import route_request, state_of
from tests.slack.test_message_updates import announced
from tests.support.slack_api import SlackApi, all_text

pytestmark = [pytest.mark.timeout(30), pytest.mark.db]


def approve_in_db(bot: Bot, request_id: int) -> None:
    """The decision as a process that died right after its commit leaves it."""

    def run(session: Session) -> None:
        approve(
            session=session,
            request_id=request_id,
            approver=Actor(APPROVER, "bo"),
            is_approver=lambda _: True,
            now=system_clock(),
        )

    bot.services.store.run_sync(run)


def waiting(bot: Bot) -> int:
    return bot.services.store.run_sync(lambda s: outbox.undelivered(session=s))


def requester_dms(api: SlackApi) -> list[str]:
    return [all_text(c.body) for c in api.of("chat.postMessage") if c.body["channel"] == REQUESTER]


async def test_a_decision_committed_before_a_crash_is_shown_by_the_next_instance(
    bot: Bot, slack_api: SlackApi, engine: object
) -> None:
    rid = route_request(bot)
    _, where = await announced(bot, rid)
    approve_in_db(bot, rid)  # committed; then the process is gone before any Slack call
    assert state_of(bot, rid) == RequestState.APPROVED
    assert slack_api.of("chat.update") == []
    assert requester_dms(slack_api) == []
    assert waiting(bot) == 1

    async with running_bot(slack_api, engine, TableProber()) as restarted:  # type: ignore[arg-type]
        stop = asyncio.Event()
        client = build_client(restarted.services.settings)
        loop = asyncio.create_task(notices.run_outbox(restarted.services, client, stop, poll=0.1))
        update = await slack_api.wait_for("chat.update")
        dm = await slack_api.wait_for("chat.postMessage", lambda b: b["channel"] == REQUESTER)
        stop.set()
        await loop
    assert (update.body["channel"], update.body["ts"]) == (where["channel"], where["ts"])
    assert f"Approved* by <@{APPROVER}>" in all_text(update.body)
    assert button_values(update.body, Action.APPROVE) == []
    assert "was approved" in all_text(dm.body)
    assert waiting(bot) == 0
    assert len(slack_api.of("chat.update")) == 1
    assert len(requester_dms(slack_api)) == 1


async def test_a_delivery_that_died_half_way_is_taken_over_when_its_lease_ends(
    bot: Bot, slack_api: SlackApi
) -> None:
    rid = route_request(bot)
    await announced(bot, rid)
    approve_in_db(bot, rid)
    start = system_clock()
    taken = bot.services.store.run_sync(lambda s: outbox.claim(session=s, now=start))
    assert len(taken) == 1  # claimed by a delivery that is then killed
    clock = ManualClock(start)
    services = dataclasses.replace(bot.services, clock=clock)
    client = build_client(services.settings)
    assert await notices.deliver(services, client) == notices.Round(0, 0)  # still leased
    clock.advance(outbox.LEASE + timedelta(seconds=1))
    assert await notices.deliver(services, client) == notices.Round(1, 0)
    assert len(slack_api.of("chat.update")) == 1
    assert len(requester_dms(slack_api)) == 1
    assert waiting(bot) == 0


async def test_slack_failing_leaves_the_notice_for_a_later_round(
    bot: Bot, slack_api: SlackApi
) -> None:
    rid = route_request(bot)
    message, _ = await announced(bot, rid)
    slack_api.break_method("chat.update")
    answer = await bot.slack.click_in_message(message, Action.APPROVE, str(rid), user=APPROVER)
    assert answer.status == 200
    await bot.settle()
    assert state_of(bot, rid) == RequestState.APPROVED
    assert slack_api.of("chat.update#error")
    assert requester_dms(slack_api) == []  # not told before the message shows it
    assert waiting(bot) == 1
    slack_api.mend("chat.update")
    clock = ManualClock(system_clock())
    services = dataclasses.replace(bot.services, clock=clock)
    client = build_client(services.settings)
    assert await notices.deliver(services, client) == notices.Round(0, 0)  # retried later
    clock.advance(outbox.RETRY_AFTER + timedelta(seconds=1))
    assert await notices.deliver(services, client) == notices.Round(1, 0)
    update = slack_api.of("chat.update")[-1]
    assert f"Approved* by <@{APPROVER}>" in all_text(update.body)
    assert any("was approved" in t for t in requester_dms(slack_api))
    assert waiting(bot) == 0


async def test_a_late_click_on_a_decided_request_repairs_its_message(
    bot: Bot, slack_api: SlackApi
) -> None:
    rid = route_request(bot)
    message, where = await announced(bot, rid)
    approve_in_db(bot, rid)  # decided; its message still has its buttons
    answer = await bot.slack.click_in_message(
        message, Action.APPROVE, str(rid), user=APPROVER, ts=where["ts"]
    )
    assert answer.status == 200
    await bot.settle()
    repaired = [c for c in slack_api.of("chat.update") if c.body["ts"] == where["ts"]]
    assert repaired
    assert f"Approved* by <@{APPROVER}>" in all_text(repaired[0].body)
    assert button_values(repaired[0].body, Action.APPROVE) == []
    said = [all_text(c.body) for c in slack_api.of("response_url")]
    assert any("already approved" in t or "was approved" in t for t in said), said
