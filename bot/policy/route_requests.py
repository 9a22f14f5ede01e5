"""Proposing change requests for the inbound routes: adding one (with its validation as
evidence) and removing one. Both go through :func:`bot.policy.requests.propose`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.policy.apply import active_route, route_label
from bot.policy.errors import InvalidInput, NotFound
from bot.policy.models import ChangeRequest
from bot.policy.queries import get_validation
from bot.policy.requests import Rules, propose
from bot.policy.types import Actor, RequestKind
from bot.policy.validations import evidence
from bot.probe.names import InvalidName, parse_route


def propose_add_route(
    *,
    session: Session,
    requester: Actor,
    route: str,
    validation_id: int | None,
    rules: Rules,
    now: datetime,
) -> ChangeRequest:
    """Propose the inbound route ``HOST[:PORT]``, with its validation as evidence."""
    host, port = _route(route)
    item: dict[str, Any] = {
        "op": "add_route",
        "subject": route_label(host, port),
        "host": host,
        "port": port,
        "validation_id": None,
        "verdict": None,
        "evidence": None,
    }
    if validation_id is not None:
        validation = get_validation(session=session, validation_id=validation_id)
        item.update(
            validation_id=validation.id, verdict=validation.verdict, evidence=evidence(validation)
        )
    return propose(
        session=session,
        kind=RequestKind.ADD_ROUTE,
        items=[item],
        requester=requester,
        rules=rules,
        now=now,
    )


def propose_remove_route(
    *,
    session: Session,
    requester: Actor,
    route: str,
    rules: Rules,
    now: datetime,
) -> ChangeRequest:
    """Propose removing the inbound route ``HOST[:PORT]``."""
    host, port = _route(route)
    found = active_route(session, host, port)
    if found is None:
        raise NotFound(f"There is no inbound route {route_label(host, port)}.")
    item = {
        "op": "remove_route",
        "subject": route_label(host, port),
        "host": host,
        "port": port,
        "route_id": found.id,
        "version": found.version,
    }
    return propose(
        session=session,
        kind=RequestKind.REMOVE_ROUTE,
        items=[item],
        requester=requester,
        rules=rules,
        now=now,
    )


def _route(text: str) -> tuple[str, int]:
    try:
        return parse_route(text)
    except InvalidName as exc:
        raise InvalidInput(f"{exc}.") from None
