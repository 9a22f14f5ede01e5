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
from bot.probe.model import Code, DaneStatus, Dnssec, HostResult, TargetResult, Verdict


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
    out[Condition.DNSSEC_DROPPED] = _dnssec_dropped(w, result)
    out[Condition.TLSA_BROKEN] = _tlsa_broken(w, result)
    out[Condition.STS_CHANGED] = _sts_changed(w, result)
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


def _published_fix(w: Watched, result: TargetResult) -> tuple[ActionId, ...]:
    """A downgrade's buttons; with *Upgrade* when the partner validates as strict now,
    which re-admits the policy as it validates (``secure match=`` instead of DANE)."""
    if result.verdict is Verdict.STRICT:
        return (ActionId.RECHECK, ActionId.UPGRADE, ActionId.RELAX, ActionId.SUSPEND)
    return _FIX


def _dnssec_dropped(w: Watched, result: TargetResult) -> Found:
    """Admitted with DNSSEC-signed MX records, and they no longer validate as secure."""
    if not w.partner.signed:
        return None
    if result.dnssec is None:  # no MX answer, or DNSSEC not checked: cannot tell
        return UNKNOWN
    if result.dnssec is Dnssec.SECURE:
        return None
    bogus = result.dnssec is Dnssec.BOGUS
    now_is = "fail DNSSEC validation (bogus)" if bogus else "are no longer DNSSEC-signed"
    if w.dane_only:
        impact = (
            f"mail to {w.name} is deferred: the policy is dane-only, which needs "
            f"DNSSEC-validated records; {QUEUE_NOTE}. Upgrade (when it validates as strict) "
            "publishes secure match= instead; Relax keeps mail flowing encrypted."
        )
    else:
        impact = (
            "DANE no longer protects mail to it, for us or any sender; tlsbot's published "
            "policy does not depend on DNSSEC, so mail still flows."
        )
    return Finding(
        Condition.DNSSEC_DROPPED,
        f"dnssec:{result.dnssec.value}",
        Severity.CRITICAL if w.dane_only else Severity.WARNING,
        f"The MX records of {w.name} {now_is}; they were signed when the policy was approved.",
        _impact(w, impact),
        tuple(r.message for r in result.reasons if r.code is Code.DNSSEC_INVALID),
        _actions(w, *_published_fix(w, result)),
    )


def _tlsa_broken(w: Watched, result: TargetResult) -> Found:
    """A DANE host whose TLSA records no longer match, no longer validate, or went away."""
    counted = [h for h in result.hosts if h.counted and h.dane is not None]
    if result.dnssec is not Dnssec.SECURE or not counted:
        return UNKNOWN if w.partner.dane else None
    broken = [h for h in counted if h.dane is not None and h.dane.status.problem]
    if w.partner.dane:  # admitted as DANE-verified: a host without TLSA is broken too
        broken += [
            h
            for h in counted
            if h.dane is not None
            and h.dane.status in (DaneStatus.NO_TLSA, DaneStatus.NOT_SIGNED)
            and h not in broken
        ]
    if not broken:
        return None
    fingerprint = ",".join(
        sorted({f"{h.host}:{h.dane.status.value}" for h in broken if h.dane is not None})
    )
    names = ", ".join(dict.fromkeys(h.host for h in broken))
    if w.dane_only:
        impact = (
            f"mail to {w.name} routed to {names} is deferred (dane-only); {QUEUE_NOTE}. "
            "This is what a certificate rollover without a TLSA update looks like: ask the "
            "partner to publish the new record, or Upgrade / Relax to keep mail flowing."
        )
    else:
        impact = (
            f"senders that use DANE will not deliver to {names}; tlsbot's published policy "
            "does not use DANE for this domain, so its mail still flows."
        )
    return Finding(
        Condition.TLSA_BROKEN,
        fingerprint,
        Severity.CRITICAL if w.dane_only else Severity.WARNING,
        f"DANE fails for {w.name}: {names}.",
        _impact(w, impact),
        tuple(f"{h.host}: {h.dane.message}" for h in broken if h.dane is not None),
        _actions(w, *_published_fix(w, result)),
    )


def _sts_changed(w: Watched, result: TargetResult) -> Found:
    """The MTA-STS policy's id, mode or mx patterns are not those the policy was admitted with."""
    admitted = w.partner
    if admitted.sts_id is None:
        return None
    extras = result.extras
    if extras.errors or (result.verdict is Verdict.UNREACHABLE and not result.hosts):
        return UNKNOWN
    now_id = extras.mta_sts_id
    if now_id is not None and now_id == admitted.sts_id and extras.mta_sts_mode is None:
        return UNKNOWN  # the same id, but the policy could not be fetched: cannot tell
    now = (now_id, extras.mta_sts_mode, tuple(extras.mta_sts_mx))
    then = (admitted.sts_id, admitted.sts_mode, admitted.sts_mx)
    if now == then:
        return None
    changes = []
    if now_id != admitted.sts_id:
        changes.append(f"id {admitted.sts_id} → {now_id or 'none'}")
    if extras.mta_sts_mode != admitted.sts_mode:
        changes.append(f"mode {admitted.sts_mode} → {extras.mta_sts_mode or 'none'}")
    if now[2] != then[2]:
        changes.append(f"mx {', '.join(then[2]) or '-'} → {', '.join(now[2]) or '-'}")
    uses_patterns = w.level is Verdict.STRICT and not w.match and not w.dane_only
    if uses_patterns:
        impact = (
            "the published secure match= still has the old mx patterns: mail to MX hosts "
            f"they no longer cover is deferred; {QUEUE_NOTE}. Re-check, then Upgrade to "
            "publish the new ones."
        )
    else:
        impact = (
            "tlsbot's published policy does not come from MTA-STS, so mail still flows; "
            "senders that honour MTA-STS now apply the new policy. Re-check it, and Upgrade "
            "to record it."
        )
    if extras.mta_sts_error is not None:
        impact += f" Now: {extras.mta_sts_error.message}"
    return Finding(
        Condition.STS_CHANGED,
        "|".join([now_id or "-", extras.mta_sts_mode or "-", ",".join(now[2])]),
        Severity.CRITICAL if uses_patterns and not w.observe else Severity.WARNING,
        f"{w.name} changed its MTA-STS policy: {'; '.join(changes)}.",
        _impact(w, impact),
        (
            f"approved with: id {admitted.sts_id}, mode {admitted.sts_mode}, "
            f"mx {', '.join(admitted.sts_mx) or '-'}",
        ),
        _actions(w, *_published_fix(w, result)),
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
