"""``/tls status`` lists every policy, filtered, a page at a time, through the endpoint;
``/tls status DOMAIN`` shows the whole evidence and the domain's change history."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import Session

from bot.clock import system_clock
from bot.policy.models import DomainPolicy
from bot.policy.monitor.models import MonitorAlert, MonitorItem
from bot.probe.model import Verdict
from bot.slack.ids import Action
from tests.slack.conftest import REQUESTER, Bot
from tests.slack.steps import button_values
from tests.slack.test_commands import seeded
from tests.support.slack_api import all_text

pytestmark = [pytest.mark.timeout(60), pytest.mark.db]

N = 120
DOMAINS = [f"p{i:03d}.example" for i in range(N)]


def relaxed(i: int) -> bool:
    return i % 4 == 0


def observed(i: int) -> bool:
    return i % 10 == 3


def at_risk(i: int) -> bool:
    return i in (5, 17, 99)  # 5, 17: an open alert; 99: its last check failed


def seed_many(bot: Bot) -> None:
    now = system_clock()

    def run(session: Session) -> None:
        for i, domain in enumerate(DOMAINS):
            policy = DomainPolicy(
                domain=domain,
                level="relaxed" if relaxed(i) else "strict",
                mode="observe" if observed(i) else "enforce",
                mx_hosts=[f"mx.{domain}"],
                created_at=now,
                updated_at=now,
            )
            session.add(policy)
            session.flush()
            assert policy.id is not None
            verdict = Verdict.UNSUPPORTED if i == 99 else Verdict.STRICT
            session.add(
                MonitorItem(
                    subject="policy",
                    subject_id=policy.id,
                    name=domain,
                    next_check_at=now,
                    last_checked_at=now,
                    last_verdict=verdict.value,
                    created_at=now,
                )
            )
            if i in (5, 17):
                session.add(
                    MonitorAlert(
                        id=f"00000000-0000-0000-0000-{i:012d}",
                        subject="policy",
                        subject_id=policy.id,
                        name=domain,
                        condition="level-drop",
                        fingerprint="x",
                        severity="critical",
                        raised_at=now,
                    )
                )

    bot.services.store.run_sync(run)


async def command_answer(bot: Bot, text: str) -> dict[str, Any]:
    before = len(bot.api.calls)
    assert (await bot.slack.command(text, user=REQUESTER)).status == 200
    call = await bot.api.wait_for("response_url", after=before)
    assert call.body.get("response_type") == "ephemeral"
    return call.body


async def next_page(bot: Bot, message: dict[str, Any], label: str) -> dict[str, Any] | None:
    """Click the page button labelled ``label`` (Next / Previous); None when there is none."""
    buttons = [
        e
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == Action.STATUS_PAGE and label in e["text"]["text"]
    ]
    if not buttons:
        return None
    before = len(bot.api.calls)
    await bot.slack.click_in_message(
        message, Action.STATUS_PAGE, buttons[0]["value"], user=REQUESTER
    )
    call = await bot.api.wait_for("response_url", after=before)
    assert call.body["replace_original"] is True
    return call.body


def listed(message: dict[str, Any]) -> list[str]:
    text = all_text(message)
    return [d for d in DOMAINS if f"*{d}*" in text]


async def every_page(bot: Bot, text: str) -> list[list[str]]:
    message: dict[str, Any] | None = await command_answer(bot, text)
    pages = []
    while message is not None:
        assert len(message["blocks"]) <= 50
        pages.append(listed(message))
        message = await next_page(bot, message, "Next")
    return pages


async def test_status_pages_through_all_120_policies(bot: Bot) -> None:
    await asyncio.to_thread(seed_many, bot)
    pages = await every_page(bot, "status")
    assert [len(p) for p in pages] == [20] * 6
    assert [d for page in pages for d in page] == DOMAINS  # each once, by domain
    first = await command_answer(bot, "status")
    assert "*120* external domain TLS policies (30 relaxed, 90 strict)" in all_text(first)
    assert "Policies (all): 1–20 of 120" in all_text(first)
    assert not [v for v in button_values(first, Action.STATUS_PAGE) if v.startswith("0 ")]


async def test_previous_gives_back_the_page_before(bot: Bot) -> None:
    await asyncio.to_thread(seed_many, bot)
    first = await command_answer(bot, "status")
    second = await next_page(bot, first, "Next")
    assert second is not None
    assert listed(second) == DOMAINS[20:40]
    back = await next_page(bot, second, "Previous")
    assert back is not None
    assert listed(back) == DOMAINS[:20]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "status relaxed", [d for i, d in enumerate(DOMAINS) if relaxed(i)], id="relaxed"
        ),
        pytest.param(
            "status strict", [d for i, d in enumerate(DOMAINS) if not relaxed(i)], id="strict"
        ),
        pytest.param(
            "status observe", [d for i, d in enumerate(DOMAINS) if observed(i)], id="observe"
        ),
        pytest.param("status at-risk", [d for i, d in enumerate(DOMAINS) if at_risk(i)], id="risk"),
        pytest.param("status p11", DOMAINS[110:120], id="prefix"),
        pytest.param("status P01*", DOMAINS[10:20], id="prefix-star"),
    ],
)
async def test_status_filters(bot: Bot, text: str, expected: list[str]) -> None:
    await asyncio.to_thread(seed_many, bot)
    pages = await every_page(bot, text)
    assert [d for page in pages for d in page] == expected


async def test_each_line_has_level_mode_check_and_gateway_state(bot: Bot) -> None:
    await asyncio.to_thread(seed_many, bot)
    message = await command_answer(bot, "status p003")
    text = all_text(message)
    assert "*p003.example* strict · observe · checked" in text
    assert "Postfix" in text
    assert "not published" in text
    text = all_text(await command_answer(bot, "status p004"))
    assert "*p004.example* relaxed · enforce" in text


async def test_a_filter_that_is_no_filter_is_one_line(bot: Bot) -> None:
    text = all_text(await command_answer(bot, "status ~~~"))
    assert text.startswith(":no_entry:")
    assert "no domain prefix" in text
    assert "Traceback" not in text


async def test_status_domain_shows_evidence_and_change_history(bot: Bot) -> None:
    await seeded(bot)  # self.example admitted relaxed through an approved request
    text = all_text(await command_answer(bot, "status self.example"))
    assert "*self.example*: policy relaxed" in text
    for fact in ("`mx.self.example` (127.0.0.1) port 25", "`self-signed`", "What to do next"):
        assert fact in text
    assert "*Changes:*" in text
    for action in ("request.created", "request.approved", "policy.added"):
        assert f"`{action}`" in text
    assert "request #" in text
