"""Real mail in Slack, end to end: Postfix's log and TLS-RPT reports drive alerts and proposals.

The bot runs on its real signed endpoint with the real prober over the loopback
mail world (``partner.test`` trusted → strict; route ``mx1.corp.test``). What
Postfix logged is read by ``tlsbot observe postfix`` into the same store; a
sweep then raises the alerts, posted to the Slack stand-in with their buttons.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.cli import main
from bot.clock import system_clock
from bot.policy.models import ChangeRequest, DomainPolicy, InboundRoute
from bot.policy.monitor.alerts import ActionId
from bot.policy.monitor.runner import run_once
from bot.policy.types import PolicyMode, RecordStatus, RequestState
from bot.slack.app import build_client
from bot.slack.ids import Action
from bot.slack.monitor.sink import SlackAlertSink
from bot.slack.schedule import ProposalPostingSink
from tests.evidence import tlsrpt_samples
from tests.evidence.postfix_lines import relay, status, tls
from tests.slack.conftest import APPROVAL_CHANNEL, APPROVER, REQUESTER, Bot
from tests.slack.steps import approval_message, button_values
from tests.support.db import TestDatabase
from tests.support.slack_api import all_text

pytestmark = [pytest.mark.timeout(60), pytest.mark.db]

MX = relay("mx.partner.test", "127.0.4.2")


def stamp() -> str:
    """A syslog stamp of today (UTC): the day the evidence is counted on."""
    return f"{system_clock():%b %e %H:%M:%S}"


def add_policy(bot: Bot, *, mode: str = "enforce", age_days: int = 0) -> int:
    def run(session: Session) -> int:
        created = system_clock() - timedelta(days=age_days)
        policy = DomainPolicy(
            domain="partner.test",
            level="strict",
            mx_hosts=["mx.partner.test"],
            mode=mode,
            created_at=created,
            updated_at=created,
        )
        session.add(policy)
        session.flush()
        assert policy.id is not None
        return policy.id

    return bot.services.store.run_sync(run)


def observe(lines: list[str], tmp_path: Path, database: TestDatabase, monkeypatch: Any) -> None:
    log = tmp_path / "mail.log"
    log.write_text("".join(f"{line}\n" for line in lines))
    monkeypatch.setenv("DATABASE_URL", database.url_with_schema)
    assert main(["observe", "postfix", "--once", str(log)], clock=system_clock) == 0


async def sweep(bot: Bot) -> None:
    client = build_client(bot.services.settings)
    sink = ProposalPostingSink(SlackAlertSink(client, APPROVAL_CHANNEL), bot.services, client)
    await run_once(
        bot.services.settings,
        sink=sink,
        everything=True,
        engine=bot.services.store.engine,
        prober=bot.prober,
        clock=system_clock,
    )


async def channel_message(bot: Bot, *words: str) -> dict[str, Any]:
    call = await bot.api.wait_for(
        "chat.postMessage",
        lambda b: b.get("channel") == APPROVAL_CHANNEL and all(w in all_text(b) for w in words),
    )
    return call.body


async def test_an_enforced_domain_whose_mail_is_deferred_alerts_with_relax_and_suspend(
    real_bot: Bot, tmp_path: Path, database: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = real_bot
    policy_id = add_policy(bot)
    why = "Server certificate not verified"
    observe(
        [
            status(21, f"D{n}", f"u{n}@partner.test", MX, "deferred", why, stamp=stamp())
            for n in range(3)
        ]
        + [status(21, "D0", "u0@partner.test", MX, "deferred", why, stamp=stamp())],  # a retry
        tmp_path,
        database,
        monkeypatch,
    )
    await sweep(bot)
    alert = await channel_message(bot, "traffic-deferred")
    text = all_text(alert)
    assert "Postfix deferred 3 message(s) to partner.test for TLS" in text
    assert "certificate-not-verified" in text
    assert button_values(alert, ActionId.RELAX.value) == [str(policy_id)]
    assert button_values(alert, ActionId.SUSPEND.value) == [str(policy_id)]

    await bot.slack.click_in_message(alert, ActionId.RELAX.value, str(policy_id), user=REQUESTER)
    answer = await bot.api.wait_for("response_url", lambda b: "Change request #" in all_text(b))
    request_id = int(all_text(answer.body).split("#", 1)[1].split(" ", 1)[0].rstrip(":"))
    message = await approval_message(bot.api, request_id)
    assert "Real mail: No deliveries" not in all_text(message)
    assert "3 deferred for TLS (3 certificate-not-verified)" in all_text(message)
    await bot.slack.click_in_message(message, Action.APPROVE, str(request_id), user=APPROVER)
    await bot.settle()
    level = bot.services.store.run_sync(
        lambda s: s.exec(
            select(DomainPolicy.level).where(col(DomainPolicy.status) == RecordStatus.ACTIVE)
        ).one()
    )
    assert level == "relaxed"

    # a second sweep does not repeat the alert
    before = len(bot.api.of("chat.postMessage"))
    await sweep(bot)
    await bot.settle()
    posted = [
        c for c in bot.api.of("chat.postMessage")[before:] if "traffic-deferred" in all_text(c.body)
    ]
    assert posted == []


async def test_observe_mode_waits_while_real_mail_goes_in_plaintext(
    real_bot: Bot, tmp_path: Path, database: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = real_bot
    add_policy(bot, mode="observe", age_days=8)  # probes alone would propose enforcing
    observe(
        [status(21, f"P{n}", f"u{n}@partner.test", MX, stamp=stamp()) for n in range(4)],
        tmp_path,
        database,
        monkeypatch,
    )
    await sweep(bot)
    await bot.settle()
    assert not any("observe-ready" in all_text(c.body) for c in bot.api.of("chat.postMessage"))
    kinds = bot.services.store.run_sync(lambda s: [r.kind for r in s.exec(select(ChangeRequest))])
    assert kinds == []
    await bot.slack.command("status partner.test", user=REQUESTER)
    call = await bot.api.wait_for("response_url", lambda b: "Real mail, last 7 days" in all_text(b))
    assert "4 deliveries to partner.test" in all_text(call.body)
    assert "4 plaintext" in all_text(call.body)


async def test_observe_mode_proposes_enforcing_when_probes_and_real_mail_are_clean(
    real_bot: Bot, tmp_path: Path, database: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = real_bot
    policy_id = add_policy(bot, mode="observe", age_days=8)
    lines = []
    for n in range(5):
        lines += [
            tls(30 + n, MX, stamp=stamp()),
            status(30 + n, f"V{n}", f"u{n}@partner.test", MX, stamp=stamp()),
        ]
    observe(lines, tmp_path, database, monkeypatch)
    await sweep(bot)
    alert = await channel_message(bot, "observe-ready")
    assert "real mail to it was clean" in all_text(alert)
    assert "5 deliveries to partner.test" in all_text(alert)
    request_id = bot.services.store.run_sync(lambda s: s.exec(select(ChangeRequest.id)).one())
    message = await approval_message(bot.api, request_id)
    assert "Real mail: 5 deliveries to partner.test" in all_text(message)
    assert "(5 verified), over TLSv1.3" in all_text(message)
    await bot.slack.click_in_message(message, Action.APPROVE, str(request_id), user=APPROVER)
    await bot.settle()
    mode = bot.services.store.run_sync(lambda s: s.get(DomainPolicy, policy_id).mode)  # type: ignore[union-attr]
    assert mode == PolicyMode.ENFORCE
    state = bot.services.store.run_sync(lambda s: s.get(ChangeRequest, request_id).state)  # type: ignore[union-attr]
    assert state == RequestState.APPROVED

    # the App Home lists the domain's real mail
    await bot.slack.home_opened(user=REQUESTER)
    home = await bot.api.wait_for("views.publish")
    assert "Real mail, last 7 days" in all_text(home.body)
    assert "5 deliveries to partner.test" in all_text(home.body)


async def test_a_tlsrpt_failure_spike_for_our_mx_alerts_on_the_inbound_route(
    real_bot: Bot, tmp_path: Path, database: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = real_bot

    def route(session: Session) -> None:
        now = system_clock()
        session.add(
            InboundRoute(
                host="mx1.corp.test", last_verdict="strict", created_at=now, updated_at=now
            )
        )

    bot.services.store.run_sync(route)
    day = (system_clock() - timedelta(days=1)).date().isoformat()
    report = tlsrpt_samples.report(
        report_id="spike-1",
        start=f"{day}T00:00:00Z",
        end=f"{day}T23:59:59Z",
        domain="corp.test",
        mx="mx1.corp.test",
        ok=80,
        failures={"certificate-expired": 20},
    )
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    monkeypatch.setenv("DATABASE_URL", database.url_with_schema)
    assert main(["tlsrpt", "import", str(path)], clock=system_clock) == 0
    await sweep(bot)
    alert = await channel_message(bot, "tlsrpt-failures")
    assert "20 of 100 sessions to mx1.corp.test failed (20%)" in all_text(alert)
    assert "certificate-expired" in all_text(alert)
