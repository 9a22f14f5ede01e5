"""Alerts from real mail, between probe checks: TLS deferrals of an enforced policy, TLS-RPT spikes.

Run by every sweep (so within a minute of ``tlsbot observe postfix`` committing
what Postfix logged), not on the probe's schedule:

- **traffic-deferred** — an *enforced* policy's real deliveries were deferred for
  TLS today or yesterday (UTC). The alert gives the count and Postfix's reason
  and offers *Relax to encrypt* (when the reason is the certificate and the policy
  is strict) and *Suspend policy*. Its fingerprint is the set of reasons, so a
  new reason is a new alert; it resolves once two days pass without one.
- **tlsrpt-failures** — TLS-RPT reports that ended in the last two days name one
  of our inbound routes' hosts as ``receiving-mx-hostname`` with at least
  ``tlsrpt_min_sessions`` failed sessions and ``tlsrpt_min_share`` of the
  sessions those reports counted: senders cannot deliver to it with TLS.

:func:`evidence_findings` is pure; :func:`check_evidence` loads the facts, runs
the same raise / keep / resolve step as a probe check
(:func:`bot.policy.monitor.machine.apply`) and writes the alerts, one item per
transaction with its row locked, so replicas sweeping at once raise each alert once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.policy.db import chunked
from bot.policy.evidence.reports import HostFailures, failures_by_host
from bot.policy.evidence.traffic import deferrals_since
from bot.policy.monitor.alerts import (
    ActionId,
    Alert,
    Condition,
    Severity,
    SubjectKind,
    Thresholds,
    Watched,
)
from bot.policy.monitor.machine import Outcome, apply
from bot.policy.monitor.models import MonitorAlert, MonitorItem
from bot.policy.monitor.rules import QUEUE_NOTE, Finding, Found
from bot.policy.monitor.store import _write_alerts, load_state, load_watched
from bot.probe.model import Verdict
from bot.probe.names import parse_route

EVIDENCE_CONDITIONS = (Condition.TRAFFIC_DEFERRED, Condition.TLSRPT_FAILURES)
DEFERRAL_DAYS = 2  # today and yesterday
REPORT_WINDOW = timedelta(days=2)

_WHY = {
    "tls-not-offered": "the server did not offer TLS (or refused STARTTLS)",
    "certificate-not-verified": "the server certificate could not be verified",
    "tls-handshake-failed": "the TLS handshake failed",
    "other-tls": "another TLS requirement was not met",
}


def evidence_findings(
    w: Watched,
    deferred: Mapping[str, int] | None,
    host: HostFailures | None,
    t: Thresholds,
) -> dict[Condition, Found]:
    if w.kind is SubjectKind.ROUTE:
        return {Condition.TLSRPT_FAILURES: _tlsrpt(w, host, t)}
    return {Condition.TRAFFIC_DEFERRED: _deferred(w, deferred)}


def _deferred(w: Watched, deferred: Mapping[str, int] | None) -> Found:
    if w.observe or not deferred or not sum(deferred.values()):
        return None
    total = sum(deferred.values())
    reasons = sorted(deferred)
    lines = tuple(f"{deferred[r]:,} × {r}: {_WHY.get(r, r)}" for r in reasons)
    actions: tuple[ActionId, ...] = (ActionId.SUSPEND, ActionId.RECHECK)
    if w.level is Verdict.STRICT and "certificate-not-verified" in deferred:
        actions = (ActionId.RELAX, *actions)
    return Finding(
        Condition.TRAFFIC_DEFERRED,
        "reasons:" + ",".join(reasons),
        Severity.CRITICAL,
        f"Postfix deferred {total:,} message(s) to {w.name} for TLS since yesterday "
        f"({', '.join(reasons)}).",
        f"real mail to {w.name} is waiting in the queue because the enforced policy's TLS "
        f"requirement fails; {QUEUE_NOTE}. Relaxing to encrypt keeps mail flowing when only "
        "the certificate fails; suspending publishes no requirement (opportunistic TLS).",
        lines,
        actions,
    )


def _tlsrpt(w: Watched, host: HostFailures | None, t: Thresholds) -> Found:
    if host is None or host.failed < t.tlsrpt_min_sessions or host.share < t.tlsrpt_min_share:
        return None
    types = sorted(host.by_type)
    return Finding(
        Condition.TLSRPT_FAILURES,
        "types:" + ",".join(types),
        Severity.CRITICAL,
        f"TLS-RPT reports: {host.failed:,} of {host.total:,} sessions to {host.host} failed "
        f"({host.share:.0%}) in the last two days.",
        "Senders that enforce TLS towards us (MTA-STS, DANE) defer or bounce mail sent to "
        "this route; the others may fall back to plaintext.",
        (
            *(f"{host.by_type[k]:,} × {k}" for k in types),
            f"reported by {', '.join(host.reporters)}",
        ),
        (ActionId.RECHECK,),
    )


def check_evidence(*, session: Session, now: datetime, thresholds: Thresholds) -> list[Alert]:
    """Raise and resolve the alerts from real mail; returns those raised and resolved."""
    since = now.date() - timedelta(days=DEFERRAL_DAYS - 1)
    deferred = deferrals_since(session=session, domains=None, since=since)
    hosts = failures_by_host(session=session, since=now - REPORT_WINDOW, until=now)
    watched: dict[int, Watched] = {}
    for item in _candidates(session, deferred):
        w = load_watched(session, SubjectKind(item.subject), item.subject_id)
        if w is not None and item.id is not None:
            watched[item.id] = w
    session.rollback()  # end the read; each item is written in its own transaction
    changed: list[Alert] = []
    for item_id, w in watched.items():
        host = None
        if w.kind is SubjectKind.ROUTE:
            host = hosts.get(parse_route(w.name)[0].lower().rstrip("."))
        found = evidence_findings(w, deferred.get(w.name), host, thresholds)
        changed += _record(session, item_id, w, found, now)
    return changed


def _candidates(session: Session, deferred: Mapping[str, object]) -> list[MonitorItem]:
    """The items real mail can change: policies of domains with deferrals, every route
    (few; TLS-RPT speaks of our MX hosts), and items with an open real-mail alert (to
    resolve). An idle sweep reads what has evidence, not every policy (issue 17)."""
    found: dict[int, MonitorItem] = {}
    for chunk in chunked(sorted(deferred)):
        for item in session.exec(
            select(MonitorItem).where(
                col(MonitorItem.subject) == SubjectKind.POLICY.value,
                col(MonitorItem.name).in_(chunk),
            )
        ):
            found[item.id or 0] = item
    for item in session.exec(
        select(MonitorItem).where(col(MonitorItem.subject) == SubjectKind.ROUTE.value)
    ):
        found[item.id or 0] = item
    alerted = select(MonitorAlert.subject, MonitorAlert.subject_id).where(
        col(MonitorAlert.resolved_at).is_(None),
        col(MonitorAlert.condition).in_(_EVIDENCE_CONDITIONS),
    )
    for subject, subject_id in session.exec(alerted):
        for item in session.exec(
            select(MonitorItem).where(
                col(MonitorItem.subject) == subject, col(MonitorItem.subject_id) == subject_id
            )
        ):
            found[item.id or 0] = item
    return list(found.values())


_EVIDENCE_CONDITIONS = (Condition.TRAFFIC_DEFERRED.value, Condition.TLSRPT_FAILURES.value)


def _record(
    session: Session, item_id: int, w: Watched, found: dict[Condition, Found], now: datetime
) -> list[Alert]:
    item = session.exec(
        select(MonitorItem).where(col(MonitorItem.id) == item_id).with_for_update()
    ).one_or_none()
    if item is None:
        session.rollback()
        return []
    state = load_state(session, item)
    step = apply(w, state.open, found, now, {}, lambda c, old: _recovery(c, w))
    if not (step.raised or step.resolved or step.superseded):
        session.rollback()
        return []
    outcome = Outcome(state, step.raised, step.resolved, step.superseded)
    try:
        _write_alerts(session, outcome, validation_id=None)
        session.commit()
    except IntegrityError:  # another replica raised it a moment ago
        session.rollback()
        return []
    return [*step.raised, *step.resolved]


def _recovery(condition: Condition, w: Watched) -> str:
    if condition is Condition.TRAFFIC_DEFERRED:
        if w.observe:
            return f"Resolved: the policy for {w.name} is suspended (observe mode)."
        return f"Recovered: no delivery to {w.name} was deferred for TLS for two days."
    return f"Recovered: TLS-RPT reports no longer show a failure spike for {w.name}."
