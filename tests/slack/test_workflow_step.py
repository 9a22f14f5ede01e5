"""The Workflow Builder step "Check a domain's TLS", driven as Slack drives it: a signed
``function_executed`` event, answered with ``functions.completeSuccess`` (or
``completeError``) on the step's own token, at the local Slack stand-in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.slack.ids import Action
from bot.slack.listeners.workflow import CALLBACK_ID
from tests.slack.conftest import APPROVAL_CHANNEL, Bot
from tests.slack.steps import button_values
from tests.support.slack_api import all_text

pytestmark = [pytest.mark.timeout(60), pytest.mark.db]

MANIFEST = Path(__file__).resolve().parents[2] / "manifests" / "http.yml"


def required_outputs() -> tuple[str, ...]:
    step = yaml.safe_load(MANIFEST.read_text())["functions"][CALLBACK_ID]
    return tuple(step["output_parameters"]["required"])


async def run_step(bot: Bot, inputs: dict[str, Any]) -> dict[str, Any]:
    event = bot.api.run_function(CALLBACK_ID, inputs, required_outputs())
    answer = await bot.slack.event(event)
    assert answer.status == 200  # acknowledged at once; the check runs after
    return event


async def test_the_step_completes_with_the_verdict_a_summary_and_the_evidence(
    real_bot: Bot,
) -> None:
    bot = real_bot
    event = await run_step(bot, {"domain": "Partner.Test"})
    done = await bot.api.wait_for("functions.completeSuccess")
    assert done.body["function_execution_id"] == event["function_execution_id"]
    outputs = json.loads(done.body["outputs"])
    assert outputs["verdict"] == "strict"
    assert outputs["summary"] == "partner.test: Strict - Trusted Enforced"
    # the evidence was posted (to the approval channel: the step named none), with More
    (posted,) = bot.api.of("chat.postMessage")
    assert posted.body["channel"] == APPROVAL_CHANNEL
    assert "*partner.test*: :white_check_mark: *Supports TLS*" in all_text(posted.body)
    blocks = posted.body["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert button_values({"blocks": blocks}, Action.CHECK_MORE)
    (link,) = bot.api.of("chat.getPermalink")
    assert outputs["evidence_url"].startswith("https://tlsbot-test.slack.com/archives/")
    assert link.body["channel"] == APPROVAL_CHANNEL
    assert bot.api.function_runs[event["function_execution_id"]].outcome == "success"
    assert bot.api.of("functions.completeError") == []


async def test_the_step_posts_its_evidence_where_the_workflow_says(real_bot: Bot) -> None:
    bot = real_bot
    await run_step(bot, {"domain": "plain.test", "channel": "CONBOARD1"})
    done = await bot.api.wait_for("functions.completeSuccess")
    outputs = json.loads(done.body["outputs"])
    assert outputs["verdict"] == "unsupported"
    assert outputs["summary"].startswith("plain.test: TLS Not Supported — mx.plain.test: ")
    assert "/archives/CONBOARD1/" in outputs["evidence_url"]


@pytest.mark.parametrize("domain", ["not a domain", "", "a@b@c.example", "192.0.2.1"])
async def test_a_bad_domain_fails_the_step_with_one_line(bot: Bot, domain: str) -> None:
    event = await run_step(bot, {"domain": domain})
    failed = await bot.api.wait_for("functions.completeError")
    assert failed.body["function_execution_id"] == event["function_execution_id"]
    error = failed.body["error"]
    assert "\n" not in error
    assert "Traceback" not in error
    await bot.settle()
    assert bot.api.of("functions.completeSuccess") == []
    assert bot.api.of("chat.postMessage") == []  # nothing probed, nothing posted
    assert bot.prober.calls == []
    assert bot.api.function_runs[event["function_execution_id"]].outcome == "error"
