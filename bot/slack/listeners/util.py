"""Small helpers the listeners share: reading payloads, running work after the ack."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import errors
from bot.slack.ids import Block
from bot.slack.services import Services
from bot.slack.views.meta import Meta

# A modal's submission is answered with its next view (``response_action: update``);
# Slack applies that view when our HTTP answer reaches it. Work that updates the
# same view afterwards waits this long, so its update cannot overtake the answer.
SUBMIT_GRACE = 0.25


def later(
    services: Services,
    client: AsyncWebClient,
    body: Mapping[str, Any],
    coro: Coroutine[Any, Any, None],
    name: str,
) -> None:
    """Run ``coro`` after the ack; an error reaches the user through the one error path."""

    async def on_error(exc: BaseException) -> None:
        await errors.report(exc, body, client)

    if body.get("type") == "view_submission":
        coro = _after(SUBMIT_GRACE, coro)
    services.background.spawn(coro, name=name, on_error=on_error)


async def _after(delay: float, coro: Coroutine[Any, Any, None]) -> None:
    await asyncio.sleep(delay)
    await coro


async def field_error(ack: AsyncAck, block: Block, message: str, limit: int = 150) -> None:
    """Answer a modal submission with ``message`` under the field of ``block``."""
    await ack(response_action="errors", errors={block.value: message[:limit]})


def action_value(body: Mapping[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


def action_int(body: Mapping[str, Any]) -> int:
    value = action_value(body)
    if not value.isdigit():
        raise errors.UserError("This button is out of date; open the view again.")
    return int(value)


def message_location(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    return (str(channel) if channel else None, str(ts) if ts else None)


def field_value(view: Mapping[str, Any], block_id: str, action_id: str) -> str:
    values = (view.get("state") or {}).get("values") or {}
    entry = (values.get(block_id) or {}).get(action_id) or {}
    return str(entry.get("value") or "")


def meta_of(body: Mapping[str, Any]) -> Meta:
    """The ids and version the clicked view carries."""
    return Meta.decode((body.get("view") or {}).get("private_metadata"))


def draft_of(meta: Meta) -> int:
    if meta.draft is None:
        raise errors.UserError("This view is out of date; start again with /tls setup.")
    return meta.draft
