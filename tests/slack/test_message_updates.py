"""Messages that follow their subject: an expired request's approval message, and an
alert from which someone opened a change request.

Both through the bot's real signed endpoint and the Web API stand-in.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.clock import system_clock
from bot.policy.announcements import announcement_of
from bot.policy.approvals import reject
from bot.policy.models import ChangeRequest
from bot.policy.monitor.alerts import ActionId
from bot.policy.monitor.models import MonitorAlert
from bot.policy.types import Actor, RequestState
from bot.slack.app import build_client
from bot.slack.approval import post_request
from bot.slack.ids import Action
from bot.slack.schedule import expire_requests
from tests.slack.conftest import APPROVAL_CHANNEL, APPROVER, REQUESTER, Bot
from tests.slack.steps import approval_message, button_values
from tests.slack.test_approvals import route_request, state_of
from tests.slack.test_monitoring import add_policy, alert_for, private_answer, sweep_once
from tests.support.slack_api import all_text

pytestmark = [pytest.mark.timeout(60), pytest.mark.db]


async def announced(bot: Bot, request_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Post ``request_id`` for approval; the message and where the store says it went."""
    await post_request(bot.services, build_client(bot.services.settings), request_id)
    message = await approval_message(bot.api, request_id)
    where = bot.services.store.run_sync(lambda s: announcement_of(session=s, request_id=request_id))
    assert where is not None
    return message, where


def make_overdue(bot: Bot, request_id: int) -> None:
    def run(session: Session) -> None:
        request = session.get(ChangeRequest, request_id)
        assert request is not None
        request.expires_at = system_clock() - timedelta(minutes=1)
        session.add(request)

    bot.services.store.run_sync(run)


async def test_an_expired_request_s_message_shows_expired_without_buttons(bot: Bot) -> None:
    rid = route_request(bot)
    message, where = await announced(bot, rid)
    assert where["channel"] == APPROVAL_CHANNEL
    assert where["ts"]
    assert button_values(message, Action.APPROVE) == [str(rid)]

    make_overdue(bot, rid)
    assert await expire_requests(bot.services, build_client(bot.services.settings)) == 1
    update = await bot.api.wait_for("chat.update", lambda b: f"#{rid}" in all_text(b))
    assert (update.body["channel"], update.body["ts"]) == (where["channel"], where["ts"])
    text = all_text(update.body)
    assert "*Expired*" in text
    assert "<!date^" in text  # when it expired, in the reader's time zone
    assert "no decision within its time limit" in text
    assert "<@system>" not in text  # nobody decided it
    assert button_values(update.body, Action.APPROVE) == []
    assert button_values(update.body, Action.REJECT) == []
    dm = await bot.api.wait_for("chat.postMessage", lambda b: b.get("channel") == REQUESTER)
    assert "expired" in dm.body["text"]

    # a click on the message as it was before the update still answers that it expired,
    # and repairs that copy: Expired, without buttons
    updates = len(bot.api.of("chat.update"))
    answer = await bot.slack.click_in_message(
        message, Action.APPROVE, str(rid), user=APPROVER, ts=where["ts"]
    )
    assert answer.status == 200
    said = await private_answer(bot, f"#{rid}")
    assert "expired" in said
    await bot.settle()
    assert state_of(bot, rid) == RequestState.EXPIRED
    repaired = bot.api.of("chat.update")[updates:]
    assert len(repaired) == 1
    assert (repaired[0].body["channel"], repaired[0].body["ts"]) == (where["channel"], where["ts"])
    assert "*Expired*" in all_text(repaired[0].body)
    assert button_values(repaired[0].body, Action.APPROVE) == []


async def test_a_request_decided_before_its_post_was_recorded_shows_the_decision(
    bot: Bot,
) -> None:
    rid = route_request(bot)
    bot.services.store.run_sync(
        lambda s: reject(
            session=s,
            request_id=rid,
            actor=Actor(REQUESTER, "ann"),
            is_approver=lambda _: False,
            reason="withdrawn",
            now=system_clock(),
        )
    )
    await post_request(bot.services, build_client(bot.services.settings), rid)
    update = await bot.api.wait_for("chat.update", lambda b: f"#{rid}" in all_text(b))
    assert "*Rejected*" in all_text(update.body)
    assert button_values(update.body, Action.APPROVE) == []
    assert bot.services.store.run_sync(lambda s: announcement_of(session=s, request_id=rid)) is None


@pytest.mark.parametrize(
    "action",
    [
        pytest.param(ActionId.SUSPEND, id="suspend"),
        pytest.param(ActionId.RELAX, id="relax"),
    ],
)
async def test_the_alert_message_shows_who_opened_which_request(
    real_bot: Bot, action: ActionId
) -> None:
    bot = real_bot
    policy_id = add_policy(bot, "self.test", ["mx.self.test"])
    await sweep_once(bot)
    alert = await alert_for(bot, "self.test")
    assert button_values(alert, action.value) == [str(policy_id)]
    alert_ts = "1700000000.000042"

    await bot.slack.click_in_message(
        alert, action.value, str(policy_id), user=REQUESTER, channel=APPROVAL_CHANNEL, ts=alert_ts
    )
    text = await private_answer(bot, "Change request #")
    request_id = int(text.split("#", 1)[1].split(" ", 1)[0])

    update = await bot.api.wait_for("chat.update", lambda b: b.get("ts") == alert_ts)
    assert update.body["channel"] == APPROVAL_CHANNEL
    shown = all_text(update.body)
    assert f"<@{REQUESTER}> opened change request #{request_id}" in shown
    assert action.label in shown
    assert f"change request #{request_id} awaits approval" in shown
    assert "What happens to mail" in shown  # still the alert
    assert button_values(update.body, ActionId.RECHECK.value) == [str(policy_id)]
    for gone in (ActionId.RELAX, ActionId.SUSPEND, ActionId.UPGRADE, ActionId.ENFORCE):
        assert button_values(update.body, gone.value) == []

    # the request is linked to the stored alert, and the approval message is posted as usual
    message = await approval_message(bot.api, request_id)
    assert button_values(message, Action.APPROVE) == [str(request_id)]
    linked = bot.services.store.run_sync(
        lambda s: [a.change_request_id for a in s.exec(select(MonitorAlert)).all()]
    )
    assert request_id in linked
