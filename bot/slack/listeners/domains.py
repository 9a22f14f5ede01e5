"""The external-domains list: per domain Validate, Remove, More / Less; pages; Finish, Edit."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from sqlmodel import Session

from bot.policy import drafts
from bot.policy.errors import NotFound, PolicyError
from bot.policy.models import ChangeRequest, DomainPolicy, Draft
from bot.policy.queries import count_policies, get_draft, pending_subjects
from bot.policy.requests import propose_remove_domains
from bot.policy.validations import record_validation
from bot.probe.model import TargetResult
from bot.probe.names import InvalidName, email_for_domain
from bot.slack.batch_run import save_result
from bot.slack.errors import UserError
from bot.slack.flow import domains_for, drop_line, own_domains, show, with_draft
from bot.slack.ids import Action, Block, Field, View
from bot.slack.listeners.act import Act, Make, listener, propose
from bot.slack.listeners.util import (
    OUT_OF_DATE,
    draft_of,
    field_error,
    field_value,
    number,
    view_id_of,
)
from bot.slack.views.domains import domain_validate_view, summary_view
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


async def on_validate(act: Act) -> None:
    await act.ack()
    meta, key, view_id = act.meta, act.value, view_id_of(act.body)
    draft_id = draft_of(meta)
    domain = await act.run(lambda s: domain_of(s, draft_id, key))
    step = Meta(draft=draft_id, version=meta.version, page=meta.page, line=key)
    await show(act.client, view_id, domain_validate_view(domain, step))


async def on_validate_submit(act: Act) -> None:
    meta = act.meta
    draft_id, key = draft_of(meta), meta.line or ""
    kind, _ = parse_key(key)
    try:
        domain = await act.run(lambda s: domain_of(s, draft_id, key))
        email = email_for_domain(field_value(act.view, Block.EMAIL, Field.EMAIL), domain)
    except (PolicyError, InvalidName) as exc:
        await field_error(act.ack, Block.EMAIL, str(exc))
        return
    back = Meta(draft=draft_id, page=meta.page)
    validating = frozenset({key}) if kind == "l" else frozenset()
    view = await domains_for(act.services, draft_id, back, validating=validating)
    await act.ack(response_action="update", view=view)
    act.later(_validate(act, draft_id, key, domain, email), f"validate {domain}")


async def _validate(act: Act, draft_id: int, key: str, domain: str, email: str) -> None:
    """Probe one row's domain, keep the result as its evidence, show the list again."""
    kind, ident = parse_key(key)
    result = await act.services.prober.probe_domain(domain, email=email)
    await act.run(lambda s: _keep(s, act, draft_id, kind, ident, result))
    notice = f"{escape(domain)}: {verdict_text(result.verdict, domain=True)}"
    back = Meta(draft=draft_id, page=act.meta.page)
    view = await domains_for(act.services, draft_id, back, notice=notice if kind == "p" else None)
    await show(act.client, str(act.view["id"]), view)


def _keep(
    session: Session, act: Act, draft_id: int, kind: str, ident: int, result: TargetResult
) -> None:
    if kind == "l":
        save_result(
            session, draft_id=draft_id, line_id=ident, result=result, actor=act.actor, now=act.now()
        )
    else:
        record_validation(session=session, result=result, actor=act.actor, now=act.now())


async def on_remove(act: Act) -> None:
    await act.ack()
    meta, key, view_id = act.meta, act.value, view_id_of(act.body)
    draft_id, (kind, ident) = draft_of(meta), parse_key(key)

    async def work() -> None:
        if kind == "l":
            await act.run(lambda s: drop_line(s, draft_id, ident, actor=act.actor, now=act.now()))
            notice = None
        else:
            notice = await _ask_to_remove(act, draft_id, key)
        await show(
            act.client, view_id, await domains_for(act.services, draft_id, meta, notice=notice)
        )

    act.later(work(), f"remove {key}")


async def _ask_to_remove(act: Act, draft_id: int, key: str) -> str:
    """A policy's Remove: a change request; the notice the list then shows."""
    found: list[str] = []

    def make(session: Session, act: Act) -> ChangeRequest:
        found.append(domain_of(session, draft_id, key))
        return propose_remove_domains(
            session=session, requester=act.actor, domains=found, rules=act.rules, now=act.now()
        )

    try:
        request_id = await propose(act, make)
    except PolicyError as exc:
        return f":warning: {escape(str(exc))}"
    return f"Change request #{request_id} to remove {found[0]} awaits approval."


async def on_more_less(act: Act) -> None:
    await act.ack()
    meta, key, view_id = act.meta, act.value, view_id_of(act.body)
    parse_key(key)
    more = act.action_id == Action.DOMAIN_MORE
    expanded = tuple(k for k in meta.expanded if k != key) + ((key,) if more else ())
    meta = Meta(draft=draft_of(meta), version=meta.version, page=meta.page, expanded=expanded)
    await show(act.client, view_id, await domains_for(act.services, draft_of(meta), meta))


async def on_page(act: Act) -> None:
    await act.ack()
    meta, page, view_id = act.meta, number(act.value), view_id_of(act.body)
    if page is None:
        raise UserError(OUT_OF_DATE)
    meta = Meta(draft=draft_of(meta), version=meta.version, page=page)
    await show(act.client, view_id, await domains_for(act.services, draft_of(meta), meta))


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


async def on_finish(act: Act) -> None:
    await act.ack()
    meta, view_id = act.meta, view_id_of(act.body)
    draft_id, requested = draft_of(meta), list[str]()

    def make(session: Session, act: Act) -> ChangeRequest:
        def go(draft: Draft) -> ChangeRequest:
            requested.extend(str(line["domain"]) for line in draft.lines)
            return drafts.submit(
                session=session,
                draft_id=draft_id,
                version=draft.version,
                actor=act.actor,
                rules=act.rules,
                now=act.now(),
            )

        return with_draft(session, draft_id, go)

    act.later(_finish(act, make, view_id, requested), "finish")


async def _finish(act: Act, make: Make, view_id: str, requested: list[str]) -> None:
    draft_id = draft_of(act.meta)
    try:
        request_id = await propose(act, make)
    except PolicyError as exc:
        notice = f":warning: {escape(str(exc))}"
        await show(
            act.client, view_id, await domains_for(act.services, draft_id, act.meta, notice=notice)
        )
        return
    summary = await act.run(lambda s: summary_for(s, request_id, tuple(requested)))
    await show(act.client, view_id, summary_view(summary, Meta(draft=draft_id)))


async def on_edit(act: Act) -> None:
    await act.ack()
    view_id = view_id_of(act.body)
    await show(act.client, view_id, await own_domains(act.services, act.actor))


def register(app: AsyncApp) -> None:
    app.action(Action.DOMAIN_VALIDATE.value)(listener(on_validate))
    app.view(View.DOMAIN_VALIDATE.value)(listener(on_validate_submit))
    app.action(Action.DOMAIN_REMOVE.value)(listener(on_remove))
    app.action(Action.DOMAIN_MORE.value)(listener(on_more_less))
    app.action(Action.DOMAIN_LESS.value)(listener(on_more_less))
    app.action(Action.DOMAINS_PAGE.value)(listener(on_page))
    app.action(Action.FINISH.value)(listener(on_finish))
    app.action(Action.EDIT.value)(listener(on_edit))
