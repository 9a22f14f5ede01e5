"""Small helpers the listeners share: reading payloads, running work after the ack.

Readers of what a payload says (a button's value, the view's metadata) raise
:class:`~bot.slack.errors.UserError` for anything Slack would never send from our
own views: a value of other than ASCII digits, or too many of them, a view without
its draft. Every listener is registered through :func:`guarded`, which answers such
an error with one private line instead of letting it escape to Bolt.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_bolt.util.utils import get_arg_names_of_callable
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import errors
from bot.slack.ids import Block
from bot.slack.services import Services
from bot.slack.views.domains import working_view
from bot.slack.views.meta import Meta

OUT_OF_DATE = "This button is out of date; open the view again."
MAX_DIGITS = 18  # every id we put in a button fits in 64 bits

Listener = Callable[..., Awaitable[None]]


def guarded(listener: Listener) -> Listener:
    """``listener``, with any error it raises answered instead of raised.

    Bolt answers Slack 500 when a listener raises before its ack, and when one
    raises *after* it, Bolt's runner can lose the ack and answer 404 three seconds
    later (slack_bolt ``listener/asyncio_runner.py`` resets ``ack.response``). So
    the error is acked here (a submission refused before its ack gets the message in
    its modal) and then goes to the one error path, :func:`bot.slack.errors.report`.
    """
    needed = {"ack", "body", "client"}
    missing = needed - set(get_arg_names_of_callable(listener))
    if missing:
        raise TypeError(f"{listener.__name__} must take {', '.join(sorted(missing))}")

    @functools.wraps(listener)
    async def run(**kwargs: Any) -> None:
        try:
            await listener(**kwargs)
        except Exception as exc:
            await _answer(exc, kwargs["ack"], kwargs["body"], kwargs["client"])

    return run


async def _answer(
    exc: Exception, ack: AsyncAck, body: Mapping[str, Any], client: AsyncWebClient
) -> None:
    if ack.response is None:
        message = errors.known_message(exc)
        if message is not None and body.get("type") == "view_submission":
            await ack(response_action="update", view=working_view(message, working=False))
            return
        await ack()
    await errors.report(exc, body, client)


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


def number(text: str) -> int | None:
    """``text`` as a whole number if it is 1 to 18 ASCII digits, else None.

    ``str.isdigit`` is not the test: it takes ``²`` and ``٣``, and ``int()`` then
    raises on the first and reads the second as 3.
    """
    if not 0 < len(text) <= MAX_DIGITS or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def action_int(body: Mapping[str, Any]) -> int:
    value = number(action_value(body))
    if value is None:
        raise errors.UserError(OUT_OF_DATE)
    return value


def view_id_of(body: Mapping[str, Any]) -> str:
    """The id of the view the button was clicked in."""
    view = body.get("view") or {}
    if not view.get("id"):
        raise errors.UserError(OUT_OF_DATE)
    return str(view["id"])


def trigger_of(body: Mapping[str, Any]) -> str:
    """The trigger id a modal is opened with (every command and click has one)."""
    trigger = body.get("trigger_id")
    if not trigger:
        raise errors.UserError("This request cannot open a view; try again.")
    return str(trigger)


def message_location(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    return (str(channel) if channel else None, str(ts) if ts else None)


def field_value(view: Mapping[str, Any], block_id: str, action_id: str) -> str:
    values = (view.get("state") or {}).get("values") or {}
    entry = (values.get(block_id) or {}).get(action_id) or {}
    return str(entry.get("value") or "")


def draft_of(meta: Meta) -> int:
    if meta.draft is None:
        raise errors.UserError("This view is out of date; start again with /tls setup.")
    return meta.draft
