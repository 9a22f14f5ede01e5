"""Add External Domains → Continue (each line checked, problems with Remove) → Add,
which starts the validation of the whole batch."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.policy import drafts
from bot.policy.batch import LineStatus
from bot.policy.errors import PolicyError
from bot.policy.models import Draft
from bot.slack.batch_run import Line, Run
from bot.slack.flow import domains_for_sync, show, with_draft
from bot.slack.ids import Action, Block, Field, View
from bot.slack.listeners.util import (
    action_int,
    draft_of,
    field_value,
    guarded,
    later,
    meta_of,
    view_id_of,
)
from bot.slack.middleware import services_of
from bot.slack.replies import actor_of
from bot.slack.views.domains import domains_add_view, review_view, working_view
from bot.slack.views.meta import Meta
from bot.slack.views.model import BatchLine, BatchReview, Progress


def review_of(draft: Draft) -> BatchReview:
    return BatchReview(
        tuple(
            BatchLine(
                number=int(line["id"]),
                text=str(line.get("text") or ""),
                domain=line.get("domain"),
                problem=None if line.get("status") == LineStatus.OK else str(line.get("reason")),
            )
            for line in draft.lines
        )
    )


def review_for(draft: Draft) -> dict[str, Any]:
    return review_view(review_of(draft), Meta(draft=draft.id, version=draft.version))


async def on_add(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    meta = meta_of(body)
    await show(client, view_id_of(body), domains_add_view(meta))


async def on_add_submit(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    services, actor = services_of(context), actor_of(body)
    meta = Meta.decode(view.get("private_metadata"))
    draft_id = draft_of(meta)
    text = field_value(view, Block.DOMAINS, Field.DOMAINS)

    def add(session: Session) -> tuple[str | None, dict[str, Any]]:
        draft, check = with_draft(
            session,
            draft_id,
            lambda d: drafts.add_text(
                session=session,
                draft_id=draft_id,
                version=d.version,
                text=text,
                actor=actor,
                now=services.clock(),
            ),
        )
        return check.error, review_for(draft)

    try:
        error, review = await services.store.run(add)
    except PolicyError as exc:
        error = str(exc)
    if error is not None:
        await ack(response_action="errors", errors={Block.DOMAINS.value: error[:2000]})
        return
    await ack(response_action="update", view=review)


async def on_batch_remove(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()
    services, actor, meta = services_of(context), actor_of(body), meta_of(body)
    draft_id, line_id, view_id = draft_of(meta), action_int(body), view_id_of(body)

    def remove(session: Session) -> dict[str, Any]:
        draft = with_draft(
            session,
            draft_id,
            lambda d: drafts.remove_line(
                session=session,
                draft_id=draft_id,
                version=d.version,
                line_id=line_id,
                actor=actor,
                now=services.clock(),
            ),
        )
        return review_for(draft)

    await show(client, view_id, await services.store.run(remove))


async def on_review_submit(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    services, actor = services_of(context), actor_of(body)
    meta = Meta.decode(view.get("private_metadata"))
    draft_id = draft_of(meta)

    def keep(session: Session) -> tuple[list[Line], dict[str, Any]]:
        draft = with_draft(
            session,
            draft_id,
            lambda d: drafts.keep_clean_lines(
                session=session,
                draft_id=draft_id,
                version=d.version,
                actor=actor,
                now=services.clock(),
            ),
        )
        lines = [
            Line(int(x["id"]), str(x["domain"]))
            for x in draft.lines
            if x.get("validation_id") is None and x.get("domain")
        ]
        waiting = frozenset(line.key for line in lines)
        progress = Progress(0, len(lines)) if lines else None
        page = domains_for_sync(session, draft_id, meta, progress=progress, validating=waiting)
        return lines, page

    try:
        lines, page = await services.store.run(keep)
    except PolicyError as exc:
        await ack(response_action="update", view=working_view(f"⚠️ {exc}", working=False))
        return
    await ack(response_action="update", view=page)
    if lines:
        run = Run(
            services,
            client,
            actor=actor,
            draft_id=draft_id,
            view_id=str(view["id"]),
            meta=meta,
            lines=lines,
        )
        later(services, client, body, run.run(), f"validate {len(lines)} domains")


def register(app: AsyncApp) -> None:
    app.action(Action.DOMAINS_ADD.value)(guarded(on_add))
    app.view(View.DOMAINS_ADD.value)(guarded(on_add_submit))
    app.action(Action.BATCH_REMOVE.value)(guarded(on_batch_remove))
    app.view(View.DOMAINS_REVIEW.value)(guarded(on_review_submit))
