"""Recording probe results as evidence.

:func:`record_validation` stores a :class:`~bot.probe.model.TargetResult` with
its full JSON, appends a ``validation.recorded`` audit event and, for an
inbound route that exists, updates the route's last validation. The returned
row's ``id`` is what drafts and change requests cite as evidence.

Stored results are read back typed, and only so: :func:`checked` (one row) and
:func:`checked_by_id` (many, one query) give a :class:`Checked`, the
:class:`~bot.probe.model.TargetResult` of :meth:`TargetResult.from_dict` with when and
by whom it was checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.clock import as_utc
from bot.policy import audit
from bot.policy.apply import route_label
from bot.policy.audit import AuditAction
from bot.policy.db import transaction
from bot.policy.models import InboundRoute, Validation
from bot.policy.types import Actor, RecordStatus
from bot.probe.model import TargetKind, TargetResult
from bot.probe.names import InvalidName, parse_route


@dataclass(frozen=True, slots=True)
class Checked:
    """A stored probe result, typed, with when and by whom it was checked."""

    validation_id: int
    result: TargetResult
    at: datetime
    by: str


def checked(validation: Validation | None) -> Checked | None:
    """The row's result, typed; None for no row or one whose JSON is not a result."""
    if validation is None or validation.id is None:
        return None
    try:
        result = TargetResult.from_dict(validation.result or {})
    except (ValueError, TypeError, KeyError):
        return None
    return Checked(validation.id, result, as_utc(validation.created_at), validation.actor_name)


def checked_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, Checked]:
    """The typed results of the validations ``ids``, in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(select(Validation).where(col(Validation.id).in_(wanted)))
    found = (checked(v) for v in rows)
    return {c.validation_id: c for c in found if c is not None}


def latest_checked(session: Session, domain: str) -> Checked | None:
    """The newest validation of ``domain`` (a domain or email target, not a route)."""
    query = (
        select(Validation)
        .where(col(Validation.domain) == domain, col(Validation.kind) != "route")
        .order_by(col(Validation.id).desc())
    )
    return checked(session.exec(query).first())


def evidence(validation: Validation) -> dict[str, Any]:
    """The short form of a validation that a change request item carries."""
    return {
        "validation_id": validation.id,
        "target": validation.target,
        "verdict": validation.verdict,
        "mx_hosts": list(validation.mx_hosts),
        "checked_at": audit.jsonable(validation.created_at),
        "checked_by": validation.actor_name,
    }


def _route_of(result: TargetResult) -> tuple[str, int] | None:
    if result.kind is not TargetKind.ROUTE:
        return None
    try:
        host, port = parse_route(result.target)
    except InvalidName:
        return None
    if result.hosts and result.target.strip().count(":") == 0:
        port = result.hosts[0].port
    return host, port


def record_validation(
    *, session: Session, result: TargetResult, actor: Actor, now: datetime
) -> Validation:
    """Store ``result`` as evidence; commits, and returns the row (with its id)."""
    with transaction(session):
        audit.lock_chain(session)
        validation = Validation(
            target=result.target[:1000],
            kind=result.kind.value,
            domain=result.domain,
            verdict=result.verdict.value,
            mx_hosts=list(result.validated_hosts),
            result=audit.jsonable(result.to_dict()),
            actor_id=actor.id,
            actor_name=actor.name,
            created_at=now,
        )
        session.add(validation)
        session.flush()
        route = _route_of(result)
        if route is not None:
            session.execute(
                update(InboundRoute)
                .where(
                    col(InboundRoute.host) == route[0],
                    col(InboundRoute.port) == route[1],
                    col(InboundRoute.status) == RecordStatus.ACTIVE,
                )
                .values(
                    last_verdict=validation.verdict,
                    last_validation_id=validation.id,
                    last_validated_at=now,
                )
            )
        audit.append(
            session=session,
            actor=actor,
            action=AuditAction.VALIDATION_RECORDED,
            subject=route_label(*route) if route else result.domain or result.target[:200],
            after={
                "validation_id": validation.id,
                "target": validation.target,
                "verdict": validation.verdict,
                "mx_hosts": validation.mx_hosts,
            },
            now=now,
        )
    return validation
