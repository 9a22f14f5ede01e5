"""One click, command, submission or event as a listener sees it: an :class:`Act`.

Built once per request by :func:`listener` (the wrapper every listener is registered
through): who asked (the :class:`~bot.policy.types.Actor`, their team), the services
and through them the store (``act.run(fn)`` runs ``fn(session)`` in one transaction),
the approval rules, and what the payload carries (the view, its metadata, the
clicked button, a command's words). Listeners then only parse, call, render.

:func:`propose` is the one way a listener opens a change request: propose it in the
store, post it to the approvers (:func:`bot.slack.approval.post_request`, whose
decision then travels through the outbox) and tell the requester.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.policy.models import ChangeRequest
from bot.policy.requests import Rules
from bot.policy.types import Actor
from bot.slack.approval import post_request
from bot.slack.listeners import util
from bot.slack.middleware import services_of
from bot.slack.replies import actor_of, tell
from bot.slack.services import Services
from bot.slack.views.kit import Mrkdwn
from bot.slack.views.meta import Meta

T = TypeVar("T")


@dataclass
class Act:
    """Everything one request gives a listener, built once."""

    ack: AsyncAck
    body: dict[str, Any]
    client: AsyncWebClient
    services: Services
    actor: Actor
    rules: Rules
    args: tuple[str, ...] = ()  # a command's words after the subcommand
    problem: str | None = None  # a command not understood: why
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, services: Services
    ) -> Act:
        rules = Rules.from_settings(services.settings)
        return cls(ack, body, client, services, actor_of(body), rules)

    @property
    def team(self) -> str | None:
        team = self.body.get("team")
        found = team.get("id") if isinstance(team, Mapping) else self.body.get("team_id")
        return str(found) if found else None

    @property
    def view(self) -> dict[str, Any]:
        view = self.body.get("view")
        return view if isinstance(view, dict) else {}

    @property
    def meta(self) -> Meta:
        return Meta.decode(self.view.get("private_metadata"))

    @property
    def action_id(self) -> str:
        actions = self.body.get("actions") or [{}]
        return str(actions[0].get("action_id") or "")

    @property
    def value(self) -> str:
        return util.action_value(self.body)

    def now(self) -> datetime:
        return self.services.clock()

    async def run(self, fn: Callable[[Session], T]) -> T:
        return await self.services.store.run(fn)

    def later(self, coro: Coroutine[Any, Any, object], name: str) -> None:
        """Run ``coro`` after the ack; its errors reach the user through the one error path."""

        async def run() -> None:
            await coro

        util.later(self.services, self.client, self.body, run(), name)

    async def tell(
        self, text: Mrkdwn, blocks: list[dict[str, Any]] | None = None, *, replace: bool = False
    ) -> None:
        await tell(self.client, self.body, text, blocks, replace=replace)


Handler = Callable[[Act], Awaitable[None]]


def listener(handler: Handler) -> Callable[..., Awaitable[None]]:
    """``handler`` as a Bolt listener: an :class:`Act` built once, errors answered
    (:func:`bot.slack.listeners.util.guarded`)."""

    async def run(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await handler(Act.of(ack, body, client, services_of(context)))

    # not functools.wraps: Bolt reads the arguments to pass from the signature it sees
    run.__name__ = run.__qualname__ = handler.__name__
    return util.guarded(run)


Make = Callable[[Session, Act], ChangeRequest]  # proposes one change request in the store


async def propose(
    act: Act,
    make: Make,
    *,
    say: Callable[[int], Mrkdwn] | None = None,
    replace: bool = False,
) -> int:
    """Propose in the store, post to the approvers, tell the requester (``say``); the id."""

    def run(session: Session) -> int:
        request = make(session, act)
        assert request.id is not None
        return request.id

    request_id = await act.run(run)
    await announce(act, request_id, say=say, replace=replace)
    return request_id


async def announce(
    act: Act,
    request_id: int,
    *,
    say: Callable[[int], Mrkdwn] | None = None,
    replace: bool = False,
) -> None:
    """Post a request proposed elsewhere (by an alert's button) to the approvers; tell the
    requester."""
    await post_request(act.services, act.client, request_id)
    if say is not None:
        await act.tell(say(request_id), replace=replace)
