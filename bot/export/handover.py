"""Hand-overs of the manual gateways (Exchange Online, Google Workspace), as stored.

After an approved change, :func:`prepare` renders the gateway's file through the
one audited publish step and stores a :class:`GatewayHandover` holding the three
lists it enforces, unless they equal those of the newest hand-over (nothing new
to apply). An older hand-over still pending is *superseded*: the file is the
whole state, so applying the newer one applies both. :func:`diff` compares with
the last *applied* hand-over, which is what the admin has in place.

:func:`mark_applied` records who applied it and when (one conditional update, so
a double click records it once, and one ``gateway.applied`` audit event);
:func:`due_reminders` claims, once each, the hand-overs pending for longer than
``TLSBOT_APPLY_REMIND_HOURS``. :func:`states` is each gateway's line for
``/tls status`` and App Home: in force, waiting to be applied since …, or drift.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from bot.export.gateway import GatewayName
from bot.export.names import ListName, enforcement
from bot.export.publish import Published, publish
from bot.export.registry import GATEWAYS
from bot.export.store import load_published
from bot.policy import audit
from bot.policy.errors import InvalidState, NotFound
from bot.policy.models import GatewayDrift, GatewayHandover
from bot.policy.types import SYSTEM, Actor


class HandoverState(enum.StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    SUPERSEDED = "superseded"


Lists = dict[str, list[str]]


@dataclass(frozen=True)
class Change:
    list_name: str
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True)
class Prepared:
    handover_id: int
    gateway: GatewayName
    file_name: str
    text: str
    changes: tuple[Change, ...]  # since the last applied hand-over
    event_seq: int


def lists_of(published: Published) -> Lists:
    return {kind.value: list(domains) for kind, domains in published.view.lists().items()}


def diff(
    before: Mapping[str, Sequence[str]], after: Mapping[str, Sequence[str]]
) -> tuple[Change, ...]:
    """Per list, what was added and removed from ``before`` to ``after``."""
    changes = []
    for kind in ListName:
        old, new = set(before.get(kind.value, ())), set(after.get(kind.value, ()))
        if old != new:
            changes.append(Change(kind.value, tuple(sorted(new - old)), tuple(sorted(old - new))))
    return tuple(changes)


def _newest(
    session: Session, gateway: GatewayName, *states: HandoverState
) -> GatewayHandover | None:
    query = select(GatewayHandover).where(col(GatewayHandover.gateway) == gateway.value)
    if states:
        query = query.where(col(GatewayHandover.state).in_([s.value for s in states]))
    return session.exec(query.order_by(col(GatewayHandover.id).desc())).first()


def current_lists(session: Session) -> Lists:
    view = enforcement(load_published(session))
    return {kind.value: list(domains) for kind, domains in view.lists().items()}


def prepare(*, session: Session, gateway: GatewayName, now: datetime) -> Prepared | None:
    """Store a new hand-over when the policy differs from the newest one; None otherwise."""
    if not GATEWAYS[gateway].manual:
        raise ValueError(f"{gateway} is not a manual gateway")
    newest, lists = _newest(session, gateway), current_lists(session)
    if newest is not None and newest.lists == lists:
        return None
    if newest is None and not any(lists.values()):
        return None  # nothing enforced yet, nothing to hand over
    applied = _newest(session, gateway, HandoverState.APPLIED)
    holder: dict[str, Any] = {}

    def record(s: Session, published: Published) -> None:
        audit.lock_chain(s)
        s.execute(
            update(GatewayHandover)
            .where(
                col(GatewayHandover.gateway) == gateway.value,
                col(GatewayHandover.state) == HandoverState.PENDING,
            )
            .values(state=HandoverState.SUPERSEDED)
        )
        ((name, sha),) = published.sha256.items()
        row = GatewayHandover(
            gateway=gateway.value,
            state=HandoverState.PENDING,
            lists=lists_of(published),
            sha256=sha,
            event_seq=published.event_seq,
            created_at=now,
        )
        s.add(row)
        s.flush()
        holder["row"] = row
        holder["name"] = name

    published = publish(
        session=session, gateway=gateway, target="slack", now=now, on_published=record
    )
    row: GatewayHandover = holder["row"]
    assert row.id is not None
    (text,) = published.files.values()
    before = applied.lists if applied is not None else {}
    return Prepared(
        row.id, gateway, holder["name"], text, diff(before, row.lists), published.event_seq
    )


def record_posted(*, session: Session, handover_id: int, where: list[dict[str, str]]) -> None:
    row = session.get(GatewayHandover, handover_id)
    if row is None:
        return
    row.posted = [*(row.posted or []), *where]
    session.add(row)


def get(session: Session, handover_id: int) -> GatewayHandover:
    row = session.get(GatewayHandover, handover_id, populate_existing=True)
    if row is None:
        raise NotFound(f"Hand-over #{handover_id} does not exist.")
    return row


def mark_applied(
    *, session: Session, handover_id: int, actor: Actor, now: datetime
) -> GatewayHandover:
    """Record that ``actor`` applied the hand-over now; exactly once."""
    audit.lock_chain(session)
    row = get(session, handover_id)
    done = session.execute(
        update(GatewayHandover)
        .where(
            col(GatewayHandover.id) == handover_id,
            col(GatewayHandover.state) == HandoverState.PENDING,
        )
        .values(
            state=HandoverState.APPLIED,
            applied_at=now,
            applied_by_id=actor.id,
            applied_by_name=actor.name,
        )
    )
    session.refresh(row)
    if done.rowcount != 1:  # type: ignore[attr-defined]
        title = GATEWAYS[GatewayName(row.gateway)].title
        if row.state == HandoverState.APPLIED:
            raise InvalidState(
                f"The {title} hand-over #{handover_id} was already marked applied by "
                f"{row.applied_by_name}."
            )
        raise InvalidState(
            f"The {title} hand-over #{handover_id} was replaced by a newer one; apply that one."
        )
    audit.append(
        session=session,
        actor=actor,
        action=audit.AuditAction.HANDOVER_APPLIED,
        subject=f"{row.gateway}:handover #{handover_id}",
        before={"state": HandoverState.PENDING},
        after={
            "state": HandoverState.APPLIED,
            "export_event": row.event_seq,
            "sha256": row.sha256,
            "lists": {k: len(v) for k, v in row.lists.items()},
        },
        now=now,
    )
    return row


def due_reminders(
    *, session: Session, gateways: Iterable[GatewayName], now: datetime, hours: float
) -> list[GatewayHandover]:
    """Pending hand-overs older than ``hours`` not reminded yet, claimed (reminded) now."""
    names = [g.value for g in gateways if GATEWAYS[g].manual]
    cutoff = now - timedelta(hours=hours)
    query = select(col(GatewayHandover.id)).where(
        col(GatewayHandover.gateway).in_(names),
        col(GatewayHandover.state) == HandoverState.PENDING,
        col(GatewayHandover.reminded_at).is_(None),
        col(GatewayHandover.created_at) <= cutoff,
    )
    claimed = []
    for handover_id in list(session.exec(query)):
        if handover_id is None:
            continue
        done = session.execute(
            update(GatewayHandover)
            .where(
                col(GatewayHandover.id) == handover_id, col(GatewayHandover.reminded_at).is_(None)
            )
            .values(reminded_at=now)
        )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(get(session, int(handover_id)))
    if claimed:
        audit.append(
            session=session,
            actor=SYSTEM,
            action=audit.AuditAction.HANDOVER_REMINDED,
            subject="gateways",
            after={"handovers": [row.id for row in claimed]},
            now=now,
        )
    return claimed


class Standing(enum.StrEnum):
    IN_FORCE = "in force"
    WAITING = "waiting"
    DRIFT = "drift"
    NOT_YET = "not synced yet"


@dataclass(frozen=True)
class GatewayLine:
    gateway: GatewayName
    title: str
    standing: Standing
    since: datetime | None = None
    detail: str = ""


def states(*, session: Session, gateways: Iterable[GatewayName]) -> tuple[GatewayLine, ...]:
    """Each gateway in use: in force, waiting to be applied since …, or drift."""
    lines = []
    for name in gateways:
        adapter = GATEWAYS[name]
        if adapter.manual:
            pending = _newest(session, name, HandoverState.PENDING)
            if pending is not None:
                oldest = session.exec(
                    select(func.min(GatewayHandover.created_at)).where(
                        col(GatewayHandover.gateway) == name.value,
                        col(GatewayHandover.state).in_(
                            [HandoverState.PENDING, HandoverState.SUPERSEDED]
                        ),
                        col(GatewayHandover.id) > _applied_id(session, name),
                    )
                ).one()
                lines.append(
                    GatewayLine(name, adapter.title, Standing.WAITING, oldest, f"#{pending.id}")
                )
                continue
            applied = _newest(session, name, HandoverState.APPLIED)
            if applied is None:
                lines.append(GatewayLine(name, adapter.title, Standing.NOT_YET))
                continue
            lines.append(
                GatewayLine(
                    name,
                    adapter.title,
                    Standing.IN_FORCE,
                    applied.applied_at,
                    f"applied by {applied.applied_by_name}",
                )
            )
        elif name is GatewayName.MIMECAST:
            drift = session.exec(
                select(GatewayDrift).where(
                    col(GatewayDrift.gateway) == name.value, col(GatewayDrift.state) != "resolved"
                )
            ).all()
            if drift:
                shown = ", ".join(f"{d.domain} ({d.direction}, {d.list_name})" for d in drift[:5])
                lines.append(GatewayLine(name, adapter.title, Standing.DRIFT, None, shown))
            else:
                lines.append(GatewayLine(name, adapter.title, Standing.IN_FORCE))
        else:
            lines.append(GatewayLine(name, adapter.title, Standing.IN_FORCE))
    return tuple(lines)


def _applied_id(session: Session, name: GatewayName) -> int:
    applied = _newest(session, name, HandoverState.APPLIED)
    return applied.id if applied is not None and applied.id is not None else 0


@dataclass(frozen=True)
class PolicyGateway:
    """Where one policy stands on one gateway in use."""

    gateway: GatewayName
    title: str
    standing: Standing


def policy_states(
    *,
    session: Session,
    gateways: Iterable[GatewayName],
    policies: Sequence[tuple[str, str, str]],
) -> dict[str, tuple[PolicyGateway, ...]]:
    """Each policy (domain, level, mode) on each gateway in use, in a few queries a page.

    A policy in observe mode is published nowhere (:data:`Standing.NOT_YET`). Postfix
    serves the approved policy live; a manual gateway has it in force once a hand-over
    listing it was applied, *waiting* while it is only in a newer one; Mimecast shows
    drift while a drift of the domain is unresolved.
    """
    names = list(gateways)
    domains = [domain for domain, _, _ in policies]
    applied: dict[GatewayName, Mapping[str, Any]] = {}
    pending: dict[GatewayName, Mapping[str, Any]] = {}
    for name in names:
        if GATEWAYS[name].manual:
            done = _newest(session, name, HandoverState.APPLIED)
            wait = _newest(session, name, HandoverState.PENDING)
            applied[name] = done.lists if done is not None else {}
            pending[name] = wait.lists if wait is not None else {}
    drifting: set[str] = set()
    if GatewayName.MIMECAST in names and domains:
        drifting = set(
            session.exec(
                select(GatewayDrift.domain).where(
                    col(GatewayDrift.gateway) == GatewayName.MIMECAST.value,
                    col(GatewayDrift.state) != "resolved",
                    col(GatewayDrift.domain).in_(domains),
                )
            )
        )
    out: dict[str, tuple[PolicyGateway, ...]] = {}
    for domain, level, mode in policies:
        row = []
        for name in names:
            title = GATEWAYS[name].title
            if mode == "observe":
                standing = Standing.NOT_YET
            elif name in applied:
                standing = _listed(domain, level, applied[name], pending[name])
            elif name is GatewayName.MIMECAST and domain in drifting:
                standing = Standing.DRIFT
            else:
                standing = Standing.IN_FORCE
            row.append(PolicyGateway(name, title, standing))
        out[domain] = tuple(row)
    return out


def _listed(
    domain: str, level: str, applied: Mapping[str, Any], pending: Mapping[str, Any]
) -> Standing:
    if domain in (applied.get(level) or ()):
        return Standing.IN_FORCE
    if domain in (pending.get(level) or ()):
        return Standing.WAITING
    return Standing.NOT_YET
