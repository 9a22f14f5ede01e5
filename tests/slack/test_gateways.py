"""Gateways through Slack: the Exchange hand-over (file, diff, Mark applied, one reminder),
each gateway's state in /tls status and App Home, and Mimecast drift Adopt / Revert,
all with signed requests to the bot's real endpoint and the Slack and Mimecast stand-ins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.clock import ManualClock
from bot.export.gateway import GatewayName
from bot.policy.models import AuditEvent, DomainPolicy, GatewayDrift, GatewayHandover
from bot.policy.requests import Rules, propose_add_domains
from bot.policy.types import Actor, RecordStatus
from bot.probe.model import Verdict
from bot.slack.app import build_client
from bot.slack.approval import post_request
from bot.slack.gateways import refresh, remind_due
from bot.slack.ids import Action
from tests.export.mimecast_support import INBOUND, RELAXED, STRICT, mimecast, settings_of
from tests.policy.factories import validated
from tests.slack.conftest import APPROVER, REQUESTER, Bot, running_bot
from tests.slack.prober import TableProber
from tests.slack.steps import approval_message, button_values
from tests.support.mimecast_api import MimecastApi
from tests.support.slack_api import SlackApi, all_text

pytestmark = [pytest.mark.timeout(40), pytest.mark.db]
__all__ = ["mimecast"]  # the fixture

ADMIN = "UGWADMIN1"
ALERTS = "CALERTS01"
START = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def exchange_bot(
    slack_api: SlackApi, engine: Engine, clock: ManualClock
) -> AsyncIterator[Bot]:
    async with running_bot(
        slack_api,
        engine,
        TableProber(),
        clock=clock,
        gateways=(GatewayName.POSTFIX, GatewayName.EXCHANGE),
        gateway_admins=(ADMIN,),
    ) as bot:
        yield bot


async def approve_through_slack(bot: Bot, *domains: str, verdict: Verdict = Verdict.STRICT) -> int:
    """Validate and propose in the store, then click Approve on the posted request."""
    now = bot.services.clock()

    def propose(session: Session) -> int:
        entries = []
        for domain in domains:
            validation = validated(session, domain, verdict, now=now)
            assert validation.id is not None
            entries.append((domain, validation.id))
        request = propose_add_domains(
            session=session,
            requester=Actor(REQUESTER, "admin"),
            entries=entries,
            rules=Rules(),
            now=now,
        )
        assert request.id is not None
        return request.id

    request_id = bot.services.store.run_sync(propose)
    await post_request(bot.services, build_client(bot.services.settings), request_id)
    message = await approval_message(bot.api, request_id)
    answer = await bot.slack.click_in_message(
        message, Action.APPROVE, str(request_id), user=APPROVER
    )
    assert answer.status == 200
    await bot.settle()
    return request_id


def handover_messages(api: SlackApi) -> list[dict[str, Any]]:
    return [
        c.body
        for c in api.of("chat.postMessage")
        if Action.GATEWAY_APPLIED.value in str(c.body.get("blocks"))
    ]


async def test_an_approved_change_is_handed_over_applied_and_reminded_once(
    exchange_bot: Bot, clock: ManualClock
) -> None:
    bot, api = exchange_bot, exchange_bot.api
    await approve_through_slack(bot, "partner.example")
    # the file, uploaded the way files.uploadV2 does it, to the admin's DM
    assert [c.body["users"] for c in api.of("conversations.open")] == [ADMIN]
    (shared,) = api.files
    script = shared["data"].decode()
    assert shared["title"].startswith("Microsoft 365 (Exchange Online): hand-over #")
    assert "    'partner.example'" in script
    assert "Set-TlsbotOutbound -Name 'tlsbot strict 1'" in script
    assert len(api.of("upload")) == 1
    (first,) = handover_messages(api)
    assert first["channel"] == shared["channel"]
    assert "*strict* + `partner.example`" in all_text(first)
    assert "*inbound* + `partner.example`" in all_text(first)

    # a second approval replaces the pending hand-over; its diff still starts from nothing
    await approve_through_slack(bot, "self.example", verdict=Verdict.RELAXED)
    assert len(api.files) == 2
    second = handover_messages(api)[-1]
    assert "*relaxed* + `self.example`" in all_text(second)
    assert "*strict* + `partner.example`" in all_text(second)
    (handover_id,) = button_values(second, Action.GATEWAY_APPLIED)

    # not applied within TLSBOT_APPLY_REMIND_HOURS (24): reminded once
    client = build_client(bot.services.settings)
    clock.advance(hours=23)
    assert await remind_due(bot.services, client) == 0
    clock.advance(hours=2)
    assert await remind_due(bot.services, client) == 1
    assert await remind_due(bot.services, client) == 0
    reminders = [c for c in api.of("chat.postMessage") if c.body.get("thread_ts")]
    assert len(reminders) == 1
    assert "has been waiting to be applied since" in all_text(reminders[0].body)

    # /tls status: waiting to be applied since …
    await bot.slack.command("status")
    await bot.settle()
    status = api.of("response_url")[-1].body
    assert "Microsoft 365 (Exchange Online)*: waiting to be applied since" in all_text(status)

    # only an admin may mark it applied
    await bot.slack.click_in_message(second, Action.GATEWAY_APPLIED, handover_id, user=REQUESTER)
    await bot.settle()
    assert "Only the gateway admins" in all_text(api.of("response_url")[-1].body)
    clock.advance(minutes=5)
    await bot.slack.click_in_message(second, Action.GATEWAY_APPLIED, handover_id, user=ADMIN)
    await bot.settle()
    update = await api.wait_for("chat.update", lambda b: "Applied by" in all_text(b))
    assert f"Applied by <@{ADMIN}>" in all_text(update.body)
    assert Action.GATEWAY_APPLIED.value not in str(update.body["blocks"])

    def recorded(session: Session) -> tuple[GatewayHandover | None, AuditEvent | None]:
        row = session.get(GatewayHandover, int(handover_id))
        event = session.exec(
            select(AuditEvent).where(col(AuditEvent.action) == "gateway.applied")
        ).first()
        return row, event

    row, event = bot.services.store.run_sync(recorded)
    assert row is not None
    assert row.applied_by_id == ADMIN
    assert row.applied_at == clock.now
    assert event is not None
    assert event.actor_id == ADMIN
    assert event.at == clock.now

    # a late click on the first (replaced) message records nothing twice
    (old_id,) = button_values(first, Action.GATEWAY_APPLIED)
    await bot.slack.click_in_message(first, Action.GATEWAY_APPLIED, old_id, user=ADMIN)
    await bot.settle()
    assert "replaced by a newer one" in all_text(api.of("response_url")[-1].body)

    # App Home: in force
    await bot.slack.home_opened(ADMIN)
    await bot.settle()
    home = (await api.wait_for("views.publish")).body
    assert "Microsoft 365 (Exchange Online)*: in force" in all_text(home)


@pytest.fixture
async def mimecast_bot(
    slack_api: SlackApi, engine: Engine, clock: ManualClock, mimecast: MimecastApi
) -> AsyncIterator[Bot]:
    async with running_bot(
        slack_api,
        engine,
        TableProber(),
        clock=clock,
        gateways=(GatewayName.POSTFIX, GatewayName.MIMECAST),
        mimecast=settings_of(mimecast),
        alert_channel=ALERTS,
    ) as bot:
        yield bot


def drift_alert(api: SlackApi, domain: str) -> dict[str, Any]:
    for call in api.of("chat.postMessage"):
        if call.body.get("channel") == ALERTS and domain in all_text(call.body):
            return call.body
    raise AssertionError(f"no drift alert for {domain}")


async def test_drift_is_alerted_and_adopt_and_revert_go_through_approval(
    mimecast_bot: Bot, mimecast: MimecastApi
) -> None:
    bot, api = mimecast_bot, mimecast_bot.api
    await approve_through_slack(bot, "partner.example")  # synced after the approval
    assert mimecast.domains(STRICT) == ["partner.example"]
    assert mimecast.domains(INBOUND) == ["partner.example"]
    mimecast.add_in_console(RELAXED, "extra.example")
    mimecast.remove_in_console(INBOUND, "partner.example")
    client = build_client(bot.services.settings)
    await refresh(bot.services, client)  # the monitoring schedule's sync
    added = drift_alert(api, "extra.example was added to the Mimecast relaxed group")
    removed = drift_alert(api, "partner.example was removed from the Mimecast inbound group")
    await refresh(bot.services, client)  # seen again: not alerted twice
    assert len([c for c in api.of("chat.postMessage") if c.body.get("channel") == ALERTS]) == 2

    # Adopt: a change request that makes the relaxed-group member policy
    (adopt_id,) = button_values(added, Action.DRIFT_ADOPT)
    await bot.slack.click_in_message(added, Action.DRIFT_ADOPT, adopt_id, channel=ALERTS)
    await bot.settle()
    opened = await api.wait_for("chat.update", lambda b: "opened change request" in all_text(b))
    assert "(*Adopt*)" in all_text(opened.body)
    assert Action.DRIFT_ADOPT.value not in str(opened.body["blocks"])
    request = await api.wait_for(
        "chat.postMessage", lambda b: "Adopt: extra.example was added" in all_text(b)
    )
    request_id = int(button_values(request.body, Action.APPROVE)[0])
    assert "extra.example" in mimecast.domains(RELAXED)  # left in place meanwhile
    await bot.slack.click_in_message(request.body, Action.APPROVE, str(request_id), user=APPROVER)
    await bot.settle()

    def policy(session: Session, domain: str) -> DomainPolicy | None:
        return session.exec(
            select(DomainPolicy).where(
                col(DomainPolicy.domain) == domain, col(DomainPolicy.status) == RecordStatus.ACTIVE
            )
        ).first()

    adopted = bot.services.store.run_sync(lambda s: policy(s, "extra.example"))
    assert adopted is not None
    assert (adopted.level, adopted.secure_delivery, adopted.secure_receipt) == (
        "relaxed",
        True,
        False,
    )
    assert mimecast.domains(RELAXED) == ["extra.example"]  # nothing to change: now policy

    # Revert: once approved, the sync puts the removed member back
    (revert_id,) = button_values(removed, Action.DRIFT_REVERT)
    await bot.slack.click_in_message(removed, Action.DRIFT_REVERT, revert_id, channel=ALERTS)
    await bot.settle()
    request = await api.wait_for(
        "chat.postMessage", lambda b: "Revert: partner.example was removed" in all_text(b)
    )
    revert_request = int(button_values(request.body, Action.APPROVE)[0])
    assert "partner.example" not in mimecast.domains(INBOUND)  # not before approval
    await bot.slack.click_in_message(
        request.body, Action.APPROVE, str(revert_request), user=APPROVER
    )
    await bot.settle()
    assert mimecast.domains(INBOUND) == ["partner.example"]
    partner = bot.services.store.run_sync(lambda s: policy(s, "partner.example"))
    assert partner is not None
    assert partner.secure_receipt  # the policy did not change

    rows = bot.services.store.run_sync(lambda s: list(s.exec(select(GatewayDrift))))
    assert sorted((r.domain, r.state, r.resolution) for r in rows) == [
        ("extra.example", "resolved", "the group matches the policy"),
        ("partner.example", "resolved", "reverted by tlsbot"),
    ]

    # the status shows Mimecast in force again
    await bot.slack.command("status")
    await bot.settle()
    assert "*Mimecast*: in force" in all_text(api.of("response_url")[-1].body)
