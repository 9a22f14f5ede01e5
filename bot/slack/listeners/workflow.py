"""The Workflow Builder step "Check a domain's TLS": a custom function (Bolt's ``app.function``).

A team puts it in its own workflow (partner onboarding, say): the step gets a domain
(or an address at it), probes it as ``/tls check`` does (nothing is sent), records the
result as evidence, posts that evidence with *More* / *Less* to the channel the step
names (else the approval channel), and completes with three outputs: ``verdict``
(``strict``, ``relaxed``, ``unreachable`` or ``unsupported``), ``summary`` (one line)
and ``evidence_url`` (the link to that message, from ``chat.getPermalink``). Bad input
fails the step with one line (``functions.completeError``).

The function is declared in both manifests (``functions.check_domain_tls``;
``tests/slack/test_manifests.py`` holds them to :data:`CALLBACK_ID`, :data:`INPUTS` and
:data:`OUTPUTS`). Bolt acknowledges the ``function_executed`` event before the listener
runs, and calls ``functions.completeSuccess`` / ``completeError`` with the step's own
token (https://docs.slack.dev/tools/bolt-python/concepts/custom-steps). A failure of
ours must still end the step, so it is the one listener that turns an unexpected error
into ``fail`` (with an error id in the log) instead of leaving it to the error handler.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.context.complete.async_complete import AsyncComplete
from slack_bolt.context.fail.async_fail import AsyncFail
from slack_sdk.web.async_client import AsyncWebClient

from bot.policy.types import Actor
from bot.policy.validations import record_validation
from bot.probe.model import TargetResult
from bot.probe.names import InvalidName, normalise_domain, parse_email
from bot.slack.errors import error_id
from bot.slack.middleware import services_of
from bot.slack.services import Services
from bot.slack.views.results import check_message, first_reason

log = logging.getLogger("bot.slack.workflow")

CALLBACK_ID = "check_domain_tls"
INPUTS = ("domain", "channel")  # channel is optional
OUTPUTS = ("verdict", "summary", "evidence_url")
WORKFLOW = Actor("workflow", "Workflow Builder")


def summary(result: TargetResult) -> str:
    """One line: the domain, its verdict's label, and why it did not pass."""
    line = f"{result.domain}: {result.label}"
    reason = first_reason(result)
    return f"{line} — {reason}" if reason and not result.verdict.ok else line


async def on_check_domain(
    inputs: dict[str, Any],
    complete: AsyncComplete,
    fail: AsyncFail,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    services, given = services_of(context), str(inputs.get("domain") or "").strip()
    try:
        address = parse_email(given)[0] if "@" in given else None
        domain = None if address else normalise_domain(given)
    except InvalidName as exc:
        await fail(f"{given[:100] or 'No domain'}: {exc}")
        return
    try:
        outputs = await _check(services, client, address, domain, inputs.get("channel"))
    except Exception:
        eid = error_id()
        log.exception("the workflow step failed [%s]", eid)
        await fail(f"tlsbot could not check {given[:100]} (error id {eid}); try again.")
        return
    await complete(outputs)


async def _check(
    services: Services,
    client: AsyncWebClient,
    address: str | None,
    domain: str | None,
    channel: object,
) -> dict[str, str]:
    prober = services.prober
    result = await (prober.probe_email(address) if address else prober.probe_domain(domain or ""))
    now = services.clock()
    validation = await services.store.run(
        lambda s: record_validation(session=s, result=result, actor=WORKFLOW, now=now)
    )
    where = str(channel) if isinstance(channel, str) and channel else None
    where = where or services.settings.approval_channel
    if where is None:
        raise RuntimeError("no channel to post the evidence in")
    message = check_message(result, validation_id=validation.id, checked_at=now)
    posted = await client.chat_postMessage(channel=where, **message)
    link = await client.chat_getPermalink(channel=str(posted["channel"]), message_ts=posted["ts"])
    return {
        "verdict": result.verdict.value,
        "summary": summary(result),
        "evidence_url": str(link["permalink"]),
    }


def register(app: AsyncApp) -> None:
    app.function(CALLBACK_ID)(on_check_domain)
