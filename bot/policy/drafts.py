"""Drafts: a user's unsaved batch in the Slack flow, kept in the database.

A draft holds the checked lines of *Add External Domains* (with a *Remove*
button each), the validations attached to them, and a ``version``. Every edit
names the version it read and is one conditional update
(``… WHERE id = :id AND version = :version AND state = 'open'``); a stale
version raises :class:`StaleDraft`, so two windows (or replicas) cannot
overwrite each other. Only the owner edits a draft.

Each line is a dict: ``id`` (stable within the draft), ``text`` (as shown),
``domain`` (normalised or None), ``status`` (a ``LineStatus`` value), ``reason``,
``validation_id``, ``verdict``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.policy.batch import BatchCheck, LineStatus, check_batch
from bot.policy.db import transaction
from bot.policy.errors import BatchError, NotAllowed, NotFound, StaleDraft
from bot.policy.models import ChangeRequest, Draft
from bot.policy.queries import get_draft, get_validation
from bot.policy.requests import Rules, add_policy_item, propose
from bot.policy.types import Actor, DraftState, RequestKind
from bot.probe.model import Verdict


def start_draft(
    *, session: Session, owner: Actor, now: datetime, kind: str = RequestKind.ADD_DOMAINS
) -> Draft:
    """The owner's open draft of ``kind``, or a new empty one."""
    with transaction(session):
        query = select(Draft).where(
            col(Draft.owner_id) == owner.id,
            col(Draft.kind) == kind,
            col(Draft.state) == DraftState.OPEN,
        )
        draft = session.exec(query.order_by(col(Draft.id).desc())).first()
        if draft is None:
            draft = Draft(
                owner_id=owner.id,
                owner_name=owner.name,
                kind=str(kind),
                created_at=now,
                updated_at=now,
            )
            session.add(draft)
            session.flush()
    return draft


def _owned(session: Session, draft_id: int, actor: Actor) -> Draft:
    draft = get_draft(session=session, draft_id=draft_id)
    if draft.owner_id != actor.id:
        raise NotAllowed("This list belongs to someone else; start your own with /tls add.")
    return draft


def _save(
    session: Session,
    draft: Draft,
    version: int,
    lines: list[dict[str, Any]],
    *,
    now: datetime,
    next_line: int | None = None,
    state: DraftState = DraftState.OPEN,
    request_id: int | None = None,
) -> Draft:
    values: dict[str, Any] = {
        "lines": lines,
        "version": version + 1,
        "updated_at": now,
        "state": state,
        "next_line": next_line or draft.next_line,
    }
    if request_id is not None:
        values["request_id"] = request_id
    done = session.execute(
        update(Draft)
        .where(
            col(Draft.id) == draft.id,
            col(Draft.version) == version,
            col(Draft.state) == DraftState.OPEN,
        )
        .values(**values)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleDraft("This list was changed elsewhere meanwhile; here it is as it is now.")
    session.refresh(draft)
    return draft


def add_text(
    *, session: Session, draft_id: int, version: int, text: str, actor: Actor, now: datetime
) -> tuple[Draft, BatchCheck]:
    """Check pasted ``text`` and append its lines; a batch error leaves the draft unchanged."""
    with transaction(session):
        draft = _owned(session, draft_id, actor)
        already = [line["domain"] for line in draft.lines if line.get("domain")]
        check = check_batch(session=session, text=text, already=already)
        if check.error is not None:
            return draft, check
        lines = list(draft.lines)
        next_line = draft.next_line
        for line in check.lines:
            lines.append(
                {
                    "id": next_line,
                    "text": line.text,
                    "domain": line.domain,
                    "status": line.status.value,
                    "reason": line.reason,
                    "validation_id": None,
                    "verdict": None,
                }
            )
            next_line += 1
        draft = _save(session, draft, version, lines, now=now, next_line=next_line)
    return draft, check


def remove_line(
    *, session: Session, draft_id: int, version: int, line_id: int, actor: Actor, now: datetime
) -> Draft:
    """Drop one line (the *Remove* button)."""
    with transaction(session):
        draft = _owned(session, draft_id, actor)
        lines = [line for line in draft.lines if line["id"] != line_id]
        if len(lines) == len(draft.lines):
            raise NotFound("That line is no longer in the list.")
        return _save(session, draft, version, lines, now=now)


def keep_clean_lines(
    *, session: Session, draft_id: int, version: int, actor: Actor, now: datetime
) -> Draft:
    """Keep only the lines that are ok (the *Add* button confirms the clean list)."""
    with transaction(session):
        draft = _owned(session, draft_id, actor)
        lines = [line for line in draft.lines if line["status"] == LineStatus.OK]
        return _save(session, draft, version, lines, now=now)


def attach_validation(
    *,
    session: Session,
    draft_id: int,
    version: int,
    line_id: int,
    validation_id: int,
    actor: Actor,
    now: datetime,
) -> Draft:
    """Record that a line's domain was validated (the *Validate* / *Test* step)."""
    with transaction(session):
        draft = _owned(session, draft_id, actor)
        validation = get_validation(session=session, validation_id=validation_id)
        lines = [dict(line) for line in draft.lines]
        for line in lines:
            if line["id"] == line_id:
                if line.get("domain") != validation.domain:
                    raise BatchError(
                        f"Validation #{validation_id} is of {validation.domain}, "
                        f"not {line.get('domain') or line['text']}."
                    )
                line.update(validation_id=validation.id, verdict=validation.verdict)
                break
        else:
            raise NotFound("That line is no longer in the list.")
        return _save(session, draft, version, lines, now=now)


def submit(
    *,
    session: Session,
    draft_id: int,
    version: int,
    actor: Actor,
    rules: Rules,
    now: datetime,
) -> ChangeRequest:
    """Turn the draft into an *add domains* change request (the *Finish* step)."""
    draft = _owned(session, draft_id, actor)
    if draft.version != version or draft.state != DraftState.OPEN:
        # checked again, atomically, when the draft is closed; this early look answers a
        # second Finish of one list before propose() reports its domains as pending
        raise StaleDraft("This list was changed elsewhere meanwhile; here it is as it is now.")
    if not draft.lines:
        raise BatchError("The list is empty; add at least one domain.")
    for line in draft.lines:
        if line["status"] != LineStatus.OK:
            raise BatchError(f"{line['reason'] or line['text']}; remove that line first.")
    for line in draft.lines:
        name = line["domain"]
        if line.get("validation_id") is None:
            raise BatchError(f"{name} has not been validated yet; validate it or remove it.")
        if not Verdict.ok_value(line.get("verdict")):
            raise BatchError(
                f"{name} validated as {Verdict.label_of(line.get('verdict'))}; remove it or "
                "validate it again."
            )
    items = [
        add_policy_item(session=session, domain=line["domain"], validation_id=line["validation_id"])
        for line in draft.lines
    ]

    def close_draft(request: ChangeRequest) -> None:
        _save(
            session,
            draft,
            version,
            draft.lines,
            now=now,
            state=DraftState.SUBMITTED,
            request_id=request.id,
        )

    return propose(
        session=session,
        kind=RequestKind.ADD_DOMAINS,
        items=items,
        requester=actor,
        rules=rules,
        now=now,
        on_created=close_draft,
    )


def discard(*, session: Session, draft_id: int, version: int, actor: Actor, now: datetime) -> Draft:
    with transaction(session):
        draft = _owned(session, draft_id, actor)
        return _save(session, draft, version, draft.lines, now=now, state=DraftState.DISCARDED)
