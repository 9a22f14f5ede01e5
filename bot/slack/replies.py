"""Private answers to one user, by whatever channel the request offers.

A ``response_url`` (slash commands, message buttons) answers in place and
privately; otherwise an ephemeral message in the channel; otherwise (modals,
App Home) a direct message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.policy.types import Actor
from bot.slack.views.kit import Mrkdwn


def user_of(body: Mapping[str, Any]) -> str | None:
    user = body.get("user")
    if isinstance(user, Mapping):
        return str(user.get("id")) if user.get("id") else None
    return str(body["user_id"]) if body.get("user_id") else None


def channel_of(body: Mapping[str, Any]) -> str | None:
    channel = body.get("channel")
    if isinstance(channel, Mapping):
        return str(channel.get("id")) if channel.get("id") else None
    return str(body["channel_id"]) if body.get("channel_id") else None


async def tell(
    client: AsyncWebClient,
    body: Mapping[str, Any],
    text: Mrkdwn,
    blocks: Sequence[dict[str, Any]] | None = None,
    *,
    replace: bool = False,
) -> None:
    """Tell the user behind ``body`` privately."""
    url = body.get("response_url")
    if url:
        hook = AsyncWebhookClient(url, timeout=10, session=client.session)
        await hook.send(
            text=text,
            blocks=list(blocks) if blocks else None,
            response_type="ephemeral",
            replace_original=replace,
        )
        return
    user = user_of(body)
    if user is None:
        return
    channel = channel_of(body)
    if channel and not channel.startswith("D"):
        await client.chat_postEphemeral(
            channel=channel, user=user, text=text, blocks=list(blocks) if blocks else None
        )
        return
    await dm(client, user, text, blocks)


async def dm(
    client: AsyncWebClient,
    user: str,
    text: Mrkdwn,
    blocks: Sequence[dict[str, Any]] | None = None,
) -> None:
    """A direct message from the app (its Messages tab)."""
    await client.chat_postMessage(channel=user, text=text, blocks=list(blocks) if blocks else None)


def actor_of(body: Mapping[str, Any]) -> Actor:
    """Who sent this request, as the policy store records people."""
    user = body.get("user")
    if isinstance(user, Mapping):
        uid = str(user.get("id") or "")
        name = str(user.get("username") or user.get("name") or uid)
    else:
        uid = str(body.get("user_id") or "")
        name = str(body.get("user_name") or uid)
    return Actor(uid, name)
