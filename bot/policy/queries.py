"""Read-only questions about the store: lists, counts and the summary.

None of these write; they return table models (read them, do not change them)
or small frozen values. Rows are always read afresh from the database
(``populate_existing``), so a long-lived session never shows stale values.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.policy.errors import NotFound
from bot.policy.models import (
    Approval,
    ChangeRequest,
    DomainPolicy,
    Draft,
    InboundRoute,
    Validation,
)
from bot.policy.types import RecordStatus, RequestState
from bot.probe.model import Verdict


def get_request(*, session: Session, request_id: int) -> ChangeRequest:
    request = session.get(ChangeRequest, request_id, populate_existing=True)
    if request is None:
        raise NotFound(f"There is no change request #{request_id}.")
    return request


def get_validation(*, session: Session, validation_id: int) -> Validation:
    validation = session.get(Validation, validation_id)
    if validation is None:
        raise NotFound(f"There is no validation #{validation_id}.")
    return validation


def get_draft(*, session: Session, draft_id: int) -> Draft:
    draft = session.get(Draft, draft_id, populate_existing=True)
    if draft is None:
        raise NotFound(f"There is no draft #{draft_id}; start again.")
    return draft


def list_policies(
    *, session: Session, offset: int = 0, limit: int | None = None
) -> list[DomainPolicy]:
    """Active domain policies, by domain."""
    query = (
        select(DomainPolicy)
        .where(col(DomainPolicy.status) == RecordStatus.ACTIVE)
        .order_by(col(DomainPolicy.domain))
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query.execution_options(populate_existing=True)))


def count_policies(*, session: Session) -> int:
    query = select(func.count()).where(col(DomainPolicy.status) == RecordStatus.ACTIVE)
    return session.exec(query).one()


def find_policy(*, session: Session, domain: str) -> DomainPolicy | None:
    query = select(DomainPolicy).where(
        col(DomainPolicy.domain) == domain, col(DomainPolicy.status) == RecordStatus.ACTIVE
    )
    return session.exec(query.execution_options(populate_existing=True)).first()


def list_routes(*, session: Session) -> list[InboundRoute]:
    """Active inbound routes, by host and port."""
    query = (
        select(InboundRoute)
        .where(col(InboundRoute.status) == RecordStatus.ACTIVE)
        .order_by(col(InboundRoute.host), col(InboundRoute.port))
    )
    return list(session.exec(query.execution_options(populate_existing=True)))


def approvals_of(*, session: Session, request_id: int) -> list[Approval]:
    query = (
        select(Approval).where(col(Approval.request_id) == request_id).order_by(col(Approval.id))
    )
    return list(session.exec(query.execution_options(populate_existing=True)))


def pending_subjects(*, session: Session, exclude: int | None = None) -> dict[str, int]:
    """Every subject (domain or route) in a pending request, with that request's id."""
    query = select(ChangeRequest).where(col(ChangeRequest.state) == RequestState.PENDING)
    subjects: dict[str, int] = {}
    for request in session.exec(query):
        if request.id == exclude:
            continue
        for item in request.items:
            assert request.id is not None
            subjects.setdefault(str(item.get("subject")), request.id)
    return subjects


@dataclass(frozen=True, slots=True)
class Summary:
    """What the *Finish* step shows."""

    policies: int  # active external domain TLS policies
    routes: int  # active inbound routes
    routes_ready: bool  # at least one route, and every route validated strict or relaxed
    pending_requests: int

    def __str__(self) -> str:
        noun = "policy" if self.policies == 1 else "policies"
        return (
            f"{self.policies} external domain TLS {noun}, {self.routes} inbound route(s), "
            f"{self.pending_requests} change request(s) pending"
        )


def summary(*, session: Session) -> Summary:
    routes = list_routes(session=session)
    pending = session.exec(
        select(func.count()).where(col(ChangeRequest.state) == RequestState.PENDING)
    ).one()
    return Summary(
        policies=count_policies(session=session),
        routes=len(routes),
        routes_ready=bool(routes) and all(Verdict.ok_value(r.last_verdict) for r in routes),
        pending_requests=pending,
    )
