"""The one error handler: known errors become a message, the rest get an id.

:class:`UserError` (and the policy store's :class:`PolicyError` tree, and bad names) are
expected outcomes the user can act on: their text is shown as is. Anything else
is a bug: it is logged with a correlation id, and the user sees the same id so
the two can be matched.

Nothing is said to anyone for a request the edge did not verify
(:func:`bot.slack.edge.is_verified`): its ``response_url``, user and channel are
whatever the sender wrote. Such an error is one log line, and nothing is sent.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.policy.errors import PolicyError
from bot.probe.names import InvalidName
from bot.slack.edge import is_verified
from bot.slack.replies import tell
from bot.slack.views.kit import mrkdwn

log = logging.getLogger("bot.slack")


class UserError(Exception):
    """Something the user asked for cannot be done; ``str()`` tells them why."""


KNOWN: tuple[type[BaseException], ...] = (UserError, PolicyError, InvalidName)


def known_message(error: BaseException) -> str | None:
    """The user-facing text of an expected error, or None for a bug."""
    if isinstance(error, KNOWN):
        return str(error)
    return None


def error_id() -> str:
    return uuid.uuid4().hex[:12]


async def report(error: BaseException, body: Mapping[str, Any], client: AsyncWebClient) -> None:
    if not is_verified():
        log.warning("not answering an unverified request: %s", type(error).__name__)
        return
    message = known_message(error)
    if message is None:
        eid = error_id()
        log.error("unexpected error [%s]", eid, exc_info=error)
        text = mrkdwn(
            ":warning: Something went wrong on our side (error id `{}`). Please try again.", eid
        )
    else:
        text = mrkdwn(":no_entry: {}", message)
    try:
        await tell(client, body, text)
    except Exception:
        log.exception("could not tell the user about an error")


def register(app: AsyncApp) -> None:
    @app.error
    async def handle(error: Exception, body: dict[str, Any], client: AsyncWebClient) -> None:
        await report(error, body, client)
