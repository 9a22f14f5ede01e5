"""Load what each step shows from the store, as plain view data (runs in a store thread)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlmodel import Session, col, func, select

from bot.policy import audit
from bot.policy.batch import LineStatus
from bot.policy.db import chunked
from bot.policy.models import AuditEvent, ChangeRequest, DomainPolicy, Draft, Validation
from bot.policy.monitor.history import at_risk_first
from bot.policy.queries import count_policies, list_policies, list_routes
from bot.policy.types import RecordStatus, RequestKind, RequestState
from bot.probe.model import Verdict
from bot.slack.cards import title
from bot.slack.views.domains import PAGE_SIZE
from bot.slack.views.model import (
    AuditLine,
    DomainRow,
    DomainsPage,
    HomeData,
    PendingItem,
    Progress,
    RouteRow,
    RoutesPage,
    RowState,
)

OK = (Verdict.STRICT, Verdict.RELAXED)
ROUTE_KINDS = (RequestKind.ADD_ROUTE, RequestKind.REMOVE_ROUTE)


def verdict(value: str | None) -> Verdict | None:
    try:
        return Verdict(value) if value else None
    except ValueError:
        return None


def first_reason(result: dict[str, Any]) -> str | None:
    for reason in result.get("reasons") or ():
        return str(reason.get("message"))
    for host in result.get("hosts") or ():
        if host.get("verdict") in (Verdict.STRICT, Verdict.RELAXED):
            continue
        for reason in host.get("reasons") or ():
            return f"{host.get('host')}: {reason.get('message')}"
    return None


def full_reason(result: dict[str, Any]) -> str | None:
    parts = [str(r.get("message")) for r in result.get("reasons") or ()]
    for host in result.get("hosts") or ():
        for reason in host.get("reasons") or ():
            parts.append(f"{host.get('host')} ({host.get('address')}): {reason.get('message')}")
    return "\n".join(parts) or None


def reasons_of(session: Session, ids: list[int | None]) -> dict[int, tuple[str | None, str | None]]:
    """First and full reason of each validation, in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    found = session.exec(select(Validation).where(col(Validation.id).in_(wanted)))
    return {
        v.id: (first_reason(v.result), full_reason(v.result)) for v in found if v.id is not None
    }


def reason_of(session: Session, validation_id: int | None) -> tuple[str | None, str | None]:
    if validation_id is None:
        return None, None
    validation = session.get(Validation, validation_id)
    if validation is None:
        return None, None
    return first_reason(validation.result), full_reason(validation.result)


def latest_validation(session: Session, domain: str) -> Validation | None:
    """The newest validation of ``domain`` (a domain or email target, not a route)."""
    query = (
        select(Validation)
        .where(col(Validation.domain) == domain, col(Validation.kind) != "route")
        .order_by(col(Validation.id).desc())
    )
    return session.exec(query).first()


def pending_items(
    session: Session, kinds: tuple[str, ...] | None = None
) -> tuple[PendingItem, ...]:
    query = select(ChangeRequest).where(col(ChangeRequest.state) == RequestState.PENDING)
    if kinds is not None:
        query = query.where(col(ChangeRequest.kind).in_(kinds))
    items = []
    for request in session.exec(query.order_by(col(ChangeRequest.id))):
        assert request.id is not None
        items.append(PendingItem(request.id, title(request)))
    return tuple(items)


def routes_page(
    session: Session,
    *,
    problem: str | None = None,
    validating: bool = False,
    notice: str | None = None,
) -> RoutesPage:
    rows = []
    for route in list_routes(session=session):
        assert route.id is not None
        reason, _ = reason_of(session, route.last_validation_id)
        rows.append(
            RouteRow(
                route.id, route.label, verdict(route.last_verdict), reason, route.last_validated_at
            )
        )
    return RoutesPage(
        routes=tuple(rows),
        pending=pending_items(session, ROUTE_KINDS),
        problem=problem,
        validating=validating,
        notice=notice,
    )


def routes_not_ready(page: RoutesPage) -> str | None:
    """Why *Next* is refused, or None when every route supports TLS."""
    if not page.routes:
        return "There is no inbound route yet: add your mail servers with *Add route* first."
    bad = [r for r in page.routes if r.verdict is None or not r.verdict.ok]
    if not bad:
        return None
    names = ", ".join(
        f"{r.label} ({'not validated' if r.verdict is None else r.verdict.label})" for r in bad[:5]
    )
    return f"Next is refused while a route does not support TLS: {names}. Validate or remove it."


def draft_rows(session: Session, draft: Draft) -> list[DomainRow]:
    rows = []
    lines = [line for line in draft.lines if line.get("status") == LineStatus.OK]
    reasons = reasons_of(session, [line.get("validation_id") for line in lines])
    for line in lines:
        reason, detail = reasons.get(line.get("validation_id") or 0, (None, None))
        rows.append(
            DomainRow(
                key=f"l{line['id']}",
                domain=str(line.get("domain") or line.get("text")),
                state=RowState.DRAFT,
                verdict=verdict(line.get("verdict")),
                reason=reason,
                detail=detail,
            )
        )
    return rows


def domains_page(
    session: Session,
    draft: Draft,
    *,
    page: int = 0,
    expanded: frozenset[str] = frozenset(),
    notice: str | None = None,
    progress: Progress | None = None,
    validating: frozenset[str] = frozenset(),
) -> DomainsPage:
    """The draft's lines first, then the policies in force, PAGE_SIZE rows a page."""
    drafts = draft_rows(session, draft)
    if validating:
        drafts = [
            DomainRow(r.key, r.domain, r.state, None, validating=True) if r.key in validating else r
            for r in drafts
        ]
    total = count_policies(session=session)
    rows_total = len(drafts) + total
    pages = max(1, -(-rows_total // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    start, stop = page * PAGE_SIZE, (page + 1) * PAGE_SIZE
    rows = drafts[start:stop]
    if len(rows) < PAGE_SIZE:
        offset = max(0, start - len(drafts))
        policies = list_policies(session=session, offset=offset, limit=PAGE_SIZE - len(rows))
        reasons = reasons_of(session, [p.validation_id for p in policies])
        for policy in policies:
            reason, detail = reasons.get(policy.validation_id or 0, (None, None))
            rows.append(
                DomainRow(
                    key=f"p{policy.id}",
                    domain=policy.domain,
                    state=RowState.POLICY,
                    verdict=verdict(policy.level),
                    level=policy.level,
                    reason=reason,
                    detail=detail,
                )
            )
    return DomainsPage(
        rows=tuple(rows),
        page=page,
        pages=pages,
        total_policies=total,
        draft_lines=len(drafts),
        progress=progress,
        pending=pending_items(session, (RequestKind.ADD_DOMAINS, RequestKind.REMOVE_DOMAINS)),
        expanded=expanded,
        notice=notice,
    )


HOME_WATCHED = 20  # monitored items listed on the App Home, at risk first


def home_data(session: Session) -> HomeData:
    levels: Counter[str] = Counter()
    query = (
        select(DomainPolicy.level, func.count())
        .where(col(DomainPolicy.status) == RecordStatus.ACTIVE)
        .group_by(col(DomainPolicy.level))
    )
    for level, n in session.exec(query):
        levels[str(level)] = int(n)
    failed: list[tuple[str, str]] = []
    # The newest validation of each domain among the last 2,000, without their evidence;
    # the evidence is read for the failed ones only, and only active policies count.
    latest = (
        select(Validation.id, Validation.domain, Validation.verdict)
        .where(col(Validation.kind) != "route")
        .order_by(col(Validation.id).desc())
        .limit(2000)
    )
    newest: dict[str, tuple[int | None, str]] = {}
    for validation_id, domain, outcome in session.exec(latest):
        newest.setdefault(domain, (validation_id, outcome))
    bad = {d: v for d, v in newest.items() if verdict(v[1]) not in OK}
    active: set[str] = set()
    for chunk in chunked(sorted(bad)):
        active.update(
            session.exec(
                select(DomainPolicy.domain).where(
                    col(DomainPolicy.status) == RecordStatus.ACTIVE,
                    col(DomainPolicy.domain).in_(chunk),
                )
            )
        )
    results = reasons_of(session, [bad[d][0] for d in bad if d in active])
    for domain, (validation_id, outcome) in bad.items():
        if domain in active:
            failed.append((domain, results.get(validation_id or 0, (None, None))[0] or outcome))
    recent = tuple(
        AuditLine(e.at, e.actor_id, e.action, e.subject)
        for e in audit.events(session=session, limit=15)
    )
    return HomeData(
        levels=dict(levels),
        routes=len(list_routes(session=session)),
        pending=pending_items(session),
        failed=tuple(failed),
        audit=recent,
        watched=tuple(at_risk_first(session=session, limit=HOME_WATCHED)),
    )


def audit_lines(session: Session, domain: str | None, limit: int = 20) -> tuple[AuditLine, ...]:
    if domain is None:
        found = audit.events(session=session, limit=limit)
    else:
        query = (
            select(AuditEvent)
            .where(col(AuditEvent.subject) == domain)
            .order_by(col(AuditEvent.seq).desc())
            .limit(limit)
        )
        found = list(session.exec(query))
    return tuple(AuditLine(e.at, e.actor_id, e.action, e.subject) for e in found)
