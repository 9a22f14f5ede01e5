"""TLS-RPT reports in the store: each once per ``report-id``, and what they say about MX hosts.

:func:`store_report` writes a validated report with its policies and failure
details in one transaction; a report whose ``report-id`` is already stored is a
duplicate (:attr:`Stored.duplicate`), acknowledged and ignored — a sender that
retries a POST, or the same mail read twice, changes nothing. The unique index
decides, so two replicas receiving the same report at once store it once.

:func:`failures_by_host` sums, per receiving MX host, the failed sessions of the
reports that ended in a window, with the session totals of the policies that
reported them (the monitor's inbound-route alert).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.policy.evidence.models import TlsReport, TlsReportFailure, TlsReportPolicy
from bot.policy.evidence.tlsrpt import Report


@dataclass(frozen=True, slots=True)
class Stored:
    report_id: str
    duplicate: bool


def store_report(*, session: Session, report: Report, via: str, now: datetime) -> Stored:
    if _exists(session, report.report_id):
        return Stored(report.report_id, duplicate=True)
    row = TlsReport(
        report_id=report.report_id,
        organization=report.organization[:500],
        contact_info=report.contact_info[:500] if report.contact_info else None,
        start_at=report.start,
        end_at=report.end,
        via=via,
        successful=report.successful,
        failed=report.failed,
        report=dict(report.raw),
        received_at=now,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # stored by someone else a moment ago
        session.rollback()
        return Stored(report.report_id, duplicate=True)
    assert row.id is not None
    for policy in report.policies:
        session.add(
            TlsReportPolicy(
                report_pk=row.id,
                policy_domain=policy.policy_domain[:253],
                policy_type=policy.policy_type,
                mx_hosts=list(policy.mx_hosts),
                successful=policy.successful,
                failed=policy.failed,
            )
        )
        for failure in policy.failures:
            session.add(
                TlsReportFailure(
                    report_pk=row.id,
                    policy_domain=policy.policy_domain[:253],
                    mx_host=failure.mx_host[:253] if failure.mx_host else None,
                    receiving_ip=failure.receiving_ip,
                    sending_ip=failure.sending_ip,
                    result_type=failure.result_type[:64],
                    sessions=failure.sessions,
                    end_at=report.end,
                )
            )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return Stored(report.report_id, duplicate=True)
    return Stored(report.report_id, duplicate=False)


def _exists(session: Session, report_id: str) -> bool:
    found = session.exec(select(TlsReport.id).where(col(TlsReport.report_id) == report_id))
    return found.first() is not None


@dataclass(frozen=True, slots=True)
class HostFailures:
    """What the reports of a window say about one of our MX hosts."""

    host: str
    failed: int = 0  # failed sessions naming this host
    total: int = 0  # all sessions of the policies that reported them
    by_type: dict[str, int] = field(default_factory=dict)
    reporters: tuple[str, ...] = ()

    @property
    def share(self) -> float:
        return self.failed / self.total if self.total else 1.0


def failures_by_host(
    *, session: Session, since: datetime, until: datetime
) -> dict[str, HostFailures]:
    """Per MX host named in failure details of reports ending in (``since``, ``until``]."""
    rows = session.exec(
        select(TlsReportFailure, TlsReport.organization)
        .join(TlsReport, col(TlsReport.id) == col(TlsReportFailure.report_pk))
        .where(col(TlsReportFailure.end_at) > since, col(TlsReportFailure.end_at) <= until)
        .where(col(TlsReportFailure.mx_host).is_not(None))
    ).all()
    failed: dict[str, int] = {}
    types: dict[str, dict[str, int]] = {}
    orgs: dict[str, set[str]] = {}
    policies: dict[str, set[tuple[int, str]]] = {}
    for failure, organization in rows:
        host = failure.mx_host or ""
        failed[host] = failed.get(host, 0) + failure.sessions
        by_type = types.setdefault(host, {})
        by_type[failure.result_type] = by_type.get(failure.result_type, 0) + failure.sessions
        orgs.setdefault(host, set()).add(organization)
        policies.setdefault(host, set()).add((failure.report_pk, failure.policy_domain))
    out = {}
    for host, keys in policies.items():
        total = sum(_sessions(session, report_pk, domain) for report_pk, domain in keys)
        out[host] = HostFailures(host, failed[host], total, types[host], tuple(sorted(orgs[host])))
    return out


def _sessions(session: Session, report_pk: int, domain: str) -> int:
    rows = session.exec(
        select(TlsReportPolicy).where(
            col(TlsReportPolicy.report_pk) == report_pk,
            col(TlsReportPolicy.policy_domain) == domain,
        )
    )
    return sum(p.successful + p.failed for p in rows)
