"""The partner-policy rules as a table: what each change of DNSSEC, DANE and MTA-STS raises."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.policy.monitor.alerts import (
    ActionId,
    Condition,
    Severity,
    SubjectKind,
    Thresholds,
    Watched,
    WatchState,
)
from bot.policy.monitor.rules import UNKNOWN, Finding, findings
from bot.probe.model import (
    DaneResult,
    DaneStatus,
    Dnssec,
    DomainExtras,
    TargetResult,
    Verdict,
)
from bot.probe.partner import PartnerTls
from tests.monitor.results import host, result

T0 = datetime(2031, 5, 1, tzinfo=UTC)
DANE = PartnerTls(
    dnssec=Dnssec.SECURE, dane=True, sts_id="1", sts_mode="enforce", sts_mx=("*.p.test",)
)
SIGNED_ONLY = PartnerTls(dnssec=Dnssec.SECURE)


def watched(
    partner: PartnerTls, *, match: tuple[str, ...] = ("mx.p.test",), **kw: object
) -> Watched:
    return Watched(
        SubjectKind.POLICY, "1", "p.test", Verdict.STRICT, match=match, partner=partner, **kw
    )  # type: ignore[arg-type]


def now(
    *,
    dnssec: Dnssec | None = Dnssec.SECURE,
    dane: DaneStatus | None = DaneStatus.VALID,
    sts: tuple[str | None, str | None, tuple[str, ...]] = ("1", "enforce", ("*.p.test",)),
) -> TargetResult:
    h = host("mx.p.test", Verdict.STRICT)
    if dane is not None:
        h = replace(h, dane=DaneResult(dane, f"DANE {dane.value}"), dnssec=dnssec)
    extras = DomainExtras(mta_sts_id=sts[0], mta_sts_mode=sts[1], mta_sts_mx=sts[2])
    return replace(result("p.test", h), dnssec=dnssec, extras=extras)


def found(w: Watched, r: TargetResult, condition: Condition) -> object:
    return findings(w, WatchState(), r, T0, Thresholds())[condition]


@pytest.mark.parametrize(
    ("w", "r", "expect"),
    [
        pytest.param(watched(DANE), now(), None, id="as-admitted"),
        pytest.param(watched(DANE), now(dnssec=Dnssec.INSECURE), Severity.CRITICAL, id="dane"),
        pytest.param(watched(DANE), now(dnssec=Dnssec.BOGUS), Severity.CRITICAL, id="bogus"),
        pytest.param(
            watched(SIGNED_ONLY), now(dnssec=Dnssec.INSECURE), Severity.WARNING, id="not-dane"
        ),
        pytest.param(
            watched(DANE, observe=True), now(dnssec=Dnssec.INSECURE), Severity.WARNING, id="obs"
        ),
        pytest.param(watched(DANE), now(dnssec=None), UNKNOWN, id="not-checked"),
        pytest.param(watched(PartnerTls()), now(dnssec=Dnssec.INSECURE), None, id="never-signed"),
    ],
)
def test_dnssec_dropped(w: Watched, r: TargetResult, expect: object) -> None:
    got = found(w, r, Condition.DNSSEC_DROPPED)
    if isinstance(expect, Severity):
        assert isinstance(got, Finding)
        assert got.severity is expect
        assert got.actions == (ActionId.RECHECK, ActionId.UPGRADE, ActionId.RELAX, ActionId.SUSPEND)
    else:
        assert got is expect


@pytest.mark.parametrize(
    ("w", "r", "expect"),
    [
        pytest.param(watched(DANE), now(), None, id="valid"),
        pytest.param(watched(DANE), now(dane=DaneStatus.TLSA_INVALID), Severity.CRITICAL, id="x"),
        pytest.param(watched(DANE), now(dane=DaneStatus.NO_TLSA), Severity.CRITICAL, id="gone"),
        pytest.param(
            watched(DANE), now(dane=DaneStatus.DNSSEC_INVALID), Severity.CRITICAL, id="bogus"
        ),
        pytest.param(
            watched(SIGNED_ONLY), now(dane=DaneStatus.TLSA_INVALID), Severity.WARNING, id="warn"
        ),
        pytest.param(watched(SIGNED_ONLY), now(dane=DaneStatus.NO_TLSA), None, id="none-yet"),
        pytest.param(watched(DANE), now(dane=None), UNKNOWN, id="not-checked"),
        pytest.param(watched(DANE), now(dnssec=Dnssec.INSECURE), UNKNOWN, id="unsigned-now"),
    ],
)
def test_tlsa_broken(w: Watched, r: TargetResult, expect: object) -> None:
    got = found(w, r, Condition.TLSA_BROKEN)
    if isinstance(expect, Severity):
        assert isinstance(got, Finding)
        assert got.severity is expect
    else:
        assert got is expect


@pytest.mark.parametrize(
    ("w", "sts", "expect"),
    [
        pytest.param(watched(DANE), ("1", "enforce", ("*.p.test",)), None, id="same"),
        pytest.param(watched(DANE), ("2", "enforce", ("*.p.test",)), Severity.WARNING, id="id"),
        pytest.param(watched(DANE), ("1", "testing", ("*.p.test",)), Severity.WARNING, id="mode"),
        pytest.param(watched(DANE), ("1", "enforce", ("mx.p.test",)), Severity.WARNING, id="mx"),
        pytest.param(watched(DANE), (None, None, ()), Severity.WARNING, id="withdrawn"),
        pytest.param(watched(DANE), ("1", None, ()), UNKNOWN, id="same-id-unfetched"),
        pytest.param(
            watched(replace(DANE, dane=False), match=()),
            ("1", "enforce", ("mx.p.test",)),
            Severity.CRITICAL,
            id="published-patterns",
        ),
        pytest.param(watched(PartnerTls()), ("9", "enforce", ("*.p.test",)), None, id="new"),
    ],
)
def test_mta_sts_changed(
    w: Watched, sts: tuple[str | None, str | None, tuple[str, ...]], expect: object
) -> None:
    got = found(w, now(sts=sts), Condition.STS_CHANGED)
    if isinstance(expect, Severity):
        assert isinstance(got, Finding)
        assert got.severity is expect
        assert got.fingerprint == f"{sts[0] or '-'}|{sts[1] or '-'}|{','.join(sts[2])}"
    else:
        assert got is expect
