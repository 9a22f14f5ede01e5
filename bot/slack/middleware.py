"""Middleware: the services (and the database through them) for every request,
and the approver check for approval buttons.

The database is reached through ``context["services"].sessions`` as a session
*factory*, not an open session: in HTTP mode a listener keeps running after
the ack (and after this middleware has returned), so each unit of work opens
and closes its own short session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import identity
from bot.slack.replies import tell, user_of
from bot.slack.services import Services
from bot.slack.views.kit import mrkdwn

Next = Callable[[], Awaitable[BoltResponse]]


def install(app: AsyncApp, services: Services) -> None:
    identity.install(
        app, services.background
    )  # first: nothing of ours runs for another team's request

    @app.middleware
    async def attach_services(context: AsyncBoltContext, next: Next) -> BoltResponse:
        context["services"] = services
        return await next()


def services_of(context: AsyncBoltContext) -> Services:
    services: Services = context["services"]
    return services


NOT_APPROVER = "Only approvers can decide change requests; you are not one of them."


async def require_approver(
    body: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    next: Next,
) -> Any:
    """Listener middleware for Approve / Reject: anyone else is told why, privately."""
    services = services_of(context)
    user = user_of(body) or ""
    if await services.approvers.is_approver(user, client):
        return await next()
    services.background.spawn(
        tell(client, body, mrkdwn(":no_entry: {}", NOT_APPROVER)), name="not-approver"
    )
    return BoltResponse(status=200, body="")
