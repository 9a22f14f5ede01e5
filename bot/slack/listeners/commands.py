"""``/tls`` and its subcommands: parse, ack, then do the slow part after the ack."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.policy.evidence.traffic import traffic_for
from bot.policy.monitor.history import domain_status
from bot.policy.queries import find_policy
from bot.policy.requests import Rules, propose_remove_domains
from bot.probe.model import TargetResult
from bot.probe.names import InvalidName, normalise_domain, parse_email
from bot.slack.approval import post_request
from bot.slack.command_text import Parsed, parse
from bot.slack.flow import open_draft, show
from bot.slack.ids import Command, Sub
from bot.slack.listeners.routes import open_flow
from bot.slack.listeners.util import guarded, later, trigger_of
from bot.slack.middleware import services_of
from bot.slack.pages import (
    audit_lines,
    home_data,
    latest_validation,
    reason_of,
    routes_page,
    verdict,
)
from bot.slack.replies import actor_of, tell
from bot.slack.services import Services
from bot.slack.views.domains import domains_add_view, working_view
from bot.slack.views.help import help_message
from bot.slack.views.kit import mrkdwn
from bot.slack.views.meta import Meta
from bot.slack.views.model import DomainRow, RowState
from bot.slack.views.reports import (
    audit_message,
    domain_status_message,
    policy_delete_view,
    routes_message,
    status_message,
)
from bot.slack.views.results import check_message


class Request:
    """One slash command as the handlers see it."""

    def __init__(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        client: AsyncWebClient,
        services: Services,
        parsed: Parsed,
    ) -> None:
        self.ack = ack
        self.body = body
        self.client = client
        self.services = services
        self.parsed = parsed

    @property
    def user(self) -> str:
        return str(self.body.get("user_id", ""))

    def later(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        later(self.services, self.client, self.body, coro, name)


Handler = Callable[[Request], Awaitable[None]]


async def on_help(req: Request) -> None:
    await req.ack(**help_message(req.parsed.problem))


async def on_check(req: Request) -> None:
    target = req.parsed.args[0]
    try:
        if "@" in target:
            address, _ = parse_email(target)
            probe: Awaitable[TargetResult] = req.services.prober.probe_email(address)
        else:
            probe = req.services.prober.probe_domain(normalise_domain(target))
    except InvalidName as exc:
        await req.ack(text=mrkdwn(":no_entry: {}", exc))
        return
    await req.ack(text=mrkdwn(":hourglass_flowing_sand: Checking {}…", target))

    async def answer() -> None:
        result = await probe
        await tell(req.client, req.body, **check_message(result), replace=True)

    req.later(answer(), name=f"check {target}")


async def on_setup(req: Request) -> None:
    await req.ack()
    await open_flow(req.services, req.client, req.body)


async def on_add(req: Request) -> None:
    await req.ack()
    services, client, body, actor = req.services, req.client, req.body, actor_of(req.body)
    opened = await client.views_open(trigger_id=trigger_of(body), view=working_view())
    view_id = str(opened["view"]["id"])
    text = "\n".join(req.parsed.args)

    def prepare(session: Session) -> dict[str, Any]:
        draft = open_draft(session, actor, services.clock())
        assert draft.id is not None
        return domains_add_view(Meta(draft=draft.id, version=draft.version), initial=text)

    async def fill() -> None:
        await show(client, view_id, await services.store.run(prepare))

    req.later(fill(), "add")


async def on_remove(req: Request) -> None:
    domains = list(req.parsed.args)
    await req.ack(
        text=mrkdwn(":hourglass_flowing_sand: Asking to remove {} TLS policies…", len(domains))
    )
    services, actor = req.services, actor_of(req.body)
    rules = Rules.from_settings(services.settings)

    def propose(session: Session) -> int:
        request = propose_remove_domains(
            session=session, requester=actor, domains=domains, rules=rules, now=services.clock()
        )
        assert request.id is not None
        return request.id

    async def work() -> None:
        request_id = await services.store.run(propose)
        await post_request(services, req.client, request_id)
        await tell(
            req.client,
            req.body,
            mrkdwn(
                "Change request #{} to remove {} awaits approval.", request_id, ", ".join(domains)
            ),
            replace=True,
        )

    req.later(work(), "remove")


async def _answer(req: Request, build: Callable[[Session], dict[str, Any]]) -> None:
    """Ack at once, then answer privately with what ``build`` loads."""
    await req.ack()

    async def work() -> None:
        message = await req.services.store.run(build)
        await tell(req.client, req.body, message["text"], message["blocks"])

    req.later(work(), str(req.parsed.sub))


TRAFFIC_DAYS = 7  # real mail shown with /tls status DOMAIN


async def on_status(req: Request) -> None:
    if not req.parsed.args:
        gateways = req.services.settings.gateways
        await _answer(req, lambda s: status_message(home_data(s, gateways)))
        return
    try:
        domain = normalise_domain(req.parsed.args[0])
    except InvalidName as exc:
        await req.ack(text=mrkdwn(":no_entry: {}", exc))
        return

    relaxed_days = req.services.settings.relaxed_days

    def build(session: Session) -> dict[str, Any]:
        now = req.services.clock()
        history = domain_status(session=session, domain=domain, now=now, relaxed_days=relaxed_days)
        traffic = traffic_for(session=session, domain=domain, now=now, days=TRAFFIC_DAYS)
        policy = find_policy(session=session, domain=domain)
        if policy is None:
            return domain_status_message(None, domain, history, traffic)
        latest = latest_validation(session, domain)
        validation_id = latest.id if latest is not None else policy.validation_id
        reason, detail, warning = reason_of(session, validation_id)
        row = DomainRow(
            key=f"p{policy.id}",
            domain=domain,
            state=RowState.POLICY,
            verdict=verdict(latest.verdict if latest is not None else policy.level),
            level=policy.level,
            reason=reason,
            detail=detail,
            warning=warning,
        )
        return domain_status_message(row, domain, history, traffic)

    await _answer(req, build)


async def on_routes(req: Request) -> None:
    await _answer(req, lambda s: routes_message(routes_page(s).routes))


async def on_audit(req: Request) -> None:
    domain = None
    if req.parsed.args:
        try:
            domain = normalise_domain(req.parsed.args[0])
        except InvalidName as exc:
            await req.ack(text=mrkdwn(":no_entry: {}", exc))
            return
    await _answer(req, lambda s: audit_message(audit_lines(s, domain), domain))


async def on_policy_delete(req: Request) -> None:
    await req.ack()
    await req.client.views_open(trigger_id=trigger_of(req.body), view=policy_delete_view())


HANDLERS: dict[Sub, Handler] = {
    Sub.HELP: on_help,
    Sub.CHECK: on_check,
    Sub.SETUP: on_setup,
    Sub.ADD: on_add,
    Sub.REMOVE: on_remove,
    Sub.STATUS: on_status,
    Sub.ROUTES: on_routes,
    Sub.AUDIT: on_audit,
    Sub.POLICY_DELETE: on_policy_delete,
}


async def on_tls(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    parsed = parse(str(body.get("text") or ""))
    handler = HANDLERS.get(parsed.sub, on_help)
    await handler(Request(ack, body, client, services_of(context), parsed))


def register(app: AsyncApp) -> None:
    app.command(Command.TLS.value)(guarded(on_tls))
