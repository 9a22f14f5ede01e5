"""Plain-data queries for Slack: ``/tls status DOMAIN`` and the App Home's "at risk first" list.

Nothing here renders; the Slack layer turns these frozen values into blocks.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bot.clock import as_utc
from bot.policy.errors import InvalidInput
from bot.policy.models import DomainPolicy, Validation
from bot.policy.monitor.alerts import Severity, SubjectKind
from bot.policy.monitor.models import MonitorAlert, MonitorItem
from bot.policy.monitor.store import watched_policy
from bot.policy.types import RecordStatus
from bot.probe.model import Verdict
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
    checks = tuple(_check(v) for v in rows[:limit])
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
        certificates=certificates(rows[0].result, now) if rows else (),
        open_alerts=alerts,
        partner=PartnerTls.from_dict((rows[0].result or {}).get("partner")) if rows else None,
    )


def _check(v: Validation) -> CheckRow:
    assert v.id is not None
    result = v.result or {}
    reasons = [r.get("message") for r in result.get("reasons") or []]
    for h in result.get("hosts") or []:
        reasons += [r.get("message") for r in h.get("reasons") or []]
    return CheckRow(
        at=as_utc(v.created_at),
        verdict=Verdict(v.verdict),
        validation_id=v.id,
        checked_by=v.actor_name,
        mx=tuple(result.get("mx") or ()),
        reason=next((r for r in reasons if r), None),
    )


def certificates(result: dict[str, object], now: datetime) -> tuple[CertificateRow, ...]:
    """The leaf certificates in a stored probe result, soonest expiry first (one per host)."""
    seen: dict[str, CertificateRow] = {}
    hosts = result.get("hosts")
    for h in hosts if isinstance(hosts, list) else []:
        cert = h.get("certificate") if isinstance(h, dict) else None
        if not isinstance(cert, dict) or not cert.get("not_after"):
            continue
        not_after = as_utc(datetime.fromisoformat(str(cert["not_after"])))
        row = CertificateRow(
            host=str(h.get("host")),
            subject=str(cert.get("subject", "")),
            issuer=str(cert.get("issuer", "")),
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
    """Every watched policy and route, worst first: open alert severity, then last verdict."""
    items = session.exec(select(MonitorItem)).all()
    open_rows = session.exec(
        select(MonitorAlert).where(col(MonitorAlert.resolved_at).is_(None))
    ).all()
    by_item: dict[tuple[str, int], list[MonitorAlert]] = {}
    for a in open_rows:
        by_item.setdefault((a.subject, a.subject_id), []).append(a)
    rows = []
    for i in items:
        alerts = by_item.get((i.subject, i.subject_id), [])
        severities = [Severity(a.severity) for a in alerts]
        worst = min(severities, key=lambda s: _SEVERITY_RANK[s]) if severities else None
        rows.append(
            RiskRow(
                kind=SubjectKind(i.subject),
                subject_id=i.subject_id,
                name=i.name,
                severity=worst,
                alerts=tuple(sorted(a.condition for a in alerts)),
                last_verdict=Verdict(i.last_verdict) if i.last_verdict else None,
                last_checked_at=i.last_checked_at,
                next_check_at=i.next_check_at,
            )
        )
    rows.sort(key=lambda r: (_SEVERITY_RANK[r.severity], _VERDICT_RANK[r.last_verdict], r.name))
    return rows[:limit]
