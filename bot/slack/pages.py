"""Load what each step shows from the store, as plain view data (runs in a store thread)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlmodel import Session, col, func, select

from bot.export.gateway import GatewayName
from bot.export.handover import policy_states
from bot.export.handover import states as gateway_states
from bot.policy import audit
from bot.policy.audit import AuditAction
from bot.policy.batch import LineStatus
from bot.policy.db import chunked
from bot.policy.evidence.traffic import Traffic, traffic_by_domain, traffic_for
from bot.policy.models import AuditEvent, ChangeRequest, DomainPolicy, Draft, Validation
from bot.policy.monitor.history import (
    ListFilter,
    Listing,
    at_risk_first,
    domain_status,
    policy_listing,
)
from bot.policy.queries import count_policies, find_policy, list_policies, list_routes
from bot.policy.types import RecordStatus, RequestKind, RequestState
from bot.policy.validations import Checked, checked_by_id, latest_checked
from bot.probe.model import Verdict
from bot.probe.names import InvalidName, normalise_domain
from bot.slack.cards import title
from bot.slack.views.domains import PAGE_SIZE
from bot.slack.views.model import (
    AuditLine,
    DomainRow,
    DomainsPage,
    DomainStatusPage,
    HomeData,
    PendingItem,
    Progress,
    RouteRow,
    RoutesPage,
    RowState,
    StatusPage,
)
from bot.slack.views.results import first_reason

ROUTE_KINDS = (RequestKind.ADD_ROUTE, RequestKind.REMOVE_ROUTE)


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
        found = checked_by_id(session, [route.last_validation_id]).get(
            route.last_validation_id or 0
        )
        reason = first_reason(found.result) if found is not None else None
        rows.append(
            RouteRow(
                route.id,
                route.label,
                Verdict.parse(route.last_verdict),
                reason,
                route.last_validated_at,
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
    found = checked_by_id(session, [line.get("validation_id") for line in lines])
    for line in lines:
        rows.append(
            DomainRow(
                key=f"l{line['id']}",
                domain=str(line.get("domain") or line.get("text")),
                state=RowState.DRAFT,
                verdict=Verdict.parse(line.get("verdict")),
                evidence=found.get(line.get("validation_id") or 0),
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
        found = checked_by_id(session, [p.validation_id for p in policies])
        for policy in policies:
            rows.append(policy_row(policy, found.get(policy.validation_id or 0)))
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


def policy_row(policy: DomainPolicy, evidence: Checked | None) -> DomainRow:
    """A policy in force as a row: its level, and the evidence it was admitted with (or newer)."""
    verdict = evidence.result.verdict if evidence is not None else Verdict.parse(policy.level)
    return DomainRow(
        key=f"p{policy.id}",
        domain=policy.domain,
        state=RowState.POLICY,
        verdict=verdict,
        level=policy.level,
        evidence=evidence,
    )


HOME_WATCHED = 20  # monitored items listed on the App Home, at risk first


HOME_TRAFFIC = 10  # domains whose real mail the App Home lists
TRAFFIC_DAYS = 7  # days of real mail the App Home and /tls status DOMAIN show


def policy_levels(session: Session) -> dict[str, int]:
    """Active policies by level, in one query."""
    query = (
        select(DomainPolicy.level, func.count())
        .where(col(DomainPolicy.status) == RecordStatus.ACTIVE)
        .group_by(col(DomainPolicy.level))
    )
    return {str(level): int(n) for level, n in session.exec(query)}


def home_data(
    session: Session, gateways: Sequence[GatewayName] = (), now: datetime | None = None
) -> HomeData:
    """The App Home's data; with ``now``, also the last days of real mail (Postfix's log)."""
    levels = policy_levels(session)
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
    bad = {d: v for d, v in newest.items() if not Verdict.ok_value(v[1])}
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
    found = checked_by_id(session, [bad[d][0] for d in bad if d in active])
    for domain, (validation_id, outcome) in bad.items():
        if domain in active:
            evidence = found.get(validation_id or 0)
            reason = first_reason(evidence.result) if evidence is not None else None
            failed.append((domain, reason or outcome))
    recent = tuple(
        AuditLine(e.at, e.actor_id, e.action, e.subject)
        for e in audit.events(session=session, limit=15)
    )
    return HomeData(
        levels=levels,
        routes=len(list_routes(session=session)),
        pending=pending_items(session),
        failed=tuple(failed),
        audit=recent,
        watched=tuple(at_risk_first(session=session, limit=HOME_WATCHED)),
        traffic=_traffic(session, now) if now is not None else (),
        gateways=gateway_states(session=session, gateways=gateways),
    )


def _traffic(session: Session, now: datetime) -> tuple[Traffic, ...]:
    found = traffic_by_domain(session=session, now=now, days=TRAFFIC_DAYS)
    ranked = sorted(found.values(), key=lambda t: (-t.deferrals, -t.below("strict"), -t.deliveries))
    return tuple(ranked[:HOME_TRAFFIC])


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


STATUS_PAGE = 20  # policies a /tls status page lists (one line each: a few sections)


def status_page(
    session: Session,
    listing: Listing,
    *,
    offset: int,
    gateways: Sequence[GatewayName],
    now: datetime,
) -> StatusPage:
    """A page of ``/tls status [FILTER]``: the policies, their gateways, the totals."""
    lines, total = policy_listing(
        session=session, listing=listing, offset=offset, limit=STATUS_PAGE, now=now
    )
    levels = policy_levels(session)
    on = policy_states(
        session=session,
        gateways=gateways,
        policies=[(line.domain, line.level, line.mode) for line in lines],
    )
    return StatusPage(
        lines=lines,
        listing=listing,
        offset=offset,
        total=total,
        size=STATUS_PAGE,
        levels=levels,
        routes=len(list_routes(session=session)),
        on_gateways=on,
        gateways=gateway_states(session=session, gateways=gateways) if offset == 0 else (),
        pending=pending_items(session) if offset == 0 else (),
    )


def domain_status_page(
    session: Session, domain: str, *, now: datetime, relaxed_days: int
) -> DomainStatusPage:
    """``/tls status DOMAIN``: what the store knows of one domain."""
    policy = find_policy(session=session, domain=domain)
    return DomainStatusPage(
        domain=domain,
        row=policy_row(policy, latest_checked(session, domain)) if policy is not None else None,
        history=domain_status(session=session, domain=domain, now=now, relaxed_days=relaxed_days),
        traffic=traffic_for(session=session, domain=domain, now=now, days=TRAFFIC_DAYS),
        changes=domain_changes(session, domain),
    )


def status_target(session: Session, text: str) -> str | Listing:
    """What ``/tls status TEXT`` is about: one domain, or a listing (a filter or a prefix).

    A full domain name is that domain, unless it has neither a policy nor a validation
    and some policies' domains start with it ("partner.ex"). Raises
    :class:`~bot.policy.errors.InvalidInput` for text that is neither.
    """
    try:
        domain = normalise_domain(text)
    except InvalidName:
        return Listing.parse(text)
    if find_policy(session=session, domain=domain) or latest_checked(session, domain):
        return domain
    prefix = Listing(ListFilter.PREFIX, domain)
    lines, _ = policy_listing(session=session, listing=prefix, offset=0, limit=1, now=_EPOCH)
    return prefix if lines else domain


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REQUESTS_SCANNED = 500  # newest change requests searched for a domain's history


def domain_changes(session: Session, domain: str, limit: int = 15) -> tuple[AuditLine, ...]:
    """The domain's change history: requests that named it, their approvals and decisions,
    and what applying them did (newest first)."""
    recent = session.exec(
        select(ChangeRequest).order_by(col(ChangeRequest.id).desc()).limit(REQUESTS_SCANNED)
    )
    subjects = [domain]
    for request in recent:
        if any(str(item.get("subject")) == domain for item in request.items):
            subjects.append(f"request #{request.id}")
    query = (
        select(AuditEvent)
        .where(
            col(AuditEvent.subject).in_(subjects),
            col(AuditEvent.action) != AuditAction.VALIDATION_RECORDED,
        )
        .order_by(col(AuditEvent.seq).desc())
        .limit(limit)
    )
    return tuple(AuditLine(e.at, e.actor_id, e.action, e.subject) for e in session.exec(query))
