"""The alert state machine: previous state + new check + clock → alerts to raise and to clear.

Pure. For each condition the rules report (see :mod:`bot.policy.monitor.rules`):

- holds, none open → **raise** it;
- holds, open with the same fingerprint → nothing (no repeat every cycle);
- holds with another fingerprint (another certificate expiring, another host
  outside the match list) → the old one is **superseded** (closed quietly) and the
  new one raised;
- does not hold, open → **resolve** it (the follow-up message);
- unknown (this check could not tell) → nothing changes.

:func:`close_all` clears everything when an item stops being watched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.policy.evidence.traffic import Traffic
from bot.policy.monitor.alerts import Alert, Condition, Thresholds, Watched, WatchState
from bot.policy.monitor.rules import Finding, Found, clean_since, findings, unreachable_streak
from bot.probe.model import TargetResult, Verdict


@dataclass(frozen=True, slots=True)
class Outcome:
    state: WatchState
    raised: tuple[Alert, ...] = ()
    resolved: tuple[Alert, ...] = ()
    superseded: tuple[Alert, ...] = field(default=())


def evaluate(
    w: Watched,
    state: WatchState,
    result: TargetResult,
    now: datetime,
    thresholds: Thresholds,
    *,
    evidence: Mapping[str, Any] | None = None,
    traffic: Traffic | None = None,
) -> Outcome:
    """One probe check. ``traffic``: what real mail got lately (observe mode's second test)."""
    found = findings(w, state, result, now, thresholds, traffic=traffic)
    evidence = dict(evidence if evidence is not None else result.to_dict())
    step = apply(
        w,
        state.open,
        found,
        now,
        evidence,
        lambda condition, old: recovery(condition, w, result, old, traffic),
    )
    next_state = WatchState(
        open=step.still_open,
        unreachable_streak=unreachable_streak(state, result),
        clean_since=clean_since(w, state, result, now) if w.observe else None,
        last_verdict=result.verdict,
    )
    return Outcome(next_state, step.raised, step.resolved, step.superseded)


@dataclass(frozen=True, slots=True)
class Step:
    still_open: dict[Condition, Alert]
    raised: tuple[Alert, ...]
    resolved: tuple[Alert, ...]
    superseded: tuple[Alert, ...]


def apply(
    w: Watched,
    open_alerts: Mapping[Condition, Alert],
    found: Mapping[Condition, Found],
    now: datetime,
    evidence: Mapping[str, Any],
    recover: Callable[[Condition, Alert], str],
) -> Step:
    """Raise, keep, supersede or resolve, condition by condition.

    A condition ``found`` does not mention is another source's (the probe's, or real
    mail's): whatever is open for it stays open.
    """
    still_open: dict[Condition, Alert] = {}
    raised: list[Alert] = []
    resolved: list[Alert] = []
    superseded: list[Alert] = []
    for condition in Condition:
        old = open_alerts.get(condition)
        if condition not in found:
            if old is not None:
                still_open[condition] = old
            continue
        new = found[condition]
        if isinstance(new, Finding):
            if old is not None and old.fingerprint == new.fingerprint:
                still_open[condition] = old
                continue
            if old is not None:
                superseded.append(old.resolve(now, "superseded by a newer alert"))
            alert = _alert(w, new, now, evidence)
            raised.append(alert)
            still_open[condition] = alert
        elif new is None:
            if old is not None:
                resolved.append(old.resolve(now, recover(condition, old)))
        elif old is not None:  # unknown: keep what was open
            still_open[condition] = old
    return Step(still_open, tuple(raised), tuple(resolved), tuple(superseded))


def close_all(state: WatchState, now: datetime, reason: str) -> Outcome:
    """The item is no longer watched (deleted, suspended): clear its open alerts."""
    resolved = tuple(a.resolve(now, reason) for a in state.open.values())
    return Outcome(WatchState(), (), resolved, ())


def _alert(w: Watched, f: Finding, now: datetime, evidence: Mapping[str, Any]) -> Alert:
    return Alert(
        subject=w.kind,
        subject_id=w.id,
        subject_name=w.name,
        condition=f.condition,
        fingerprint=f.fingerprint,
        severity=f.severity,
        summary=f.summary,
        mail_impact=f.mail_impact,
        details=f.details,
        actions=f.actions,
        raised_at=now,
        evidence=evidence,
    )


def recovery(
    condition: Condition,
    w: Watched,
    result: TargetResult,
    old: Alert,
    traffic: Traffic | None = None,
) -> str:
    """The follow-up sentence when a condition no longer holds."""
    verdict = result.verdict
    match condition:
        case Condition.LEVEL_DROP | Condition.ROUTE_DEGRADED:
            if not old.fingerprint.startswith(f"{w.level.value}->"):
                return f"Resolved: the policy for {w.name} is now {w.level.label}."
            return f"Recovered: {w.name} validates as {verdict.label} again."
        case Condition.UNREACHABLE:
            return f"Recovered: {w.name} could be tested again ({verdict.label})."
        case Condition.CERT_EXPIRING:
            return f"Recovered: the certificate of {w.name} was renewed."
        case Condition.MX_NOT_COVERED:
            return f"Recovered: every MX host of {w.name} is covered by the published match list."
        case Condition.RELAXED_LAPSING:
            if w.level is Verdict.STRICT:
                return f"Resolved: {w.name} was upgraded to {Verdict.STRICT.label}."
            return f"Resolved: the relaxed policy for {w.name} was renewed."
        case Condition.UPGRADE_AVAILABLE:
            if w.level is Verdict.STRICT:
                return f"Resolved: {w.name} was upgraded to {Verdict.STRICT.label}."
            return f"{w.name} no longer validates as {Verdict.STRICT.label} ({verdict.label})."
        case Condition.OBSERVE_READY:
            if not w.observe:
                return f"Resolved: the policy for {w.name} is now enforced."
            if verdict.ok and traffic is not None and not traffic.clean_for(w.level.value):
                return (
                    f"Real mail to {w.name} is no longer clean ({traffic.summary()}); "
                    "the observation restarts."
                )
            return (
                f"{w.name} no longer validates cleanly ({verdict.label}); the observation restarts."
            )
        case _:
            return f"Resolved: {old.summary}"
