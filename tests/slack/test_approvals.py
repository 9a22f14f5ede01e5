"""Approve / Reject through signed button clicks on the posted change request."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import Session

from bot.clock import system_clock
from bot.policy.models import ChangeRequest
from bot.policy.queries import list_routes
from bot.policy.requests import Rules, propose_add_domains
from bot.policy.route_requests import propose_add_route
from bot.policy.types import Actor, RequestState
from bot.policy.validations import record_validation
from bot.probe.model import Verdict
from bot.slack.app import build_client
from bot.slack.approval import post_request
from bot.slack.ids import Action, Block, Field
from tests.slack.conftest import APPROVAL_CHANNEL, APPROVER, APPROVER_2, OUTSIDER, REQUESTER, Bot

pytestmark = [pytest.mark.timeout(30), pytest.mark.db]


def route_request(bot: Bot, requester: str = REQUESTER) -> int:
    def run(session: Session) -> int:
        request = propose_add_route(
            session=session,
            requester=Actor(requester, requester.lower()),
            route="mx1.corp.example:25",
            validation_id=None,
            rules=Rules(),
            now=system_clock(),
        )
        assert request.id is not None
        return request.id

    return bot.services.store.run_sync(run)


async def posted(bot: Bot, request_id: int) -> dict[str, Any]:
    client = build_client(bot.services.settings)
    await post_request(bot.services, client, request_id)
    call = await bot.api.wait_for(
        "chat.postMessage", lambda b: b.get("channel") == APPROVAL_CHANNEL
    )
    return call.body


def state_of(bot: Bot, request_id: int) -> str:
    return bot.services.store.run_sync(lambda s: s.get(ChangeRequest, request_id).state)  # type: ignore[union-attr]


async def test_an_approver_approves_and_the_message_and_requester_are_told(bot: Bot) -> None:
    rid = route_request(bot)
    message = await posted(bot, rid)
    assert f"Change request #{rid}" in str(message["blocks"])
    assert "has not been validated" in str(message["blocks"])
    answer = await bot.slack.click_in_message(message, Action.APPROVE, str(rid), user=APPROVER)
    assert answer.status == 200
    update = await bot.api.wait_for("chat.update")
    assert f"Approved* by <@{APPROVER}>" in str(update.body["blocks"])
    assert "'text': 'Approve'" not in str(update.body["blocks"])
    dm = await bot.api.wait_for("chat.postMessage", lambda b: b.get("channel") == REQUESTER)
    assert "was approved" in dm.body["text"]
    await bot.settle()
    assert state_of(bot, rid) == RequestState.APPROVED
    routes = bot.services.store.run_sync(lambda s: [r.host for r in list_routes(session=s)])
    assert routes == ["mx1.corp.example"]


async def test_a_double_click_changes_nothing_twice(bot: Bot) -> None:
    rid = route_request(bot)
    message = await posted(bot, rid)
    first, second = await asyncio.gather(
        bot.slack.click_in_message(message, Action.APPROVE, str(rid), user=APPROVER),
        bot.slack.click_in_message(message, Action.APPROVE, str(rid), user=APPROVER),
    )
    assert first.status == second.status == 200
    await bot.settle()
    # the losing click repairs the message it came from: the same decided card again
    updates = [str(c.body["blocks"]) for c in bot.api.of("chat.update")]
    assert 1 <= len(updates) <= 2
    assert all(f"Approved* by <@{APPROVER}>" in u and "'Approve'" not in u for u in updates)
    dms = [c for c in bot.api.of("chat.postMessage") if c.body.get("channel") == REQUESTER]
    assert len(dms) == 1
    told = [c.body["text"] for c in bot.api.of("response_url")]
    assert any("already approved" in t for t in told), told
    routes = bot.services.store.run_sync(lambda s: len(list_routes(session=s)))
    assert routes == 1


async def test_the_requester_cannot_approve_their_own_request(bot: Bot) -> None:
    rid = route_request(bot, requester=APPROVER_2)
    message = await posted(bot, rid)
    await bot.slack.click_in_message(message, Action.APPROVE, str(rid), user=APPROVER_2)
    call = await bot.api.wait_for("response_url")
    assert "cannot approve your own" in call.body["text"]
    assert call.body["response_type"] == "ephemeral"
    await bot.settle()
    assert state_of(bot, rid) == RequestState.PENDING
    assert bot.api.of("chat.update") == []


@pytest.mark.parametrize("action", [Action.APPROVE, Action.REJECT], ids=["approve", "reject"])
async def test_someone_who_is_not_an_approver_is_told_why_privately(
    bot: Bot, action: Action
) -> None:
    rid = route_request(bot)
    message = await posted(bot, rid)
    await bot.slack.click_in_message(message, action, str(rid), user=OUTSIDER)
    call = await bot.api.wait_for("response_url")
    assert "Only approvers" in call.body["text"]
    await bot.settle()
    assert state_of(bot, rid) == RequestState.PENDING
    assert bot.api.of("views.open") == []
    assert bot.api.of("usergroups.users.list")  # the group was asked before refusing


async def test_a_member_of_an_approver_group_may_approve(bot: Bot) -> None:
    bot.api.group_members["SAPPROVERS"] = ["UGROUPIE1"]
    rid = route_request(bot)
    message = await posted(bot, rid)
    await bot.slack.click_in_message(message, Action.APPROVE, str(rid), user="UGROUPIE1")
    await bot.api.wait_for("chat.update")
    await bot.settle()
    assert state_of(bot, rid) == RequestState.APPROVED


async def test_reject_asks_for_a_reason_and_tells_the_requester(bot: Bot) -> None:
    rid = route_request(bot)
    message = await posted(bot, rid)
    await bot.slack.click_in_message(message, Action.REJECT, str(rid), user=APPROVER)
    opened = await bot.api.wait_for("views.open")
    view = bot.api.views[next(iter(bot.api.views))]
    assert "Reason" in str(opened.body)
    empty = await bot.slack.submit(view, {Block.REASON: {Field.REASON: "  "}}, user=APPROVER)
    assert empty.json["response_action"] == "errors"
    assert state_of(bot, rid) == RequestState.PENDING
    done = await bot.slack.submit(
        view, {Block.REASON: {Field.REASON: "not our server"}}, user=APPROVER
    )
    assert done.status == 200
    update = await bot.api.wait_for("chat.update")
    assert "Rejected* by" in str(update.body["blocks"])
    assert "not our server" in str(update.body["blocks"])
    dm = await bot.api.wait_for("chat.postMessage", lambda b: b.get("channel") == REQUESTER)
    assert "rejected" in dm.body["text"]
    assert "not our server" in dm.body["text"]
    await bot.settle()
    assert state_of(bot, rid) == RequestState.REJECTED


async def test_the_message_spells_out_the_evidence_and_warns_on_unverified_tls(bot: Bot) -> None:
    def run(session: Session) -> int:
        ann = Actor(REQUESTER, "ann")
        entries = []
        for domain, verdict in [
            ("good.example", Verdict.STRICT),
            ("self.example", Verdict.RELAXED),
        ]:
            bot.prober.verdicts[domain] = verdict
            result = asyncio.run(bot.prober.probe_domain(domain))
            validation = record_validation(
                session=session, result=result, actor=ann, now=system_clock()
            )
            assert validation.id is not None
            entries.append((domain, validation.id))
        request = propose_add_domains(
            session=session, requester=ann, entries=entries, rules=Rules(), now=system_clock()
        )
        assert request.id is not None
        return request.id

    rid = await asyncio.to_thread(bot.services.store.run_sync, run)
    message = await posted(bot, rid)
    text = str(message["blocks"])
    assert "Add 2 external domains" in text
    assert "1 Strict - Trusted Enforced, 1 Relaxed Encryption Mode" in text
    assert "self.example would be enforced without verified TLS" in text
    assert "self-signed" in text


async def test_two_approvals_needed_the_message_counts_them(bot: Bot) -> None:
    def run(session: Session) -> int:
        request = propose_add_route(
            session=session,
            requester=Actor(REQUESTER, "ann"),
            route="mx1.corp.example:25",
            validation_id=None,
            rules=Rules(required_approvals=2),
            now=system_clock(),
        )
        assert request.id is not None
        return request.id

    rid = bot.services.store.run_sync(run)
    message = await posted(bot, rid)
    await bot.slack.click_in_message(message, Action.APPROVE, str(rid), user=APPROVER)
    first = await bot.api.wait_for("chat.update")
    assert f"Approved so far by <@{APPROVER}> (1 of 2)" in str(first.body["blocks"])
    assert "'text': 'Approve'" in str(first.body["blocks"])
    told = await bot.api.wait_for("response_url")
    assert "needs 1 more" in told.body["text"]
    assert not [c for c in bot.api.of("chat.postMessage") if c.body.get("channel") == REQUESTER]
    before = len(bot.api.calls)
    await bot.slack.click_in_message(message, Action.APPROVE, str(rid), user=APPROVER_2)
    second = await bot.api.wait_for("chat.update", after=before)
    assert f"Approved* by <@{APPROVER_2}>" in str(second.body["blocks"])
    await bot.settle()
    assert state_of(bot, rid) == RequestState.APPROVED


async def test_a_group_change_event_refreshes_the_cached_members_at_once(bot: Bot) -> None:
    # Given the approver group was looked up (and cached) while UGROUPIE1 was not in it
    rid = route_request(bot)
    message = await posted(bot, rid)
    await bot.slack.click_in_message(message, Action.APPROVE, str(rid), user="UGROUPIE1")
    assert "Only approvers" in (await bot.api.wait_for("response_url")).body["text"]
    asked = len(bot.api.of("usergroups.users.list"))
    # When Slack says the group's members changed
    bot.api.group_members["SAPPROVERS"] = ["UGROUPIE1"]
    event = {
        "type": "subteam_members_changed",
        "subteam_id": "SAPPROVERS",
        "team_id": "T0000001",
        "added_users": ["UGROUPIE1"],
        "added_users_count": "1",
    }
    before = len(bot.api.calls)
    assert (await bot.slack.event(event)).status == 200
    await bot.api.wait_for("usergroups.users.list", after=before)
    # Then the group was asked again, and the new member may approve (well within the TTL)
    assert len(bot.api.of("usergroups.users.list")) == asked + 1
    await bot.slack.click_in_message(message, Action.APPROVE, str(rid), user="UGROUPIE1")
    await bot.api.wait_for("chat.update")
    await bot.settle()
    assert state_of(bot, rid) == RequestState.APPROVED


async def test_a_change_of_a_group_that_approves_nothing_asks_nothing(bot: Bot) -> None:
    event = {"type": "subteam_members_changed", "subteam_id": "SOTHER", "team_id": "T0000001"}
    assert (await bot.slack.event(event)).status == 200
    await bot.settle()
    assert bot.api.of("usergroups.users.list") == []
