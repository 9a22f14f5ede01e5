"""Each request from Slack is acted on once, on whichever replica it reaches first.

Slack retries a request it thinks went unanswered (``X-Slack-Retry-Num``), Socket
Mode redelivers envelopes, and a signed request can be replayed by anyone who saw
it within the signature's five minutes. This middleware names every request by a
key that is the same for all of its copies and lets only the first copy through:

- an Events API callback by its ``event_id``;
- a slash command, button click or modal submission by its ``trigger_id``
  (Slack issues one per user action);
- anything else by the SHA-256 of its raw body.

The keys live in the database (:mod:`bot.policy.seen`), so the rule holds across
replicas: a copy that finds its key answers an empty 200 and does nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.policy.seen import first_time
from bot.slack.services import Services

log = logging.getLogger(__name__)

Next = Callable[[], Awaitable[BoltResponse]]

# Handshakes Slack may repeat at will and that change nothing.
_EXEMPT = frozenset({"url_verification", "ssl_check"})


def request_key(body: dict[str, Any], raw_body: str) -> str | None:
    """The key shared by every copy of this request, or None when none is needed."""
    kind = str(body.get("type") or "")
    if kind in _EXEMPT or body.get("ssl_check"):
        return None
    event_id = body.get("event_id")
    if kind == "event_callback" and isinstance(event_id, str) and event_id:
        return f"event:{event_id}"[:128]
    trigger = body.get("trigger_id")
    if isinstance(trigger, str) and trigger:
        return f"trigger:{trigger}"[:128]
    return "body:" + hashlib.sha256(raw_body.encode("utf-8", "surrogatepass")).hexdigest()


def install(app: AsyncApp, services: Services) -> None:
    @app.middleware
    async def once_only(req: AsyncBoltRequest, body: dict[str, Any], next: Next) -> BoltResponse:
        key = request_key(body, req.raw_body or "")
        if key is None:
            return await next()
        now = services.clock()
        fresh = await services.store.run(lambda s: first_time(session=s, key=key, now=now))
        if not fresh:
            retry = (req.headers.get("x-slack-retry-num") or [""])[0]
            log.info(
                "a copy of an earlier request (%s%s): ignored",
                key.split(":", 1)[0],
                f", retry {retry}" if retry else "",
            )
            return BoltResponse(status=200, body="")
        return await next()
