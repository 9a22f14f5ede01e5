"""The external-domains list: per domain Validate, Remove, More / Less; pages; Finish, Edit."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.policy import drafts
from bot.policy.errors import NotFound, PolicyError
from bot.policy.models import DomainPolicy, Draft
from bot.policy.queries import count_policies, get_draft, pending_subjects
from bot.policy.requests import Rules, propose_remove_domains
from bot.policy.validations import record_validation
from bot.probe.names import InvalidName, email_for_domain
from bot.slack.approval import post_request
from bot.slack.batch_run import save_result
from bot.slack.errors import UserError
from bot.slack.flow import domains_for, own_domains, show, with_draft
from bot.slack.ids import Action, Block, Field, View
from bot.slack.listeners.util import (
    OUT_OF_DATE,
    action_value,
    draft_of,
    field_error,
    field_value,
    guarded,
    later,
    meta_of,
    number,
    view_id_of,
)
from bot.slack.middleware import services_of
from bot.slack.replies import actor_of
from bot.slack.views.domains import (
    domain_validate_view,
    summary_view,
)
from bot.slack.views.kit import escape
from bot.slack.views.meta import Meta
from bot.slack.views.model import PendingItem, Summary
from bot.slack.views.results import verdict_text


def parse_key(key: str | None) -> tuple[str, int]:
    """A row's key: ``l<line id>`` (a line of the draft) or ``p<policy id>``."""
    ident = number(key[1:]) if key else None
    if not key or key[0] not in "lp" or ident is None:
        raise UserError("This button is out of date; start again with /tls setup.")
    return key[0], ident


def domain_of(session: Session, draft_id: int, key: str) -> str:
    kind, ident = parse_key(key)
    if kind == "p":
        policy = session.get(DomainPolicy, ident)
        if policy is None:
            raise NotFound("That policy no longer exists.")
        return policy.domain
    for line in get_draft(session=session, draft_id=draft_id).lines:
        if line["id"] == ident and line.get("domain"):
            return str(line["domain"])
    raise NotFound("That line is no longer in the list.")


# ---- per domain: Validate, Remove, More / Less; pages


async def on_validate(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    services, meta = services_of(context), meta_of(body)
    draft_id, key, view_id = draft_of(meta), action_value(body), view_id_of(body)
    domain = await services.store.run(lambda s: domain_of(s, draft_id, key))
    step = Meta(draft=draft_id, version=meta.version, page=meta.page, line=key)
    await show(client, view_id, domain_validate_view(domain, step))


async def on_validate_submit(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    services, actor = services_of(context), actor_of(body)
    meta = Meta.decode(view.get("private_metadata"))
    draft_id, key = draft_of(meta), meta.line or ""
    kind, ident = parse_key(key)
    try:
        domain = await services.store.run(lambda s: domain_of(s, draft_id, key))
    except PolicyError as exc:
        await field_error(ack, Block.EMAIL, str(exc))
        return
    try:
        email = email_for_domain(field_value(view, Block.EMAIL, Field.EMAIL), domain)
    except InvalidName as exc:
        await field_error(ack, Block.EMAIL, str(exc))
        return
    back = Meta(draft=draft_id, page=meta.page)
    validating = frozenset({key}) if kind == "l" else frozenset()
    await ack(
        response_action="update",
        view=await domains_for(services, draft_id, back, validating=validating),
    )
    view_id = str(view["id"])

    async def work() -> None:
        result = await services.prober.probe_domain(domain, email=email)
        notice = None
        if kind == "l":
            await services.store.run(
                lambda s: save_result(
                    s,
                    draft_id=draft_id,
                    line_id=ident,
                    result=result,
                    actor=actor,
                    now=services.clock(),
                )
            )
        else:
            await services.store.run(
                lambda s: record_validation(
                    session=s, result=result, actor=actor, now=services.clock()
                )
            )
            notice = f"{escape(domain)}: {verdict_text(result.verdict, domain=True)}"
        await show(client, view_id, await domains_for(services, draft_id, back, notice=notice))

    later(services, client, body, work(), f"validate {domain}")


async def on_remove(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    services, actor, meta = services_of(context), actor_of(body), meta_of(body)
    draft_id, key, view_id = draft_of(meta), action_value(body), view_id_of(body)
    kind, ident = parse_key(key)
    rules = Rules.from_settings(services.settings)

    async def work() -> None:
        notice = None
        if kind == "l":
            await services.store.run(
                lambda s: with_draft(
                    s,
                    draft_id,
                    lambda d: drafts.remove_line(
                        session=s,
                        draft_id=draft_id,
                        version=d.version,
                        line_id=ident,
                        actor=actor,
                        now=services.clock(),
                    ),
                )
            )
        else:

            def propose(session: Session) -> tuple[int, str]:
                domain = domain_of(session, draft_id, key)
                request = propose_remove_domains(
                    session=session,
                    requester=actor,
                    domains=[domain],
                    rules=rules,
                    now=services.clock(),
                )
                assert request.id is not None
                return request.id, domain

            try:
                request_id, domain = await services.store.run(propose)
            except PolicyError as exc:
                notice = f":warning: {escape(str(exc))}"
            else:
                await post_request(services, client, request_id)
                notice = f"Change request #{request_id} to remove {domain} awaits approval."
        await show(client, view_id, await domains_for(services, draft_id, meta, notice=notice))

    later(services, client, body, work(), f"remove {key}")


async def on_more_less(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    services, meta = services_of(context), meta_of(body)
    key, view_id = action_value(body), view_id_of(body)
    parse_key(key)
    more = body["actions"][0]["action_id"] == Action.DOMAIN_MORE
    expanded = tuple(k for k in meta.expanded if k != key) + ((key,) if more else ())
    meta = Meta(draft=draft_of(meta), version=meta.version, page=meta.page, expanded=expanded)
    await show(client, view_id, await domains_for(services, draft_of(meta), meta))


async def on_page(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    services, meta = services_of(context), meta_of(body)
    page, view_id = number(action_value(body)), view_id_of(body)
    if page is None:
        raise UserError(OUT_OF_DATE)
    meta = Meta(draft=draft_of(meta), version=meta.version, page=page)
    await show(client, view_id, await domains_for(services, draft_of(meta), meta))


# ---- Finish → summary → Edit


def summary_for(session: Session, request_id: int | None, requested: tuple[str, ...]) -> Summary:
    pending = pending_subjects(session=session)
    ids = sorted(set(pending.values()))
    return Summary(
        total_policies=count_policies(session=session),
        request_id=request_id,
        requested=requested,
        pending=tuple(PendingItem(i, f"change request #{i}") for i in ids),
    )


async def on_finish(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    services, actor, meta = services_of(context), actor_of(body), meta_of(body)
    draft_id, view_id = draft_of(meta), view_id_of(body)
    rules = Rules.from_settings(services.settings)

    def submit(session: Session) -> tuple[int, tuple[str, ...]]:
        def go(draft: Draft) -> tuple[int, tuple[str, ...]]:
            request = drafts.submit(
                session=session,
                draft_id=draft_id,
                version=draft.version,
                actor=actor,
                rules=rules,
                now=services.clock(),
            )
            assert request.id is not None
            return request.id, tuple(str(line["domain"]) for line in draft.lines)

        return with_draft(session, draft_id, go)

    async def work() -> None:
        try:
            request_id, domains = await services.store.run(submit)
        except PolicyError as exc:
            notice = f":warning: {escape(str(exc))}"
            await show(client, view_id, await domains_for(services, draft_id, meta, notice=notice))
            return
        await post_request(services, client, request_id)
        summary = await services.store.run(lambda s: summary_for(s, request_id, domains))
        await show(client, view_id, summary_view(summary, Meta(draft=draft_id)))

    later(services, client, body, work(), "finish")


async def on_edit(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    view_id = view_id_of(body)
    view = await own_domains(services_of(context), actor_of(body))
    await show(client, view_id, view)


def register(app: AsyncApp) -> None:
    app.action(Action.DOMAIN_VALIDATE.value)(guarded(on_validate))
    app.view(View.DOMAIN_VALIDATE.value)(guarded(on_validate_submit))
    app.action(Action.DOMAIN_REMOVE.value)(guarded(on_remove))
    app.action(Action.DOMAIN_MORE.value)(guarded(on_more_less))
    app.action(Action.DOMAIN_LESS.value)(guarded(on_more_less))
    app.action(Action.DOMAINS_PAGE.value)(guarded(on_page))
    app.action(Action.FINISH.value)(guarded(on_finish))
    app.action(Action.EDIT.value)(guarded(on_edit))
