"""The alerts from real mail as a table: which facts raise which alert, with which buttons."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.policy.evidence.reports import HostFailures
from bot.policy.evidence.traffic import Traffic
from bot.policy.monitor.alerts import (
    ActionId,
    Condition,
    SubjectKind,
    Thresholds,
    Watched,
    WatchState,
)
from bot.policy.monitor.evidence import evidence_findings
from bot.policy.monitor.machine import apply, evaluate
from bot.policy.monitor.rules import Finding
from bot.probe.model import Verdict
from tests.monitor.results import host, result

T = Thresholds()
NOW = datetime(2026, 12, 5, tzinfo=UTC)
STRICT = Watched(SubjectKind.POLICY, "1", "p.test", Verdict.STRICT)
RELAXED = Watched(SubjectKind.POLICY, "1", "p.test", Verdict.RELAXED)
OBSERVED = Watched(SubjectKind.POLICY, "1", "p.test", Verdict.STRICT, observe=True)
ROUTE = Watched(SubjectKind.ROUTE, "7", "mx1.corp.test:25", Verdict.STRICT)


@pytest.mark.parametrize(
    ("watched", "deferred", "actions"),
    [
        pytest.param(
            STRICT,
            {"certificate-not-verified": 3},
            (ActionId.RELAX, ActionId.SUSPEND, ActionId.RECHECK),
            id="strict-cert",
        ),
        pytest.param(
            STRICT, {"tls-not-offered": 1}, (ActionId.SUSPEND, ActionId.RECHECK), id="strict-no-tls"
        ),
        pytest.param(
            RELAXED,
            {"certificate-not-verified": 1},
            (ActionId.SUSPEND, ActionId.RECHECK),
            id="relaxed-already",
        ),
        pytest.param(OBSERVED, {"tls-not-offered": 5}, None, id="observed-publishes-nothing"),
        pytest.param(STRICT, {}, None, id="none"),
    ],
)
def test_deferred_real_mail(
    watched: Watched, deferred: dict[str, int], actions: tuple[ActionId, ...] | None
) -> None:
    found = evidence_findings(watched, deferred, None, T)[Condition.TRAFFIC_DEFERRED]
    if actions is None:
        assert found is None
        return
    assert isinstance(found, Finding)
    assert found.actions == actions
    assert f"deferred {sum(deferred.values())} message(s)" in found.summary
    assert found.fingerprint == "reasons:" + ",".join(sorted(deferred))


@pytest.mark.parametrize(
    ("failed", "total", "raised"),
    [(20, 100, True), (9, 10, False), (10, 1000, False), (10, 200, True)],
    ids=["spike", "few-sessions", "small-share", "at-thresholds"],
)
def test_tlsrpt_spike_thresholds(failed: int, total: int, raised: bool) -> None:
    hf = HostFailures("mx1.corp.test", failed, total, {"certificate-expired": failed}, ("G",))
    found = evidence_findings(ROUTE, None, hf, T)[Condition.TLSRPT_FAILURES]
    assert isinstance(found, Finding) is raised


def test_a_probe_check_leaves_the_real_mail_alerts_alone() -> None:
    """Conditions the probe does not judge are neither raised nor resolved by it."""
    now = NOW
    found = evidence_findings(STRICT, {"tls-not-offered": 1}, None, T)
    assert isinstance(found[Condition.TRAFFIC_DEFERRED], Finding)
    clean = result("p.test", host("mx.p.test", Verdict.STRICT, now=NOW))
    first = evaluate(STRICT, WatchState(), clean, now, T)
    assert Condition.TRAFFIC_DEFERRED not in first.state.open
    step = apply(STRICT, first.state.open, found, now, {}, lambda c, old: "over")
    again = evaluate(STRICT, WatchState(open=step.still_open), clean, now, T)
    assert Condition.TRAFFIC_DEFERRED in again.state.open
    assert again.resolved == ()


def test_observe_ready_needs_clean_traffic_too() -> None:
    now = datetime(2026, 12, 20, tzinfo=UTC)
    w = Watched(
        SubjectKind.POLICY,
        "1",
        "p.test",
        Verdict.STRICT,
        observe=True,
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    clean = result("p.test", host("mx.p.test", Verdict.STRICT, now=NOW))
    span = (date(2026, 12, 14), date(2026, 12, 20))
    dirty = Traffic("p.test", *span, delivered={"verified": 9, "untrusted": 1})
    good = Traffic("p.test", *span, delivered={"verified": 10}, versions={"TLSv1.3": 10})
    assert not evaluate(w, WatchState(), clean, now, T, traffic=dirty).raised
    ready = evaluate(w, WatchState(), clean, now, T, traffic=good).raised
    assert [a.condition for a in ready] == [Condition.OBSERVE_READY]
    assert "10 deliveries to p.test" in ready[0].details[0]
    assert evaluate(w, WatchState(), clean, now, T).raised  # no log read: the probe decides
