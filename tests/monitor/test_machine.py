"""The alert state machine: each condition raised once, not repeated, cleared once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.policy.monitor.alerts import (
    ActionId,
    Alert,
    Condition,
    Severity,
    SubjectKind,
    Thresholds,
    Watched,
    WatchState,
)
from bot.policy.monitor.machine import Outcome, close_all, evaluate
from bot.probe.model import TargetKind, TargetResult, Verdict
from tests.monitor.results import host, result

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)
LIMITS = Thresholds(expiry_warn_days=14, relaxed_remind_days=14, observe_days=7)
STRICT = Watched(
    SubjectKind.POLICY, "p1", "partner.test", Verdict.STRICT, match=("mx1.partner.test",)
)


def ok(now: datetime = T0, *, days: float = 300, serial: str = "a") -> TargetResult:
    return result(
        "partner.test", host("mx1.partner.test", Verdict.STRICT, now=now, days=days, serial=serial)
    )


def bad(verdict: Verdict, now: datetime = T0) -> TargetResult:
    return result("partner.test", host("mx1.partner.test", verdict, now=now))


def run(w: Watched, checks: list[tuple[datetime, TargetResult]]) -> list[Outcome]:
    state, outcomes = WatchState(), []
    for now, r in checks:
        out = evaluate(w, state, r, now, LIMITS)
        outcomes.append(out)
        state = out.state
    return outcomes


def conditions(alerts: tuple[Alert, ...]) -> list[Condition]:
    return [a.condition for a in alerts]


@pytest.mark.parametrize(
    ("verdict", "fingerprint", "actions"),
    [
        pytest.param(
            Verdict.RELAXED,
            "strict->relaxed",
            (ActionId.RECHECK, ActionId.RELAX, ActionId.SUSPEND),
            id="strict-to-relaxed-offers-relax",
        ),
        pytest.param(
            Verdict.UNSUPPORTED,
            "strict->unsupported",
            (ActionId.RECHECK, ActionId.SUSPEND),
            id="strict-to-unsupported-no-relax",
        ),
    ],
)
def test_level_drop_is_raised_once_and_cleared_once(
    verdict: Verdict, fingerprint: str, actions: tuple[ActionId, ...]
) -> None:
    outs = run(
        STRICT,
        [(T0, ok()), (T0 + DAY, bad(verdict)), (T0 + 2 * DAY, bad(verdict)), (T0 + 3 * DAY, ok())],
    )
    assert [conditions(o.raised) for o in outs] == [[], [Condition.LEVEL_DROP], [], []]
    assert [conditions(o.resolved) for o in outs] == [[], [], [], [Condition.LEVEL_DROP]]
    alert = outs[1].raised[0]
    assert alert.fingerprint == fingerprint
    assert alert.actions == actions
    assert alert.severity is Severity.CRITICAL
    assert "deferred" in alert.mail_impact
    assert alert.evidence["verdict"] == verdict.value
    follow_up = outs[3].resolved[0]
    assert follow_up.id == alert.id
    assert follow_up.resolved_at == T0 + 3 * DAY
    assert "again" in (follow_up.resolution or "")


def test_relaxed_policy_seeing_relaxed_is_not_a_drop() -> None:
    w = Watched(SubjectKind.POLICY, "p2", "partner.test", Verdict.RELAXED)
    outs = run(w, [(T0, bad(Verdict.RELAXED))])
    assert outs[0].raised == ()


def test_unreachable_alerts_on_the_second_consecutive_check_only() -> None:
    outs = run(
        STRICT,
        [
            (T0, bad(Verdict.UNREACHABLE)),
            (T0 + DAY, ok()),
            (T0 + 2 * DAY, bad(Verdict.UNREACHABLE)),
            (T0 + 3 * DAY, bad(Verdict.UNREACHABLE)),
            (T0 + 4 * DAY, bad(Verdict.UNREACHABLE)),
            (T0 + 5 * DAY, ok()),
        ],
    )
    assert [conditions(o.raised) for o in outs] == [[], [], [], [Condition.UNREACHABLE], [], []]
    assert [conditions(o.resolved) for o in outs] == [[], [], [], [], [], [Condition.UNREACHABLE]]


def test_a_drop_stays_open_while_the_host_cannot_be_tested() -> None:
    outs = run(
        STRICT,
        [(T0, bad(Verdict.RELAXED)), (T0 + DAY, bad(Verdict.UNREACHABLE)), (T0 + 2 * DAY, ok())],
    )
    assert conditions(outs[0].raised) == [Condition.LEVEL_DROP]
    assert outs[1].resolved == ()
    assert Condition.LEVEL_DROP in outs[1].state.open
    assert conditions(outs[2].resolved) == [Condition.LEVEL_DROP]


def test_expiring_certificate_raised_once_superseded_by_another_and_cleared_on_renewal() -> None:
    outs = run(
        STRICT,
        [
            (T0, ok(days=20)),
            (T0 + 7 * DAY, ok(T0, days=20)),  # 13 days left: warn
            (T0 + 8 * DAY, ok(T0, days=20)),  # same certificate: no repeat
            (T0 + 9 * DAY, ok(T0 + 9 * DAY, days=5, serial="b")),  # another short one
            (T0 + 10 * DAY, ok(T0 + 10 * DAY, days=365, serial="c")),  # renewed
        ],
    )
    assert [conditions(o.raised) for o in outs] == [
        [],
        [Condition.CERT_EXPIRING],
        [],
        [Condition.CERT_EXPIRING],
        [],
    ]
    assert conditions(outs[3].superseded) == [Condition.CERT_EXPIRING]
    assert outs[3].resolved == ()
    assert conditions(outs[4].resolved) == [Condition.CERT_EXPIRING]
    assert "13 day(s)" in outs[1].raised[0].summary


def test_mx_outside_match_list() -> None:
    moved = result(
        "partner.test",
        host("mx1.partner.test", Verdict.STRICT, now=T0),
        host("mx9.elsewhere.test", Verdict.STRICT, now=T0),
    )
    outs = run(STRICT, [(T0, ok()), (T0 + DAY, moved), (T0 + 2 * DAY, moved), (T0 + 3 * DAY, ok())])
    assert [conditions(o.raised) for o in outs] == [[], [Condition.MX_NOT_COVERED], [], []]
    assert outs[1].raised[0].fingerprint == "mx9.elsewhere.test"
    assert "mx9.elsewhere.test" in outs[1].raised[0].mail_impact
    assert conditions(outs[3].resolved) == [Condition.MX_NOT_COVERED]


def test_match_list_parent_entry_covers_sub_domains() -> None:
    w = Watched(SubjectKind.POLICY, "p", "partner.test", Verdict.STRICT, match=(".partner.test",))
    outs = run(w, [(T0, ok())])
    assert outs[0].raised == ()


def test_route_degrading_raises_route_degraded_with_recheck_only() -> None:
    w = Watched(SubjectKind.ROUTE, "r1", "in1.company.test:25", Verdict.STRICT)
    r_ok = result(
        "in1.company.test", host("in1.company.test", Verdict.STRICT, now=T0), kind=TargetKind.ROUTE
    )
    r_bad = result(
        "in1.company.test", host("in1.company.test", Verdict.UNSUPPORTED), kind=TargetKind.ROUTE
    )
    outs = run(w, [(T0, r_ok), (T0 + DAY, r_bad), (T0 + 2 * DAY, r_bad), (T0 + 3 * DAY, r_ok)])
    assert [conditions(o.raised) for o in outs] == [[], [Condition.ROUTE_DEGRADED], [], []]
    assert outs[1].raised[0].actions == (ActionId.RECHECK,)
    assert conditions(outs[3].resolved) == [Condition.ROUTE_DEGRADED]


def test_relaxed_policy_reminds_before_it_lapses_then_says_it_lapsed() -> None:
    w = Watched(
        SubjectKind.POLICY, "p3", "partner.test", Verdict.RELAXED, relaxed_until=T0 + 30 * DAY
    )
    relaxed = bad(Verdict.RELAXED)
    outs = run(
        w,
        [
            (T0, relaxed),
            (T0 + 16 * DAY, relaxed),
            (T0 + 17 * DAY, relaxed),
            (T0 + 31 * DAY, relaxed),
        ],
    )
    assert [conditions(o.raised) for o in outs] == [
        [],
        [Condition.RELAXED_LAPSING],
        [],
        [Condition.RELAXED_LAPSING],
    ]
    assert outs[1].raised[0].fingerprint.startswith("lapsing:")
    assert outs[3].raised[0].fingerprint.startswith("lapsed:")
    assert outs[3].raised[0].severity is Severity.CRITICAL
    assert ActionId.RELAX in outs[1].raised[0].actions


def test_relaxed_policy_finding_strict_offers_an_upgrade_once() -> None:
    w = Watched(SubjectKind.POLICY, "p4", "partner.test", Verdict.RELAXED)
    outs = run(w, [(T0, ok()), (T0 + DAY, ok())])
    assert conditions(outs[0].raised) == [Condition.UPGRADE_AVAILABLE]
    assert outs[0].raised[0].actions[0] is ActionId.UPGRADE
    assert outs[1].raised == ()
    upgraded = Watched(SubjectKind.POLICY, "p4", "partner.test", Verdict.STRICT)
    after = evaluate(upgraded, outs[1].state, ok(), T0 + 2 * DAY, LIMITS)
    assert conditions(after.resolved) == [Condition.UPGRADE_AVAILABLE]
    assert "upgraded" in (after.resolved[0].resolution or "")


def test_observe_mode_proposes_enforcement_after_clean_days_and_restarts_on_a_bad_check() -> None:
    w = Watched(SubjectKind.POLICY, "p5", "partner.test", Verdict.STRICT, observe=True)
    checks = [(T0 + i * DAY, ok()) for i in range(8)]
    outs = run(w, checks)
    raised = [conditions(o.raised) for o in outs]
    assert raised == [[]] * 7 + [[Condition.OBSERVE_READY]]
    assert outs[0].state.clean_since == T0
    # a bad check restarts the clock and clears the proposal
    after = evaluate(w, outs[-1].state, bad(Verdict.RELAXED), T0 + 8 * DAY, LIMITS)
    assert Condition.OBSERVE_READY in conditions(after.resolved)
    assert after.state.clean_since is None
    assert "observe mode" in after.raised[0].mail_impact


def test_observe_clock_starts_at_admission_on_the_first_check() -> None:
    w = Watched(
        SubjectKind.POLICY,
        "p6",
        "partner.test",
        Verdict.STRICT,
        observe=True,
        created_at=T0 - 7 * DAY,
    )
    outs = run(w, [(T0, ok())])
    assert conditions(outs[0].raised) == [Condition.OBSERVE_READY]


def test_close_all_resolves_everything_open() -> None:
    outs = run(STRICT, [(T0, bad(Verdict.UNSUPPORTED))])
    closed = close_all(outs[0].state, T0 + DAY, "policy deleted")
    assert conditions(closed.resolved) == [Condition.LEVEL_DROP]
    assert closed.resolved[0].resolution == "policy deleted"
    assert closed.state.open == {}


def test_alert_round_trips_through_json() -> None:
    alert = run(STRICT, [(T0, bad(Verdict.RELAXED))])[0].raised[0]
    assert Alert.from_dict(alert.to_dict()) == alert


def test_a_relaxed_policy_without_an_end_date_lapses_relaxed_days_after_admission() -> None:
    w = Watched(SubjectKind.POLICY, "p7", "partner.test", Verdict.RELAXED, created_at=T0)
    limits = Thresholds(relaxed_days=30, relaxed_remind_days=14)
    relaxed = bad(Verdict.RELAXED)
    quiet = evaluate(w, WatchState(), relaxed, T0 + 15 * DAY, limits)
    assert quiet.raised == ()
    reminded = evaluate(w, quiet.state, relaxed, T0 + 17 * DAY, limits)
    assert conditions(reminded.raised) == [Condition.RELAXED_LAPSING]
    assert reminded.raised[0].fingerprint == f"lapsing:{(T0 + 30 * DAY).isoformat()}"
