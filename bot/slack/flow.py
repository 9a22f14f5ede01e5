"""The steps of the ``/tls setup`` flow as operations: load from the store, render, show.

Listeners call these after their ack. Every view is rebuilt from the database
and ``private_metadata`` (ids and a version), so any replica can take the next
click. A view the user has closed cannot be updated; :func:`show` reports that
so slow work can send its result by direct message instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import Session

from bot.policy import drafts
from bot.policy.errors import StaleDraft
from bot.policy.models import Draft
from bot.policy.queries import get_draft
from bot.policy.types import Actor
from bot.slack.pages import domains_page, routes_page
from bot.slack.services import Services
from bot.slack.views.domains import domains_view
from bot.slack.views.meta import Meta
from bot.slack.views.model import Progress
from bot.slack.views.routes import routes_view

log = logging.getLogger(__name__)
T = TypeVar("T")
GONE = {"not_found", "view_not_found", "expired_trigger_id"}


async def show(client: AsyncWebClient, view_id: str, view: dict[str, Any]) -> bool:
    """Replace the modal ``view_id``; False when the user has closed it."""
    try:
        await client.views_update(view_id=view_id, view=view)
    except SlackApiError as exc:
        if exc.response.get("error") in GONE:
            return False
        raise
    return True


async def routes_for(
    services: Services,
    *,
    problem: str | None = None,
    notice: str | None = None,
    validating: bool = False,
) -> dict[str, Any]:
    page = await services.store.run(
        lambda s: routes_page(s, problem=problem, notice=notice, validating=validating)
    )
    return routes_view(page, Meta())


def with_draft(session: Session, draft_id: int, edit: Callable[[Draft], T]) -> T:
    """Apply ``edit`` to the draft as it is now, again if someone else changed it meanwhile."""
    for _ in range(10):
        draft = get_draft(session=session, draft_id=draft_id)
        try:
            return edit(draft)
        except StaleDraft:
            session.rollback()
            continue
    raise StaleDraft("This list keeps changing elsewhere; open it again.")


def drop_line(
    session: Session, draft_id: int, line_id: int, *, actor: Actor, now: datetime
) -> Draft:
    """Remove one line of the draft (the batch review's and the list's *Remove*)."""

    def drop(draft: Draft) -> Draft:
        return drafts.remove_line(
            session=session,
            draft_id=draft_id,
            version=draft.version,
            line_id=line_id,
            actor=actor,
            now=now,
        )

    return with_draft(session, draft_id, drop)


def open_draft(session: Session, actor: Actor, now: datetime) -> Draft:
    return drafts.start_draft(session=session, owner=actor, now=now)


def domains_for_sync(
    session: Session,
    draft_id: int,
    meta: Meta,
    *,
    notice: str | None = None,
    progress: Progress | None = None,
    validating: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    draft = get_draft(session=session, draft_id=draft_id)
    page = domains_page(
        session,
        draft,
        page=meta.page,
        expanded=frozenset(meta.expanded),
        notice=notice,
        progress=progress,
        validating=validating,
    )
    new_meta = Meta(draft=draft.id, version=draft.version, page=page.page, expanded=meta.expanded)
    return domains_view(page, new_meta)


async def domains_for(
    services: Services,
    draft_id: int,
    meta: Meta,
    *,
    notice: str | None = None,
    progress: Progress | None = None,
    validating: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    return await services.store.run(
        lambda s: domains_for_sync(
            s, draft_id, meta, notice=notice, progress=progress, validating=validating
        )
    )


async def own_domains(services: Services, actor: Actor) -> dict[str, Any]:
    """The external-domains view of ``actor``'s draft (opened if they have none)."""
    draft = await services.store.run(lambda s: open_draft(s, actor, services.clock()))
    assert draft.id is not None
    return await domains_for(services, draft.id, Meta(draft=draft.id))
