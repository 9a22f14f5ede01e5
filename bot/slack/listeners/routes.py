"""The inbound-routes step: /tls setup opens it; Add route, Remove, Validate, Next."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.policy.apply import route_label
from bot.policy.errors import NotFound, PolicyError
from bot.policy.models import ChangeRequest
from bot.policy.queries import list_routes
from bot.policy.route_requests import propose_add_route, propose_remove_route
from bot.policy.validations import record_validation
from bot.probe.model import TargetResult
from bot.probe.names import InvalidName, parse_email, parse_route
from bot.slack.flow import own_domains, routes_for, show
from bot.slack.ids import Action, Block, Field, View
from bot.slack.listeners.act import Act, Make, listener, propose
from bot.slack.listeners.util import (
    action_int,
    field_error,
    field_value,
    later,
    trigger_of,
    view_id_of,
)
from bot.slack.pages import routes_not_ready, routes_page
from bot.slack.services import Services
from bot.slack.views.domains import working_view
from bot.slack.views.kit import escape
from bot.slack.views.meta import Meta
from bot.slack.views.routes import route_add_view, route_validate_view


async def open_flow(services: Services, client: AsyncWebClient, body: dict[str, Any]) -> None:
    """Open the modal with a Working… view at once (the trigger expires in 3 s), then fill it."""
    opened = await client.views_open(trigger_id=trigger_of(body), view=working_view())
    view_id = str(opened["view"]["id"])

    async def fill() -> None:
        await show(client, view_id, await routes_for(services))

    later(services, client, body, fill(), "setup")


async def _ask(act: Act, view_id: str, make: Make, what: Callable[[], str]) -> None:
    """Open the change request ``make`` proposes; the routes step then says which, or why not."""
    try:
        request_id = await propose(act, make)
    except PolicyError as exc:
        await show(act.client, view_id, await routes_for(act.services, problem=escape(str(exc))))
        return
    notice = f"Change request #{request_id} to {what()} awaits approval."
    await show(act.client, view_id, await routes_for(act.services, notice=notice))


async def on_add_route(act: Act) -> None:
    await act.ack()
    await show(act.client, view_id_of(act.body), route_add_view(Meta()))


async def on_add_route_submit(act: Act) -> None:
    text = field_value(act.view, Block.ROUTE, Field.ROUTE).strip()
    try:
        host, port = parse_route(text, default_port=act.services.settings.probe.smtp_port)
    except InvalidName as exc:
        await field_error(act.ack, Block.ROUTE, str(exc))
        return
    label = route_label(host, port)
    await act.ack(response_action="update", view=working_view(f"Testing {label}…"))

    async def work() -> None:
        result = await act.services.prober.probe_route(host, port)
        await _ask(act, str(act.view["id"]), _add_route(label, result), lambda: f"add {label}")

    act.later(work(), f"add route {label}")


def _add_route(label: str, result: TargetResult) -> Make:
    def make(session: Session, act: Act) -> ChangeRequest:
        now = act.now()
        validation = record_validation(session=session, result=result, actor=act.actor, now=now)
        return propose_add_route(
            session=session,
            requester=act.actor,
            route=label,
            validation_id=validation.id,
            rules=act.rules,
            now=now,
        )

    return make


async def on_remove_route(act: Act) -> None:
    await act.ack()
    route_id, view_id, labels = action_int(act.body), view_id_of(act.body), list[str]()

    def make(session: Session, act: Act) -> ChangeRequest:
        route = next((r for r in list_routes(session=session) if r.id == route_id), None)
        if route is None:
            raise NotFound("That route is no longer configured.")
        labels.append(route.label)
        return propose_remove_route(
            session=session, requester=act.actor, route=route.label, rules=act.rules, now=act.now()
        )

    async def work() -> None:
        await _ask(act, view_id, make, lambda: f"remove {labels[0]}")

    act.later(work(), f"remove route #{route_id}")


async def on_validate(act: Act) -> None:
    await act.ack()
    await show(act.client, view_id_of(act.body), route_validate_view(Meta()))


async def on_validate_submit(act: Act) -> None:
    try:
        email, _ = parse_email(field_value(act.view, Block.EMAIL, Field.EMAIL))
    except InvalidName as exc:
        await field_error(act.ack, Block.EMAIL, str(exc))
        return
    await act.ack(response_action="update", view=working_view("Validating the inbound routes…"))
    act.later(_validate_routes(act, email), "validate routes")


async def _validate_routes(act: Act, email: str) -> None:
    """Probe every route with ``email`` as the recipient; record each; show the step again."""
    routes = await act.run(lambda s: [(r.host, r.port) for r in list_routes(session=s)])
    prober = act.services.prober
    results = await asyncio.gather(*(prober.probe_route(h, p, email=email) for h, p in routes))

    def record(session: Session) -> None:
        for result in results:
            record_validation(session=session, result=result, actor=act.actor, now=act.now())

    await act.run(record)
    await show(act.client, str(act.view["id"]), await routes_for(act.services))


async def on_next(act: Act) -> None:
    await act.ack()
    view_id = view_id_of(act.body)

    async def work() -> None:
        page = await act.run(lambda s: routes_page(s))
        problem = routes_not_ready(page)
        if problem is not None:
            await show(act.client, view_id, await routes_for(act.services, problem=problem))
            return
        await show(act.client, view_id, await own_domains(act.services, act.actor))

    act.later(work(), "next")


def register(app: AsyncApp) -> None:
    app.action(Action.ROUTE_ADD.value)(listener(on_add_route))
    app.view(View.ROUTE_ADD.value)(listener(on_add_route_submit))
    app.action(Action.ROUTE_REMOVE.value)(listener(on_remove_route))
    app.action(Action.ROUTES_VALIDATE.value)(listener(on_validate))
    app.view(View.ROUTE_VALIDATE.value)(listener(on_validate_submit))
    app.action(Action.ROUTES_NEXT.value)(listener(on_next))
