"""Identity checked, not assumed: only the installing team's requests reach a listener.

A signature proves that *Slack* sent a request, not that it came from our
workspace: a Slack Connect channel brings in users of other organisations, and a
signing secret is per app, not per workspace. So a global middleware, before any
listener runs, compares what the payload says about its team with the
installation, which ``auth.test`` reports for the bot token (``team_id``,
``enterprise_id``, ``is_enterprise_install``; https://docs.slack.dev/reference/methods/auth.test),
asked once and remembered.

A payload is let through when

- every team it names (``team_id``, ``team.id``, ``user.team_id``) is the installing
  team, and it names at least one; or
- the app is installed org-wide on an Enterprise Grid (``is_enterprise_install``) and
  the payload's enterprise (``enterprise_id``, ``enterprise.id``) is that one.

Anything else is refused with nothing done, and one log line. A person of another
organisation (a Slack Connect user: the payload names a team that is not ours) is
told so in one ephemeral line: a slash command in the answer itself, a click through
its ``response_url`` (or ``chat.postEphemeral``), a submission in its modal. That
line goes out only for a request the edge verified (:func:`bot.slack.edge.is_verified`,
the rule :mod:`bot.slack.errors` keeps too): an unverified payload's ``response_url``
and channel are whatever its sender wrote. Events (and Socket Mode events) get an
empty 200 (Slack would retry anything else); a payload that names no team at all, an
empty 403.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.edge import is_verified
from bot.slack.replies import tell
from bot.slack.tasks import Background
from bot.slack.views.domains import working_view
from bot.slack.views.kit import mrkdwn

log = logging.getLogger("bot.slack.identity")

Next = Callable[[], Awaitable[BoltResponse]]


@dataclass(frozen=True)
class Installation:
    team_id: str | None
    enterprise_id: str | None = None
    org_wide: bool = False

    @classmethod
    def from_auth_test(cls, answer: Mapping[str, Any]) -> Installation:
        return cls(
            team_id=_text(answer.get("team_id")),
            enterprise_id=_text(answer.get("enterprise_id")),
            org_wide=answer.get("is_enterprise_install") is True,
        )

    def covers(self, claim: Claim) -> bool:
        if self.org_wide:
            return self.enterprise_id is not None and claim.enterprise == self.enterprise_id
        # on a Grid, a user's team_id can be the organisation's own id: not another team
        teams = claim.teams - {self.enterprise_id} if self.enterprise_id else claim.teams
        return self.team_id is not None and teams == frozenset({self.team_id})

    def __str__(self) -> str:
        if self.org_wide:
            return f"enterprise {self.enterprise_id} (org-wide)"
        return f"team {self.team_id}"


@dataclass(frozen=True)
class Claim:
    """Who a payload says it comes from."""

    teams: frozenset[str]
    enterprise: str | None

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Claim:
        team, user, enterprise = body.get("team"), body.get("user"), body.get("enterprise")
        teams = {
            _text(body.get("team_id")),
            _text(team.get("id")) if isinstance(team, Mapping) else _text(team),
            _text(user.get("team_id")) if isinstance(user, Mapping) else None,
        }
        org = _text(body.get("enterprise_id")) or (
            _text(enterprise.get("id")) if isinstance(enterprise, Mapping) else _text(enterprise)
        )
        return cls(frozenset(t for t in teams if t), org)

    def __str__(self) -> str:
        teams = ", ".join(sorted(self.teams)) or "no team"
        return f"{teams}" + (f" (enterprise {self.enterprise})" if self.enterprise else "")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


OUTSIDER = (
    "tlsbot acts only for people of the workspace that installed it, and your account is "
    "of another organisation or workspace (Slack Connect), so nothing was done."
)


class Gate:
    """The installation, learnt on first use; a failed ``auth.test`` is asked again next time."""

    def __init__(self, background: Background | None = None) -> None:
        self._installation: Installation | None = None
        self._lock = asyncio.Lock()
        self._background = background or Background()

    async def installation(self, client: AsyncWebClient) -> Installation | None:
        async with self._lock:
            if self._installation is None:
                try:
                    answer = await client.auth_test()
                except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
                    log.error("cannot learn the installing team (auth.test: %s)", _reason(exc))
                    return None
                data = answer.data if isinstance(answer.data, dict) else {}
                self._installation = Installation.from_auth_test(data)
            return self._installation

    async def check(
        self, request: AsyncBoltRequest, client: AsyncWebClient, next: Next
    ) -> BoltResponse:
        body = request.body
        installation = await self.installation(client)
        claim = Claim.of(body)
        if installation is not None and installation.covers(claim):
            return await next()
        if installation is not None:
            log.warning("refused a %s from %s: installed in %s", _kind(body), claim, installation)
        if body.get("type") == "event_callback":
            return BoltResponse(status=200, body="")
        if installation is not None and claim.teams and is_verified():
            return self._refuse(body, client)
        return BoltResponse(status=200 if request.mode == "socket_mode" else 403, body="")

    def _refuse(self, body: Mapping[str, Any], client: AsyncWebClient) -> BoltResponse:
        """One ephemeral line for a person of another organisation; nothing else happens."""
        line = mrkdwn(":no_entry: {}", OUTSIDER)
        if "command" in body:
            return _json({"response_type": "ephemeral", "text": line})
        if body.get("type") == "view_submission":
            return _json({"response_action": "update", "view": working_view(line, working=False)})
        self._background.spawn(tell(client, body, line), name="refuse outsider")
        return BoltResponse(status=200, body="")


def _json(answer: Mapping[str, Any]) -> BoltResponse:
    return BoltResponse(
        status=200,
        body=json.dumps(answer),
        headers={"content-type": "application/json;charset=utf-8"},
    )


def _kind(body: Mapping[str, Any]) -> str:
    return "slash command" if "command" in body else str(body.get("type") or "request")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or "error")
    return type(exc).__name__


def install(app: AsyncApp, background: Background | None = None) -> None:
    """Register the check as the first of our middleware (Bolt's own run before it)."""
    gate = Gate(background)

    @app.middleware
    async def check_identity(
        request: AsyncBoltRequest, client: AsyncWebClient, next: Next
    ) -> BoltResponse:
        return await gate.check(request, client, next)
