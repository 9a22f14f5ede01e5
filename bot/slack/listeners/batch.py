"""Add External Domains → Continue (each line checked, problems with Remove) → Add,
which starts the validation of the whole batch."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from sqlmodel import Session

from bot.policy import drafts
from bot.policy.batch import LineStatus
from bot.policy.errors import PolicyError
from bot.policy.models import Draft
from bot.slack.batch_run import Line, Run
from bot.slack.flow import domains_for_sync, drop_line, show, with_draft
from bot.slack.ids import Action, Block, Field, View
from bot.slack.listeners.act import Act, listener
from bot.slack.listeners.util import action_int, draft_of, field_value, view_id_of
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


async def on_add(act: Act) -> None:
    await act.ack()
    await show(act.client, view_id_of(act.body), domains_add_view(act.meta))


async def on_add_submit(act: Act) -> None:
    draft_id, text = draft_of(act.meta), field_value(act.view, Block.DOMAINS, Field.DOMAINS)

    def add(session: Session) -> tuple[str | None, dict[str, Any]]:
        def edit(draft: Draft) -> tuple[Draft, Any]:
            return drafts.add_text(
                session=session,
                draft_id=draft_id,
                version=draft.version,
                text=text,
                actor=act.actor,
                now=act.now(),
            )

        draft, check = with_draft(session, draft_id, edit)
        return check.error, review_for(draft)

    try:
        error, review = await act.run(add)
    except PolicyError as exc:
        error, review = str(exc), {}
    if error is not None:
        await act.ack(response_action="errors", errors={Block.DOMAINS.value: error[:2000]})
        return
    await act.ack(response_action="update", view=review)


async def on_batch_remove(act: Act) -> None:
    await act.ack()
    draft_id, line_id, view_id = draft_of(act.meta), action_int(act.body), view_id_of(act.body)

    def remove(session: Session) -> dict[str, Any]:
        draft = drop_line(session, draft_id, line_id, actor=act.actor, now=act.now())
        return review_for(draft)

    await show(act.client, view_id, await act.run(remove))


def keep_clean(session: Session, act: Act, draft_id: int) -> tuple[list[Line], dict[str, Any]]:
    """Keep the batch's clean lines; the lines to validate, and the list showing them waiting."""

    def edit(draft: Draft) -> Draft:
        return drafts.keep_clean_lines(
            session=session,
            draft_id=draft_id,
            version=draft.version,
            actor=act.actor,
            now=act.now(),
        )

    draft = with_draft(session, draft_id, edit)
    lines = [
        Line(int(x["id"]), str(x["domain"]))
        for x in draft.lines
        if x.get("validation_id") is None and x.get("domain")
    ]
    waiting = frozenset(line.key for line in lines)
    progress = Progress(0, len(lines)) if lines else None
    page = domains_for_sync(session, draft_id, act.meta, progress=progress, validating=waiting)
    return lines, page


async def on_review_submit(act: Act) -> None:
    draft_id = draft_of(act.meta)
    try:
        lines, page = await act.run(lambda s: keep_clean(s, act, draft_id))
    except PolicyError as exc:
        await act.ack(response_action="update", view=working_view(f"⚠️ {exc}", working=False))
        return
    await act.ack(response_action="update", view=page)
    if lines:
        run = Run(
            act.services,
            act.client,
            actor=act.actor,
            draft_id=draft_id,
            view_id=str(act.view["id"]),
            meta=act.meta,
            lines=lines,
        )
        act.later(run.run(), f"validate {len(lines)} domains")


def register(app: AsyncApp) -> None:
    app.action(Action.DOMAINS_ADD.value)(listener(on_add))
    app.view(View.DOMAINS_ADD.value)(listener(on_add_submit))
    app.action(Action.BATCH_REMOVE.value)(listener(on_batch_remove))
    app.view(View.DOMAINS_REVIEW.value)(listener(on_review_submit))
