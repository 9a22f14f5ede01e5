"""What one check shows about one watched item: a pure function from facts to findings.

``findings(watched, state, result, now, thresholds)`` returns, for each
:class:`Condition`, either a :class:`Finding` (the condition holds), ``None`` (it
does not) or :data:`UNKNOWN` (this check could not tell — e.g. the hosts that
would show it could not be reached — so whatever was open stays open). Every
finding says in one sentence what will happen to mail; in observe mode that is
"nothing yet", with what would happen once enforced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from bot.clock import as_utc
from bot.policy.evidence.traffic import Traffic
from bot.policy.monitor.alerts import (
    ActionId,
    Condition,
    Severity,
    SubjectKind,
    Thresholds,
    Watched,
    WatchState,
)
from bot.probe.model import HostResult, TargetResult, Verdict


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()

QUEUE_NOTE = (
    "Postfix keeps retrying and bounces it after maximal_queue_lifetime (5 days by default)"
)


@dataclass(frozen=True, slots=True)
class Finding:
    condition: Condition
    fingerprint: str
    severity: Severity
    summary: str
    mail_impact: str
    details: tuple[str, ...] = ()
    actions: tuple[ActionId, ...] = ()


Found = Finding | None | _Unknown

_FIX = (ActionId.RECHECK, ActionId.RELAX, ActionId.SUSPEND)


def findings(
    w: Watched,
    state: WatchState,
    result: TargetResult,
    now: datetime,
    t: Thresholds,
    *,
    traffic: Traffic | None = None,
) -> dict[Condition, Found]:
    out: dict[Condition, Found] = {
        Condition.UNREACHABLE: _unreachable(w, state, result, t),
        Condition.CERT_EXPIRING: _expiring(w, result, now, t),
    }
    if w.kind is SubjectKind.ROUTE:
        out[Condition.ROUTE_DEGRADED] = _degraded(w, result)
        return out
    out[Condition.LEVEL_DROP] = _degraded(w, result)
    out[Condition.MX_NOT_COVERED] = _mx_not_covered(w, result)
    out[Condition.RELAXED_LAPSING] = _relaxed_lapsing(w, result, now, t)
    out[Condition.UPGRADE_AVAILABLE] = _upgrade(w, result)
    out[Condition.OBSERVE_READY] = _observe_ready(w, state, result, now, t, traffic)
    return out


def unreachable_streak(state: WatchState, result: TargetResult) -> int:
    return state.unreachable_streak + 1 if result.verdict is Verdict.UNREACHABLE else 0


def is_clean(w: Watched, result: TargetResult) -> bool:
    """Validated at (or above) the admitted level, every MX host covered."""
    return (
        result.verdict.ok and result.verdict.rank <= w.level.rank and not _outside_match(w, result)
    )


def clean_since(
    w: Watched, state: WatchState, result: TargetResult, now: datetime
) -> datetime | None:
    if not is_clean(w, result):
        return None
    if state.clean_since is not None:
        return state.clean_since
    if state.last_verdict is None and w.created_at is not None:
        return as_utc(w.created_at)  # admitted on a clean validation
    return now


def _impact(w: Watched, enforced: str) -> str:
    if w.kind is SubjectKind.POLICY and w.observe:
        return (
            "Nothing yet: the policy is in observe mode and not published. "
            f"Once enforced: {enforced}"
        )
    return enforced


def _actions(w: Watched, *actions: ActionId) -> tuple[ActionId, ...]:
    """Routes offer only Re-check: relaxing or suspending them is not a policy change."""
    return actions if w.kind is SubjectKind.POLICY else (ActionId.RECHECK,)


def _reached(result: TargetResult) -> list[HostResult]:
    return [h for h in result.hosts if h.verdict is not Verdict.UNREACHABLE]


def _host_line(h: HostResult) -> str:
    reason = f" — {h.reasons[0].message}" if h.reasons else ""
    where = f" ({h.address})" if h.address else ""
    return f"{h.host}{where}: {h.verdict.label}{reason}"


def _unreachable(w: Watched, state: WatchState, result: TargetResult, t: Thresholds) -> Found:
    streak = unreachable_streak(state, result)
    if streak < t.unreachable_checks:
        return None
    lines = tuple(_host_line(h) for h in result.hosts if h.verdict is Verdict.UNREACHABLE)
    lines += tuple(r.message for r in result.reasons)
    return Finding(
        Condition.UNREACHABLE,
        "unreachable",
        Severity.WARNING,
        f"{w.name} could not be tested on {streak} consecutive checks.",
        _impact(
            w,
            "if the gateway cannot reach it either, mail waits in the queue; "
            f"{QUEUE_NOTE}. If only the bot is cut off, mail is unaffected.",
        ),
        lines,
        _actions(w, ActionId.RECHECK, ActionId.SUSPEND),
    )


def _degraded(w: Watched, result: TargetResult) -> Found:
    reached = _reached(result)
    seen = Verdict.worst([h.verdict for h in reached]) if reached else result.verdict
    if result.verdict is Verdict.UNSUPPORTED:
        seen = Verdict.UNSUPPORTED
    if seen is Verdict.UNREACHABLE or seen.rank <= w.level.rank:
        return UNKNOWN if result.verdict is Verdict.UNREACHABLE else None
    bad = tuple(_host_line(h) for h in reached if h.verdict.rank > w.level.rank)
    bad += tuple(r.message for r in result.reasons)
    if w.kind is SubjectKind.ROUTE:
        return Finding(
            Condition.ROUTE_DEGRADED,
            f"{w.level.value}->{seen.value}",
            Severity.CRITICAL,
            f"Inbound route {w.name} dropped from {w.level.label} to {seen.label}.",
            "Partners that enforce TLS towards us will defer mail sent to this route"
            + (
                ", and policy domains cannot deliver to it at all."
                if seen is Verdict.UNSUPPORTED
                else "."
            ),
            bad,
            (ActionId.RECHECK,),
        )
    if seen is Verdict.UNSUPPORTED:
        impact = f"mail to {w.name} cannot be delivered with TLS and is deferred; {QUEUE_NOTE}."
    else:
        impact = (
            f"the certificate no longer verifies, so mail to {w.name} is deferred; {QUEUE_NOTE}. "
            "Relaxing to encrypt keeps mail flowing (encrypted, certificate not checked)."
        )
    return Finding(
        Condition.LEVEL_DROP,
        f"{w.level.value}->{seen.value}",
        Severity.CRITICAL if not w.observe else Severity.WARNING,
        f"{w.name} dropped from {w.level.label} to {seen.label}.",
        _impact(w, impact),
        bad,
        _FIX if seen is Verdict.RELAXED else (ActionId.RECHECK, ActionId.SUSPEND),
    )


def _expiring(w: Watched, result: TargetResult, now: datetime, t: Thresholds) -> Found:
    limit = now + timedelta(days=t.expiry_warn_days)
    soon = sorted(
        (h for h in _reached(result) if h.certificate and as_utc(h.certificate.not_after) <= limit),
        key=lambda h: (h.host, h.address or ""),
    )
    if not soon:
        return UNKNOWN if result.verdict is Verdict.UNREACHABLE else None
    certs = {h.certificate.sha256 for h in soon if h.certificate}
    first = min(as_utc(h.certificate.not_after) for h in soon if h.certificate)
    days = (first - now).days
    when = f"expired {-days} day(s) ago" if first <= now else f"expires in {days} day(s)"
    lines = tuple(
        f"{h.host}: certificate {h.certificate.subject} expires "
        f"{h.certificate.not_after:%Y-%m-%d %H:%M} UTC"
        for h in soon
        if h.certificate
    )
    strict_enforced = w.level is Verdict.STRICT
    if w.kind is SubjectKind.ROUTE:
        impact = "partners that verify our certificate defer mail to this route once it expires."
    elif strict_enforced:
        impact = (
            f"once it expires, mail to {w.name} is deferred (the certificate no longer "
            f"verifies); {QUEUE_NOTE}."
        )
    else:
        impact = "relaxed mode does not check the certificate, so mail keeps flowing."
    return Finding(
        Condition.CERT_EXPIRING,
        ",".join(sorted(certs)),
        Severity.WARNING if strict_enforced or w.kind is SubjectKind.ROUTE else Severity.INFO,
        f"A certificate of {w.name} {when} ({first:%Y-%m-%d}).",
        _impact(w, impact),
        lines,
        _actions(w, *_FIX),
    )


def covered(host: str, match: tuple[str, ...]) -> bool:
    """Postfix match= semantics for names: exact, or ``.parent`` for any sub-domain."""
    name = host.lower().rstrip(".")
    for entry in (m.lower().rstrip(".") for m in match):
        if name == entry or (entry.startswith(".") and name.endswith(entry)):
            return True
    return False


def _outside_match(w: Watched, result: TargetResult) -> tuple[str, ...]:
    if w.kind is not SubjectKind.POLICY or w.level is not Verdict.STRICT or not w.match:
        return ()
    return tuple(h for h in result.mx if not covered(h, w.match))


def _mx_not_covered(w: Watched, result: TargetResult) -> Found:
    if w.level is not Verdict.STRICT or not w.match:
        return None
    if not result.mx:
        return UNKNOWN
    outside = _outside_match(w, result)
    if not outside:
        return None
    return Finding(
        Condition.MX_NOT_COVERED,
        ",".join(sorted(outside)),
        Severity.CRITICAL if not w.observe else Severity.WARNING,
        f"{w.name} now lists MX host(s) outside the published match list: {', '.join(outside)}.",
        _impact(
            w,
            f"mail routed to {', '.join(outside)} is deferred because its certificate cannot "
            f"match the policy; {QUEUE_NOTE}. Re-validate the domain and approve the new list.",
        ),
        (f"published: {', '.join(w.match)}", f"MX now: {', '.join(result.mx)}"),
        _FIX,
    )


def _relaxed_lapsing(w: Watched, result: TargetResult, now: datetime, t: Thresholds) -> Found:
    end = w.relaxed_end(t.relaxed_days)
    if end is None:
        return None
    until = as_utc(end)
    actions: tuple[ActionId, ...] = (ActionId.RELAX, ActionId.RECHECK, ActionId.SUSPEND)
    if result.verdict is Verdict.STRICT:
        actions = (ActionId.UPGRADE, *actions)
    if now >= until:
        return Finding(
            Condition.RELAXED_LAPSING,
            f"lapsed:{until.isoformat()}",
            Severity.CRITICAL,
            f"The relaxed policy for {w.name} lapsed on {until:%Y-%m-%d}.",
            _impact(
                w,
                "nothing changes by itself: the policy stays published as Relaxed Encryption "
                "Mode (encrypted, certificate not checked), but nobody has re-decided it. "
                "Renew it (Relax), upgrade it, or suspend it.",
            ),
            (),
            actions,
        )
    if until - now > timedelta(days=t.relaxed_remind_days):
        return None
    return Finding(
        Condition.RELAXED_LAPSING,
        f"lapsing:{until.isoformat()}",
        Severity.WARNING,
        f"The relaxed policy for {w.name} lapses in {(until - now).days} day(s), "
        f"on {until:%Y-%m-%d}.",
        _impact(
            w,
            "mail keeps flowing encrypted (certificate not checked); when the period ends "
            "the policy stays as it is and this alert escalates. Renew it (Relax), or "
            "upgrade to strict if the partner fixed their certificate.",
        ),
        (),
        actions,
    )


def _upgrade(w: Watched, result: TargetResult) -> Found:
    if w.level is not Verdict.RELAXED:
        return None
    if result.verdict is Verdict.UNREACHABLE:
        return UNKNOWN
    if result.verdict is not Verdict.STRICT:
        return None
    return Finding(
        Condition.UPGRADE_AVAILABLE,
        "strict:" + ",".join(sorted(h.lower() for h in result.validated_hosts)),
        Severity.INFO,
        f"{w.name} now validates as {Verdict.STRICT.label}; the policy can be upgraded.",
        _impact(
            w, "nothing changes until the upgrade is approved; then certificates are verified."
        ),
        tuple(_host_line(h) for h in result.hosts),
        (ActionId.UPGRADE, ActionId.RECHECK),
    )


def _observe_ready(
    w: Watched,
    state: WatchState,
    result: TargetResult,
    now: datetime,
    t: Thresholds,
    traffic: Traffic | None,
) -> Found:
    """Probes clean for the observe days — and real mail too, when Postfix's log is read.

    ``traffic`` covers the last ``observe_days`` days: one delivery below the level the
    policy would enforce (plaintext, or an untrusted certificate for a strict policy)
    or one TLS deferral in that window holds the proposal back. No traffic seen is no
    evidence against: the probe alone decides then, as without the log.
    """
    if not w.observe:
        return None
    since = clean_since(w, state, result, now)
    if since is None or now - since < timedelta(days=t.observe_days):
        return None
    if traffic is not None and not traffic.clean_for(w.level.value):
        return None
    seen = traffic is not None and (traffic.deliveries or traffic.deferrals)
    details = (traffic.summary(),) if traffic is not None and seen else ()
    return Finding(
        Condition.OBSERVE_READY,
        f"clean-since:{since.isoformat()}",
        Severity.INFO,
        f"{w.name} has validated cleanly for {(now - since).days} day(s) in observe mode"
        + (" and real mail to it was clean" if seen else "")
        + "; enforcement is proposed.",
        "Nothing until the change request is approved; then the policy is published "
        "and TLS enforced.",
        details,
        (ActionId.ENFORCE, ActionId.RECHECK),
    )
