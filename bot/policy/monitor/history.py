"""Plain-data queries for Slack: ``/tls status DOMAIN`` and the App Home's "at risk first" list.

Nothing here renders; the Slack layer turns these frozen values into blocks.
"""

from __future__ import annotations

import enum
import itertools
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from bot.clock import as_utc
from bot.policy.db import chunked
from bot.policy.errors import InvalidInput
from bot.policy.models import DomainPolicy, Validation
from bot.policy.monitor.alerts import Severity, SubjectKind
from bot.policy.monitor.models import MonitorAlert, MonitorItem
from bot.policy.monitor.store import watched_policy
from bot.policy.types import RecordStatus
from bot.policy.validations import Checked, checked, checked_by_id
from bot.probe.model import TargetResult, Verdict
from bot.probe.names import InvalidName, normalise_domain
from bot.probe.partner import PartnerTls

HISTORY_SCAN = 500  # validations read to find level changes


@dataclass(frozen=True, slots=True)
class CheckRow:
    at: datetime
    verdict: Verdict
    validation_id: int
    checked_by: str
    mx: tuple[str, ...]
    reason: str | None  # the first target or host reason, if any


@dataclass(frozen=True, slots=True)
class LevelChange:
    at: datetime
    before: Verdict
    after: Verdict
    validation_id: int


@dataclass(frozen=True, slots=True)
class CertificateRow:
    host: str
    subject: str
    issuer: str
    not_after: datetime
    days_left: int


@dataclass(frozen=True, slots=True)
class OpenAlert:
    id: str
    condition: str
    severity: Severity
    summary: str
    raised_at: datetime


@dataclass(frozen=True, slots=True)
class DomainStatus:
    domain: str
    policy_id: int | None
    level: str | None
    mode: str | None
    relaxed_until: datetime | None
    mx_hosts: tuple[str, ...]
    last_checked_at: datetime | None
    next_check_at: datetime | None
    checks: tuple[CheckRow, ...]  # newest first
    level_changes: tuple[LevelChange, ...]  # newest first
    certificates: tuple[CertificateRow, ...]  # from the latest check, soonest expiry first
    open_alerts: tuple[OpenAlert, ...]
    partner: PartnerTls | None = None  # what the partner publishes, as the latest check saw it


def domain_status(
    *, session: Session, domain: str, now: datetime, limit: int = 10, relaxed_days: int = 90
) -> DomainStatus:
    """Last checks, level changes, certificate expiry and open alerts of ``domain``.

    ``relaxed_until`` is when a relaxed policy lapses (its end date, else admission
    plus ``relaxed_days``, i.e. TLSBOT_RELAXED_DAYS).
    """
    try:
        name = normalise_domain(domain)
    except InvalidName as exc:
        raise InvalidInput(f"{exc}.") from None
    policy = session.exec(
        select(DomainPolicy).where(
            col(DomainPolicy.domain) == name, col(DomainPolicy.status) == RecordStatus.ACTIVE
        )
    ).first()
    rows = session.exec(
        select(Validation)
        .where(col(Validation.domain) == name, col(Validation.kind) != "route")
        .order_by(col(Validation.created_at).desc(), col(Validation.id).desc())
        .limit(HISTORY_SCAN)
    ).all()
    typed = [(v, checked(v)) for v in rows[:limit]]
    checks = tuple(_check(v, found) for v, found in typed)
    changes: list[LevelChange] = []
    for newer, older in itertools.pairwise(rows):
        if newer.verdict != older.verdict:
            assert newer.id is not None
            changes.append(
                LevelChange(
                    as_utc(newer.created_at),
                    Verdict(older.verdict),
                    Verdict(newer.verdict),
                    newer.id,
                )
            )
    item: MonitorItem | None = None
    alerts: tuple[OpenAlert, ...] = ()
    if policy is not None:
        assert policy.id is not None
        item = _item(session, SubjectKind.POLICY, policy.id)
        alerts = _open_alerts(session, SubjectKind.POLICY, policy.id)
    return DomainStatus(
        domain=name,
        policy_id=policy.id if policy else None,
        level=policy.level if policy else None,
        mode=policy.mode if policy else None,
        relaxed_until=watched_policy(policy).relaxed_end(relaxed_days) if policy else None,
        mx_hosts=tuple(policy.mx_hosts) if policy else (),
        last_checked_at=item.last_checked_at if item else None,
        next_check_at=item.next_check_at if item else None,
        checks=checks,
        level_changes=tuple(changes[:limit]),
        certificates=certificates(typed[0][1].result, now) if typed and typed[0][1] else (),
        open_alerts=alerts,
        partner=PartnerTls.from_dict((rows[0].result or {}).get("partner")) if rows else None,
    )


def _check(v: Validation, found: Checked | None) -> CheckRow:
    assert v.id is not None
    shown = found.result.reasons_to_show() if found is not None else ()
    return CheckRow(
        at=as_utc(v.created_at),
        verdict=Verdict(v.verdict),
        validation_id=v.id,
        checked_by=v.actor_name,
        mx=found.result.mx if found is not None else (),
        reason=shown[0] if shown else None,
    )


def certificates(result: TargetResult, now: datetime) -> tuple[CertificateRow, ...]:
    """The leaf certificates of a probe result, soonest expiry first (one per host)."""
    seen: dict[str, CertificateRow] = {}
    for host in result.hosts:
        cert = host.certificate
        if cert is None:
            continue
        not_after = as_utc(cert.not_after)
        row = CertificateRow(
            host=host.host,
            subject=cert.subject,
            issuer=cert.issuer,
            not_after=not_after,
            days_left=(not_after - now).days,
        )
        if row.host not in seen or row.not_after < seen[row.host].not_after:
            seen[row.host] = row
    return tuple(sorted(seen.values(), key=lambda r: (r.not_after, r.host)))


def _item(session: Session, kind: SubjectKind, subject_id: int) -> MonitorItem | None:
    return session.exec(
        select(MonitorItem).where(
            col(MonitorItem.subject) == kind.value, col(MonitorItem.subject_id) == subject_id
        )
    ).first()


def _open_alerts(session: Session, kind: SubjectKind, subject_id: int) -> tuple[OpenAlert, ...]:
    rows = session.exec(
        select(MonitorAlert)
        .where(
            col(MonitorAlert.subject) == kind.value,
            col(MonitorAlert.subject_id) == subject_id,
            col(MonitorAlert.resolved_at).is_(None),
        )
        .order_by(col(MonitorAlert.raised_at))
    ).all()
    return tuple(
        OpenAlert(
            r.id, r.condition, Severity(r.severity), str(r.payload.get("summary", "")), r.raised_at
        )
        for r in rows
    )


@dataclass(frozen=True, slots=True)
class RiskRow:
    kind: SubjectKind
    subject_id: int
    name: str
    severity: Severity | None  # of the worst open alert; None: nothing open
    alerts: tuple[str, ...]  # open conditions
    last_verdict: Verdict | None
    last_checked_at: datetime | None
    next_check_at: datetime

    @property
    def at_risk(self) -> bool:
        return self.severity in (Severity.CRITICAL, Severity.WARNING)


_SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2, None: 3}
_VERDICT_RANK = {
    Verdict.UNSUPPORTED: 0,
    Verdict.UNREACHABLE: 1,
    Verdict.RELAXED: 2,
    Verdict.STRICT: 3,
    None: 4,
}


def at_risk_first(*, session: Session, limit: int = 100) -> list[RiskRow]:
    """The ``limit`` watched policies and routes most at risk: worst open alert severity,
    then last verdict, then name.

    It costs what it shows, not what is watched: first the items with open alerts
    (ranked in the database, ``LIMIT``), then, if places are left, the others verdict
    by verdict from the ``(last_verdict, name)`` index.
    """
    open_only = col(MonitorAlert.resolved_at).is_(None)
    severity_rank = case(
        {s.value: r for s, r in _SEVERITY_RANK.items() if s is not None},
        value=col(MonitorAlert.severity),
        else_=_SEVERITY_RANK[None],
    )
    worst = (
        sa_select(
            col(MonitorAlert.subject).label("subject"),
            col(MonitorAlert.subject_id).label("subject_id"),
            func.min(severity_rank).label("rank"),
        )
        .where(open_only)
        .group_by(col(MonitorAlert.subject), col(MonitorAlert.subject_id))
        .subquery()
    )
    verdict_rank = case(
        {v.value: r for v, r in _VERDICT_RANK.items() if v is not None},
        value=col(MonitorItem.last_verdict),
        else_=_VERDICT_RANK[None],
    )
    alerted = session.exec(
        select(MonitorItem)
        .join(
            worst,
            and_(
                worst.c.subject == col(MonitorItem.subject),
                worst.c.subject_id == col(MonitorItem.subject_id),
            ),
        )
        .order_by(worst.c.rank, verdict_rank, col(MonitorItem.name), col(MonitorItem.id))
        .limit(limit)
    ).all()
    items = list(alerted)
    if len(items) < limit:
        has_open = (
            sa_select(col(MonitorAlert.id))
            .where(
                col(MonitorAlert.subject) == col(MonitorItem.subject),
                col(MonitorAlert.subject_id) == col(MonitorItem.subject_id),
                open_only,
            )
            .exists()
        )
        by_rank = sorted(_VERDICT_RANK.items(), key=lambda kv: kv[1])
        for verdict, _ in by_rank:
            left = limit - len(items)
            if left <= 0:
                break
            same = (
                col(MonitorItem.last_verdict).is_(None)
                if verdict is None
                else col(MonitorItem.last_verdict) == verdict.value
            )
            items.extend(
                session.exec(
                    select(MonitorItem)
                    .where(same, ~has_open)
                    .order_by(col(MonitorItem.name), col(MonitorItem.id))
                    .limit(left)
                ).all()
            )
    alerts = _open_conditions(session, items)
    rows = []
    for i in items:
        open_rows = alerts.get((i.subject, i.subject_id), [])
        severities = [Severity(sev) for _, sev in open_rows]
        rows.append(
            RiskRow(
                kind=SubjectKind(i.subject),
                subject_id=i.subject_id,
                name=i.name,
                severity=min(severities, key=lambda s: _SEVERITY_RANK[s]) if severities else None,
                alerts=tuple(sorted(condition for condition, _ in open_rows)),
                last_verdict=Verdict(i.last_verdict) if i.last_verdict else None,
                last_checked_at=i.last_checked_at,
                next_check_at=i.next_check_at,
            )
        )
    rows.sort(key=lambda r: (_SEVERITY_RANK[r.severity], _VERDICT_RANK[r.last_verdict], r.name))
    return rows[:limit]


# ---- /tls status: every policy, filtered, a page at a time


class ListFilter(enum.StrEnum):
    """What ``/tls status FILTER`` lists."""

    ALL = "all"
    STRICT = "strict"
    RELAXED = "relaxed"
    OBSERVE = "observe"
    AT_RISK = "at-risk"
    PREFIX = "prefix"  # domains that start with a given text


@dataclass(frozen=True, slots=True)
class Listing:
    """Which policies to list: a filter, and the prefix of :attr:`ListFilter.PREFIX`."""

    filter: ListFilter = ListFilter.ALL
    prefix: str = ""

    def encode(self) -> str:
        return f"prefix:{self.prefix}" if self.filter is ListFilter.PREFIX else self.filter.value

    @classmethod
    def parse(cls, text: str) -> Listing:
        """``strict``, ``relaxed``, ``observe``, ``at-risk``, ``all``, ``prefix:TEXT``, or a prefix.

        Raises :class:`InvalidInput` for a prefix that no domain could start with.
        """
        word = text.strip().lower()
        if word.startswith("prefix:"):
            word = word.removeprefix("prefix:")
        else:
            try:
                return cls(ListFilter(word or "all"))
            except ValueError:
                pass
        prefix = word.rstrip("*")
        if not prefix or not _PREFIX.fullmatch(prefix):
            raise InvalidInput(
                f"{text.strip()[:60]!r} is no filter (strict, relaxed, observe, at-risk) "
                "and no domain prefix."
            )
        return cls(ListFilter.PREFIX, prefix)

    def __str__(self) -> str:
        if self.filter is ListFilter.PREFIX:
            return f"starting with {self.prefix}"
        return {"all": "all", "at-risk": "at risk"}.get(self.filter.value, self.filter.value)


_PREFIX = re.compile(r"[a-z0-9][a-z0-9.-]{0,252}")
_RISKY_SEVERITIES = (Severity.CRITICAL.value, Severity.WARNING.value)
_FAILED = (Verdict.UNREACHABLE.value, Verdict.UNSUPPORTED.value)


@dataclass(frozen=True, slots=True)
class PolicyLine:
    """One policy in the ``/tls status`` list."""

    id: int
    domain: str
    level: str
    mode: str
    last_checked_at: datetime | None
    last_verdict: Verdict | None
    validation_id: int | None  # the newest validation the monitor or admission recorded
    days_left: int | None = None  # the soonest certificate expiry of that validation


def policy_listing(
    *, session: Session, listing: Listing, offset: int, limit: int, now: datetime
) -> tuple[tuple[PolicyLine, ...], int]:
    """One page of active policies matching ``listing``, by domain, and how many match.

    One paged query walks the ``domain_policy.domain`` index (the filter a ``WHERE`` on
    the policy, its monitor item or its alerts as subqueries; the total a window count);
    then one query each for the page's monitor items and validations (the certificate
    expiry). No join spans every policy, so the plan stays a page's work at 5,000
    policies, with or without fresh planner statistics (bench/status_listing.py).
    """
    query = sa_select(  # sqlmodel's select takes at most four columns
        col(DomainPolicy.id),
        col(DomainPolicy.domain),
        col(DomainPolicy.level),
        col(DomainPolicy.mode),
        col(DomainPolicy.validation_id),
        func.count().over(),
    ).where(col(DomainPolicy.status) == RecordStatus.ACTIVE)
    query = _filtered(query, listing)
    query = query.order_by(col(DomainPolicy.domain)).offset(max(offset, 0)).limit(limit)
    rows = session.execute(query).all()
    if not rows:
        return (), _count(session, listing) if offset else 0
    items = {
        i.subject_id: i
        for i in session.exec(
            select(MonitorItem).where(
                col(MonitorItem.subject) == SubjectKind.POLICY.value,
                col(MonitorItem.subject_id).in_([r[0] for r in rows]),
            )
        )
    }
    newest = {r[0]: _newest_validation(items.get(r[0]), r[4]) for r in rows}
    found = checked_by_id(session, newest.values())
    lines = []
    for pid, domain, level, mode, _, _ in rows:
        item, evidence = items.get(pid), found.get(newest[pid] or 0)
        days = [
            (as_utc(h.certificate.not_after) - now).days
            for h in (evidence.result.hosts if evidence else ())
            if h.certificate is not None
        ]
        lines.append(
            PolicyLine(
                pid,
                domain,
                level,
                mode,
                as_utc(item.last_checked_at) if item and item.last_checked_at else None,
                Verdict.parse(item.last_verdict) if item else None,
                newest[pid],
                min(days) if days else None,
            )
        )
    return tuple(lines), int(rows[0][5])


def _newest_validation(item: MonitorItem | None, admitted: int | None) -> int | None:
    """The monitor's last validation of a policy, else the one it was admitted with."""
    return item.last_validation_id if item and item.last_validation_id else admitted


def _filtered(query: Any, listing: Listing) -> Any:
    kind = listing.filter
    if kind in (ListFilter.STRICT, ListFilter.RELAXED):
        return query.where(col(DomainPolicy.level) == kind.value)
    if kind is ListFilter.OBSERVE:
        return query.where(col(DomainPolicy.mode) == "observe")
    if kind is ListFilter.PREFIX:
        escaped = listing.prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return query.where(col(DomainPolicy.domain).like(f"{escaped}%", escape="\\"))
    if kind is ListFilter.AT_RISK:
        alerted = select(MonitorAlert.subject_id).where(
            col(MonitorAlert.subject) == SubjectKind.POLICY.value,
            col(MonitorAlert.resolved_at).is_(None),
            col(MonitorAlert.severity).in_(_RISKY_SEVERITIES),
        )
        failed = select(MonitorItem.subject_id).where(
            col(MonitorItem.subject) == SubjectKind.POLICY.value,
            col(MonitorItem.last_verdict).in_(_FAILED),
        )
        return query.where(col(DomainPolicy.id).in_(alerted) | col(DomainPolicy.id).in_(failed))
    return query


def _count(session: Session, listing: Listing) -> int:
    query = select(func.count()).where(col(DomainPolicy.status) == RecordStatus.ACTIVE)
    return int(session.exec(_filtered(query, listing)).one())


def _open_conditions(
    session: Session, items: list[MonitorItem]
) -> dict[tuple[str, int], list[tuple[str, str]]]:
    """(condition, severity) of the open alerts of these (at most ``limit``) items."""
    by_kind: dict[str, list[int]] = {}
    for i in items:
        by_kind.setdefault(i.subject, []).append(i.subject_id)
    found: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for kind, ids in by_kind.items():
        for chunk in chunked(sorted(set(ids))):
            rows = session.execute(
                sa_select(
                    col(MonitorAlert.subject_id),
                    col(MonitorAlert.condition),
                    col(MonitorAlert.severity),
                ).where(
                    col(MonitorAlert.subject) == kind,
                    col(MonitorAlert.subject_id).in_(chunk),
                    col(MonitorAlert.resolved_at).is_(None),
                )
            )
            for subject_id, condition, severity in rows:
                found.setdefault((kind, int(subject_id)), []).append((condition, severity))
    return found
