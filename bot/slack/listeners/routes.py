"""The inbound-routes step: /tls setup opens it; Add route, Remove, Validate, Next."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.policy.apply import route_label
from bot.policy.errors import NotFound, PolicyError
from bot.policy.queries import list_routes
from bot.policy.requests import Rules
from bot.policy.route_requests import propose_add_route, propose_remove_route
from bot.policy.validations import record_validation
from bot.probe.model import TargetResult
from bot.probe.names import InvalidName, parse_email, parse_route
from bot.slack.approval import post_request
from bot.slack.flow import own_domains, routes_for, show
from bot.slack.ids import Action, Block, Field, View
from bot.slack.listeners.util import (
    action_int,
    field_error,
    field_value,
    guarded,
    later,
    trigger_of,
    view_id_of,
)
from bot.slack.middleware import services_of
from bot.slack.pages import routes_not_ready, routes_page
from bot.slack.replies import actor_of
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


async def on_add_route(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    await show(client, view_id_of(body), route_add_view(Meta()))


async def on_add_route_submit(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    services = services_of(context)
    text = field_value(view, Block.ROUTE, Field.ROUTE).strip()
    try:
        host, port = parse_route(text, default_port=services.settings.probe.smtp_port)
    except InvalidName as exc:
        await field_error(ack, Block.ROUTE, str(exc))
        return
    await ack(response_action="update", view=working_view(f"Testing {route_label(host, port)}…"))
    actor, view_id = actor_of(body), str(view["id"])
    label = route_label(host, port)

    async def work() -> None:
        result = await services.prober.probe_route(host, port)
        rules = Rules.from_settings(services.settings)

        def propose(session: Session) -> int:
            now = services.clock()
            validation = record_validation(session=session, result=result, actor=actor, now=now)
            request = propose_add_route(
                session=session,
                requester=actor,
                route=label,
                validation_id=validation.id,
                rules=rules,
                now=now,
            )
            assert request.id is not None
            return request.id

        try:
            request_id = await services.store.run(propose)
        except PolicyError as exc:
            await show(client, view_id, await routes_for(services, problem=escape(str(exc))))
            return
        await post_request(services, client, request_id)
        notice = f"Change request #{request_id} to add {label} awaits approval."
        await show(client, view_id, await routes_for(services, notice=notice))

    later(services, client, body, work(), f"add route {label}")


async def on_remove_route(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    services, actor, view_id = services_of(context), actor_of(body), view_id_of(body)
    route_id = action_int(body)
    rules = Rules.from_settings(services.settings)

    def propose(session: Session) -> tuple[int, str]:
        route = next((r for r in list_routes(session=session) if r.id == route_id), None)
        if route is None:
            raise NotFound("That route is no longer configured.")
        request = propose_remove_route(
            session=session, requester=actor, route=route.label, rules=rules, now=services.clock()
        )
        assert request.id is not None
        return request.id, route.label

    async def work() -> None:
        try:
            request_id, label = await services.store.run(propose)
        except PolicyError as exc:
            await show(client, view_id, await routes_for(services, problem=escape(str(exc))))
            return
        await post_request(services, client, request_id)
        notice = f"Change request #{request_id} to remove {label} awaits approval."
        await show(client, view_id, await routes_for(services, notice=notice))

    later(services, client, body, work(), f"remove route #{route_id}")


async def on_validate(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    await show(client, view_id_of(body), route_validate_view(Meta()))


async def on_validate_submit(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    try:
        email, _ = parse_email(field_value(view, Block.EMAIL, Field.EMAIL))
    except InvalidName as exc:
        await field_error(ack, Block.EMAIL, str(exc))
        return
    await ack(response_action="update", view=working_view("Validating the inbound routes…"))
    services, actor, view_id = services_of(context), actor_of(body), str(view["id"])

    async def work() -> None:
        routes = await services.store.run(
            lambda s: [(r.host, r.port) for r in list_routes(session=s)]
        )
        results = await asyncio.gather(
            *(services.prober.probe_route(h, p, email=email) for h, p in routes)
        )

        def record(session: Session, found: list[TargetResult]) -> None:
            now = services.clock()
            for result in found:
                record_validation(session=session, result=result, actor=actor, now=now)

        await services.store.run(lambda s: record(s, list(results)))
        await show(client, view_id, await routes_for(services))

    later(services, client, body, work(), "validate routes")


async def on_next(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    services, actor, view_id = services_of(context), actor_of(body), view_id_of(body)

    async def work() -> None:
        page = await services.store.run(lambda s: routes_page(s))
        problem = routes_not_ready(page)
        if problem is not None:
            await show(client, view_id, await routes_for(services, problem=problem))
            return
        await show(client, view_id, await own_domains(services, actor))

    later(services, client, body, work(), "next")


def register(app: AsyncApp) -> None:
    app.action(Action.ROUTE_ADD.value)(guarded(on_add_route))
    app.view(View.ROUTE_ADD.value)(guarded(on_add_route_submit))
    app.action(Action.ROUTE_REMOVE.value)(guarded(on_remove_route))
    app.action(Action.ROUTES_VALIDATE.value)(guarded(on_validate))
    app.view(View.ROUTE_VALIDATE.value)(guarded(on_validate_submit))
    app.action(Action.ROUTES_NEXT.value)(guarded(on_next))
