"""``/tls`` and its subcommands: one table (:data:`SUBCOMMANDS`), each row's handler
acks at once and does the slow part after the ack."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from sqlmodel import Session

from bot.policy.errors import PolicyError
from bot.policy.models import ChangeRequest
from bot.policy.monitor.history import Listing
from bot.policy.requests import propose_remove_domains
from bot.policy.validations import record_validation
from bot.probe.model import TargetResult
from bot.probe.names import InvalidName, normalise_domain, parse_email
from bot.slack.command_text import COMMAND, Subcommand, parse
from bot.slack.flow import open_draft, show
from bot.slack.ids import Action
from bot.slack.listeners.act import Act, listener, propose
from bot.slack.listeners.routes import open_flow
from bot.slack.listeners.util import number, trigger_of
from bot.slack.pages import (
    audit_lines,
    domain_status_page,
    routes_page,
    status_page,
    status_target,
)
from bot.slack.views.domains import domains_add_view, working_view
from bot.slack.views.help import help_message
from bot.slack.views.kit import mrkdwn
from bot.slack.views.meta import Meta
from bot.slack.views.reports import (
    audit_message,
    domain_status_message,
    policy_delete_view,
    routes_message,
    status_list_message,
)
from bot.slack.views.results import check_message


async def on_help(act: Act) -> None:
    await act.ack(**help_message(SUBCOMMANDS, act.problem))


async def on_check(act: Act) -> None:
    target = act.args[0]
    try:
        address = parse_email(target)[0] if "@" in target else None
        domain = None if address else normalise_domain(target)
    except InvalidName as exc:
        await act.ack(text=mrkdwn(":no_entry: {}", exc))
        return
    await act.ack(text=mrkdwn(":hourglass_flowing_sand: Checking {}…", target))

    async def answer() -> None:
        prober = act.services.prober
        result = await (
            prober.probe_email(address) if address else prober.probe_domain(domain or "")
        )
        found = await act.run(lambda s: _record(s, act, result))
        message = check_message(result, validation_id=found, checked_at=act.now())
        await act.tell(message["text"], message["blocks"], replace=True)

    act.later(answer(), f"check {target}")


def _record(session: Session, act: Act, result: TargetResult) -> int | None:
    """The check as evidence: what More shows again, and /tls status DOMAIN's last check."""
    return record_validation(session=session, result=result, actor=act.actor, now=act.now()).id


async def on_setup(act: Act) -> None:
    await act.ack()
    await open_flow(act.services, act.client, act.body)


async def on_add(act: Act) -> None:
    await act.ack()
    opened = await act.client.views_open(trigger_id=trigger_of(act.body), view=working_view())
    view_id, text = str(opened["view"]["id"]), "\n".join(act.args)

    def prepare(session: Session) -> dict[str, Any]:
        draft = open_draft(session, act.actor, act.now())
        assert draft.id is not None
        return domains_add_view(Meta(draft=draft.id, version=draft.version), initial=text)

    async def fill() -> None:
        await show(act.client, view_id, await act.run(prepare))

    act.later(fill(), "add")


async def on_remove(act: Act) -> None:
    domains = list(act.args)
    wait = mrkdwn(":hourglass_flowing_sand: Asking to remove {} TLS policies…", len(domains))
    await act.ack(text=wait)

    def make(session: Session, act: Act) -> ChangeRequest:
        return propose_remove_domains(
            session=session, requester=act.actor, domains=domains, rules=act.rules, now=act.now()
        )

    def say(request_id: int) -> Any:
        return mrkdwn(
            "Change request #{} to remove {} awaits approval.", request_id, ", ".join(domains)
        )

    act.later(propose(act, make, say=say, replace=True), "remove")


async def _answer(act: Act, build: Any, *, replace: bool = False) -> None:
    """Ack at once, then answer privately with what ``build(session)`` loads."""
    await act.ack()

    async def work() -> None:
        message = await act.run(build)
        await act.tell(message["text"], message["blocks"], replace=replace)

    act.later(work(), "answer")


async def on_status(act: Act) -> None:
    text = act.args[0] if act.args else ""

    def build(session: Session) -> dict[str, Any]:
        target = status_target(session, text) if text else Listing()
        if isinstance(target, Listing):
            return _status_list(session, act, target, 0)
        return _domain_status(session, act, target)

    await _answer(act, build)


def _status_list(session: Session, act: Act, listing: Listing, offset: int) -> dict[str, Any]:
    gateways, now = act.services.settings.gateways, act.now()
    page = status_page(session, listing, offset=offset, gateways=gateways, now=now)
    return status_list_message(page)


def _domain_status(session: Session, act: Act, domain: str) -> dict[str, Any]:
    relaxed_days = act.services.settings.relaxed_days
    page = domain_status_page(session, domain, now=act.now(), relaxed_days=relaxed_days)
    return domain_status_message(page.row, page.domain, page.history, page.traffic, page.changes)


async def on_status_page(act: Act) -> None:
    """Next / Previous under a /tls status list: the same list, another page, in place."""
    offset_text, _, encoded = act.value.partition(" ")
    offset = number(offset_text)
    try:
        listing = Listing.parse(encoded)
    except PolicyError:
        offset = None
    if offset is None:
        await act.ack()
        await act.tell(mrkdwn(":no_entry: This button is out of date; type `/tls status` again."))
        return
    await _answer(act, lambda s: _status_list(s, act, listing, offset or 0), replace=True)


async def on_routes(act: Act) -> None:
    await _answer(act, lambda s: routes_message(routes_page(s).routes))


async def on_audit(act: Act) -> None:
    try:
        domain = normalise_domain(act.args[0]) if act.args else None
    except InvalidName as exc:
        await act.ack(text=mrkdwn(":no_entry: {}", exc))
        return
    await _answer(act, lambda s: audit_message(audit_lines(s, domain), domain))


async def on_policy_delete(act: Act) -> None:
    await act.ack()
    await act.client.views_open(trigger_id=trigger_of(act.body), view=policy_delete_view())


HELP = Subcommand("help", "", "this text", on_help, 0, None)
SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand(
        "setup",
        "",
        "the whole flow: inbound routes, external domains, validation, Finish",
        on_setup,
    ),
    Subcommand(
        "add",
        "[DOMAIN…]",
        "add external domains (opens the form; up to 50 per batch)",
        on_add,
        0,
        None,
    ),
    Subcommand(
        "remove", "DOMAIN…", "ask to remove the TLS policy of these domains", on_remove, 1, None
    ),
    Subcommand(
        "check",
        "DOMAIN|EMAIL",
        "test a domain's mail servers now; only you see the answer",
        on_check,
        1,
        1,
    ),
    Subcommand(
        "status",
        "[FILTER|DOMAIN]",
        "every policy (filters: strict, relaxed, observe, at-risk, a domain prefix), "
        "or one domain's evidence and history",
        on_status,
        0,
        1,
    ),
    Subcommand("routes", "", "the inbound routes and their last result", on_routes),
    Subcommand(
        "audit", "[DOMAIN]", "recent changes: who asked, who approved, when", on_audit, 0, 1
    ),
    Subcommand(
        "policy delete",
        "",
        "ask to delete the whole TLS policy (Secure Delivery and Receipt)",
        on_policy_delete,
    ),
    HELP,
)


async def on_tls(act: Act) -> None:
    parsed = parse(str(act.body.get("text") or ""), SUBCOMMANDS, HELP)
    act.args, act.problem = parsed.args, parsed.problem
    await parsed.sub.handler(act)


def register(app: AsyncApp) -> None:
    app.command(COMMAND)(listener(on_tls))
    app.action(Action.STATUS_PAGE.value)(listener(on_status_page))
