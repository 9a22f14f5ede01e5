"""Monitoring in Slack: alerts from a sweep, their buttons, /tls status history, App Home.

The bot runs on its real signed HTTP endpoint with the real prober over the
loopback mail world: ``self.test``'s MX presents a self-signed certificate, so a
policy admitted as strict drops to relaxed on the next check and raises an alert.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.clock import system_clock
from bot.commands import serve
from bot.policy.models import ChangeRequest, DomainPolicy
from bot.policy.monitor.actions import request_change
from bot.policy.monitor.alerts import ActionId, Alert, Condition, Severity, SubjectKind
from bot.policy.monitor.models import MonitorItem
from bot.policy.monitor.runner import run_once
from bot.policy.monitor.sink import LogSink, RecordingSink
from bot.policy.requests import Rules
from bot.policy.route_requests import propose_add_route
from bot.policy.types import SYSTEM, Actor, PolicyMode, RequestState
from bot.probe.model import Verdict
from bot.slack import schedule as schedule_module
from bot.slack.app import build_client
from bot.slack.ids import Action
from bot.slack.monitor.sink import SlackAlertSink, alert_sink
from bot.slack.schedule import ProposalPostingSink, Schedule, expire_requests
from bot.slack.store import Store
from tests.policy.factories import validated
from tests.slack.conftest import APPROVAL_CHANNEL, APPROVER, REQUESTER, Bot, make_settings
from tests.slack.net import Net
from tests.slack.steps import approval_message, button_values
from tests.support.slack_api import SlackApi, all_text

pytestmark = [pytest.mark.timeout(60), pytest.mark.db]


def add_policy(bot: Bot, domain: str, mx: list[str]) -> int:
    def run(session: Session) -> int:
        policy = DomainPolicy(
            domain=domain,
            level="strict",
            mx_hosts=mx,
            created_at=system_clock(),
            updated_at=system_clock(),
        )
        session.add(policy)
        session.flush()
        assert policy.id is not None
        return policy.id

    return bot.services.store.run_sync(run)


async def sweep_once(bot: Bot) -> None:
    """One ``tlsbot monitor --once --all`` posting to the approval channel (the alert default)."""
    client = build_client(bot.services.settings)
    await run_once(
        bot.services.settings,
        sink=SlackAlertSink(client, APPROVAL_CHANNEL),
        everything=True,
        engine=bot.services.store.engine,
        prober=bot.prober,
        clock=system_clock,
    )


async def alert_for(bot: Bot, domain: str) -> dict[str, Any]:
    call = await bot.api.wait_for(
        "chat.postMessage",
        lambda b: (
            b.get("channel") == APPROVAL_CHANNEL
            and domain in str(b.get("text"))
            and "monitor_recheck" in str(b.get("blocks"))
        ),
    )
    return call.body


async def private_answer(bot: Bot, words: str) -> str:
    call = await bot.api.wait_for("response_url", lambda b: words in all_text(b))
    return all_text(call.body)


@pytest.mark.parametrize(
    ("action", "mode", "level"),
    [
        pytest.param(ActionId.SUSPEND, PolicyMode.OBSERVE, "strict", id="suspend"),
        pytest.param(ActionId.RELAX, PolicyMode.ENFORCE, "relaxed", id="relax"),
    ],
)
async def test_an_alert_button_opens_a_request_that_approval_applies(
    real_bot: Bot, action: ActionId, mode: PolicyMode, level: str
) -> None:
    bot = real_bot
    policy_id = add_policy(bot, "self.test", ["mx.self.test"])
    await sweep_once(bot)
    alert = await alert_for(bot, "self.test")
    assert "What happens to mail" in all_text(alert)
    assert button_values(alert, action.value) == [str(policy_id)]

    answer = await bot.slack.click_in_message(alert, action.value, str(policy_id), user=REQUESTER)
    assert answer.status == 200
    text = await private_answer(bot, "Change request #")
    request_id = int(text.split("#", 1)[1].split(" ", 1)[0].rstrip(":"))
    assert "needs an approver" in text

    message = await approval_message(bot.api, request_id)
    assert message["channel"] == APPROVAL_CHANNEL
    assert button_values(message, Action.APPROVE) == [str(request_id)]
    await bot.slack.click_in_message(message, Action.APPROVE, str(request_id), user=APPROVER)
    await bot.api.wait_for("chat.update", lambda b: f"#{request_id}" in all_text(b))
    await bot.settle()

    def policy(session: Session) -> tuple[str, str, str]:
        row = session.exec(
            select(DomainPolicy).where(
                col(DomainPolicy.domain) == "self.test", col(DomainPolicy.status) == "active"
            )
        ).one()
        request = session.get(ChangeRequest, request_id)
        assert request is not None
        return row.mode, row.level, request.state

    assert bot.services.store.run_sync(policy) == (mode, level, RequestState.APPROVED)


async def test_the_requester_cannot_approve_a_request_opened_from_an_alert(real_bot: Bot) -> None:
    bot = real_bot
    policy_id = add_policy(bot, "self.test", ["mx.self.test"])
    await sweep_once(bot)
    alert = await alert_for(bot, "self.test")
    await bot.slack.click_in_message(alert, ActionId.SUSPEND.value, str(policy_id), user=APPROVER)
    text = await private_answer(bot, "Change request #")
    request_id = int(text.split("#", 1)[1].split(" ", 1)[0])
    message = await approval_message(bot.api, request_id)
    await bot.slack.click_in_message(message, Action.APPROVE, str(request_id), user=APPROVER)
    await bot.settle()
    state = bot.services.store.run_sync(
        lambda s: s.get(ChangeRequest, request_id).state  # type: ignore[union-attr]
    )
    assert state == RequestState.PENDING


async def test_recheck_now_answers_privately_with_the_result(real_bot: Bot) -> None:
    bot = real_bot
    policy_id = add_policy(bot, "self.test", ["mx.self.test"])
    await sweep_once(bot)
    alert = await alert_for(bot, "self.test")
    before = len(bot.api.of("chat.postMessage"))
    answer = await bot.slack.click_in_message(
        alert, ActionId.RECHECK.value, str(policy_id), user=REQUESTER
    )
    assert answer.status == 200
    text = await private_answer(bot, "Re-checked self.test")
    assert "Relaxed" in text
    assert "alert(s) still open" in text
    await bot.settle()
    # the alert is still the same condition: nothing new is posted to the channel
    assert len(bot.api.of("chat.postMessage")) == before


async def test_a_stale_alert_button_is_answered_with_one_line(real_bot: Bot) -> None:
    bot = real_bot
    alert = {"blocks": [], "text": "old alert"}
    await bot.slack.click_in_message(alert, ActionId.SUSPEND.value, "999999", user=REQUESTER)
    text = await private_answer(bot, "no longer exists")
    assert text.startswith(":no_entry:")


async def test_tls_status_domain_shows_the_monitoring_history(real_bot: Bot) -> None:
    bot = real_bot
    add_policy(bot, "self.test", ["mx.self.test"])
    # admitted as strict (validated by a person), then the sweep finds relaxed
    bot.services.store.run_sync(lambda s: validated(s, "self.test", Verdict.STRICT))
    await sweep_once(bot)
    await alert_for(bot, "self.test")
    await bot.slack.command("status self.test", user=REQUESTER)
    text = await private_answer(bot, "Last checks")
    assert "*self.test*: policy strict" in text
    assert "Open alerts:" in text
    assert "`level-drop`" in text
    assert "Certificate expiry:" in text
    assert "mx.self.test" in text
    assert "Relaxed Encryption Mode by tlsbot monitor" in text
    assert "Level changes:" in text
    assert "Strict - Trusted Enforced → :white_check_mark: Relaxed Encryption Mode" in text
    assert "next check" in text


async def test_tls_status_of_an_unknown_domain_says_so(real_bot: Bot) -> None:
    await real_bot.slack.command("status nowhere.test", user=REQUESTER)
    text = await private_answer(real_bot, "nowhere.test")
    assert "has no TLS policy" in text
    assert "Last checks:* none yet" in text


async def test_app_home_lists_the_domain_at_risk_first(real_bot: Bot) -> None:
    bot = real_bot
    add_policy(bot, "partner.test", ["mx.partner.test"])
    add_policy(bot, "self.test", ["mx.self.test"])
    await sweep_once(bot)
    await alert_for(bot, "self.test")
    await bot.slack.home_opened(user=REQUESTER)
    call = await bot.api.wait_for("views.publish")
    text = all_text(call.body)
    assert "Monitoring: at risk first" in text
    assert "*1* at risk of 2 listed." in text
    assert text.index("*self.test* (policy)") < text.index("*partner.test* (policy)")
    assert "level-drop" in text


async def test_an_overdue_request_expires_and_the_requester_is_told(bot: Bot) -> None:
    def overdue(session: Session) -> int:
        request = propose_add_route(
            session=session,
            requester=Actor(REQUESTER, "ann"),
            route="mx1.corp.example",
            validation_id=None,
            rules=Rules(),
            now=system_clock(),
        )
        request.expires_at = system_clock() - timedelta(minutes=1)
        session.add(request)
        assert request.id is not None
        return request.id

    request_id = bot.services.store.run_sync(overdue)
    client = build_client(bot.services.settings)
    assert await expire_requests(bot.services, client) == 1
    state = bot.services.store.run_sync(
        lambda s: s.get(ChangeRequest, request_id).state  # type: ignore[union-attr]
    )
    assert state == RequestState.EXPIRED
    dm = await bot.api.wait_for("chat.postMessage", lambda b: b.get("channel") == REQUESTER)
    assert f"#{request_id}" in dm.body["text"]
    assert "expired" in dm.body["text"]
    assert await expire_requests(bot.services, client) == 0


def test_without_an_alert_channel_alerts_go_to_the_log(
    slack_api: SlackApi, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings("http://127.0.0.1:9/api/", approval_channel=None)
    with caplog.at_level(logging.WARNING, logger="tlsbot.monitor"):
        sink = alert_sink(build_client(settings), settings)
    assert isinstance(sink, LogSink)
    [line] = [r.getMessage() for r in caplog.records]
    assert "TLSBOT_ALERT_CHANNEL" in line
    with_channel = make_settings("http://127.0.0.1:9/api/", alert_channel="CALERTS1")
    chosen = alert_sink(build_client(with_channel), with_channel)
    assert isinstance(chosen, SlackAlertSink)
    assert chosen.channel == "CALERTS1"


async def test_serve_checks_a_due_policy_and_stops_the_monitor(
    slack_api: SlackApi, engine: Engine, world: Net
) -> None:
    settings = replace(
        make_settings(slack_api.base_url + "api/"),
        port=0,
        probe=world.prober.settings,
        revalidate_hours=0.0005,  # 1.8 s: every item falls due within it
    )
    store = Store(engine)

    def add(session: Session) -> int:
        policy = DomainPolicy(
            domain="self.test",
            level="strict",
            mx_hosts=["mx.self.test"],
            created_at=system_clock(),
            updated_at=system_clock(),
        )
        session.add(policy)
        session.flush()
        assert policy.id is not None
        return policy.id

    policy_id = store.run_sync(add)
    stop, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve.serve(
            settings,
            store,
            host="127.0.0.1",
            stop=stop,
            started=started,
            poll=0.2,
            clock=system_clock,
        )
    )
    try:
        await asyncio.wait_for(started.wait(), 10)
        alert = await slack_api.wait_for(
            "chat.postMessage",
            lambda b: b.get("channel") == APPROVAL_CHANNEL and "self.test" in str(b.get("text")),
            timeout=20,
        )
        assert "monitor_suspend" in str(alert.body["blocks"])
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    assert task.exception() is None
    checked = store.run_sync(
        lambda s: s.exec(
            select(MonitorItem.last_checked_at).where(col(MonitorItem.subject_id) == policy_id)
        ).one()
    )
    assert checked is not None
    # no monitor task outlives serve
    names = {t.get_name() for t in asyncio.all_tasks()}
    assert "tlsbot monitor" not in names
    assert "tlsbot request expiry" not in names


@pytest.mark.timeout(10)
async def test_stopping_cancels_a_sweep_that_outlasts_the_grace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(schedule_module, "STOP_GRACE", 0.1)
    never = asyncio.Event()
    schedule = Schedule()
    schedule.tasks.append(asyncio.create_task(never.wait()))
    schedule.tasks.append(asyncio.create_task(schedule.stop_event.wait()))
    await schedule.stop()
    assert schedule.stop_event.is_set()
    assert schedule.tasks[0].cancelled()
    assert not schedule.tasks[1].cancelled()


async def test_a_request_the_monitor_opened_is_posted_for_approval_with_its_alert(
    bot: Bot,
) -> None:
    def observed(session: Session) -> tuple[int, int]:
        policy = DomainPolicy(
            domain="partner.test",
            level="strict",
            mx_hosts=["mx.partner.test"],
            mode="observe",
            created_at=system_clock(),
            updated_at=system_clock(),
        )
        session.add(policy)
        session.flush()
        assert policy.id is not None
        request = request_change(
            session=session,
            action=ActionId.ENFORCE,
            policy_id=policy.id,
            requester=SYSTEM,
            settings=bot.services.settings,
            now=system_clock(),
        )
        assert request.id is not None
        return policy.id, request.id

    policy_id, request_id = bot.services.store.run_sync(observed)
    inner = RecordingSink()
    sink = ProposalPostingSink(inner, bot.services, build_client(bot.services.settings))
    alert = Alert(
        subject=SubjectKind.POLICY,
        subject_id=str(policy_id),
        subject_name="partner.test",
        condition=Condition.OBSERVE_READY,
        fingerprint="ready",
        severity=Severity.INFO,
        summary="partner.test validated cleanly in observe mode.",
        mail_impact="nothing until the policy is enforced.",
        actions=(ActionId.RECHECK,),
        change_request_id=str(request_id),
    )
    assert await sink.send(alert) == "ref-1"
    assert inner.sent == [alert]
    message = await approval_message(bot.api, request_id)
    assert button_values(message, Action.APPROVE) == [str(request_id)]


def blocks_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = body.get("blocks")
    parsed = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert isinstance(parsed, list)
    return parsed


async def more_then_less(bot: Bot, message: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """Click More on ``message``, then Less on what it became: the expanded text, the blocks
    Less gave back."""
    message = {**message, "blocks": blocks_of(message)}
    (alert_id,) = button_values(message, Action.ALERT_MORE)
    before = len(bot.api.calls)
    await bot.slack.click_in_message(message, Action.ALERT_MORE, alert_id, user=REQUESTER)
    more = await bot.api.wait_for("chat.update", lambda b: "Less" in all_text(b), after=before)
    expanded = {**more.body, "blocks": blocks_of(more.body)}
    assert button_values(expanded, Action.ALERT_LESS) == [alert_id]
    before = len(bot.api.calls)
    await bot.slack.click_in_message(expanded, Action.ALERT_LESS, alert_id, user=REQUESTER)
    less = await bot.api.wait_for("chat.update", lambda b: "More" in all_text(b), after=before)
    return all_text(more.body), blocks_of(less.body)


async def test_more_on_an_alert_shows_its_evidence_and_less_restores_it(real_bot: Bot) -> None:
    bot = real_bot
    policy_id = add_policy(bot, "self.test", ["mx.self.test"])
    await sweep_once(bot)
    alert = await alert_for(bot, "self.test")
    expanded, collapsed = await more_then_less(bot, alert)
    for fact in ("`self-signed`", "certificate: subject", "TLSv1.3", "What to do next", "MTA-STS"):
        assert fact in expanded
        assert fact not in all_text(alert)
    assert collapsed == blocks_of(alert)

    # once a request was opened from it, Less gives back the message that says so
    await bot.slack.click_in_message(alert, ActionId.SUSPEND.value, str(policy_id), user=REQUESTER)
    opened = await bot.api.wait_for("chat.update", lambda b: "opened change request" in all_text(b))
    expanded, collapsed = await more_then_less(bot, opened.body)
    assert "opened change request" in expanded
    assert collapsed == blocks_of(opened.body)
