"""Hand-built probe results for the pure alert tests (the end-to-end tests use real probes)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.probe.model import (
    CertificateInfo,
    Code,
    HostResult,
    Reason,
    TargetKind,
    TargetResult,
    Verdict,
)

_REASONS = {
    Verdict.STRICT: (),
    Verdict.RELAXED: (Reason(Code.SELF_SIGNED, "the certificate is self-signed"),),
    Verdict.UNSUPPORTED: (Reason(Code.STARTTLS_NOT_SUPPORTED, "STARTTLS is not offered"),),
    Verdict.UNREACHABLE: (Reason(Code.CONNECT_REFUSED, "connection refused"),),
}


def cert(now: datetime, days: float, serial: str = "a") -> CertificateInfo:
    return CertificateInfo(
        subject="CN=mx",
        issuer="CN=ca",
        sans=("mx",),
        not_before=now - timedelta(days=30),
        not_after=now + timedelta(days=days),
        days_to_expiry=int(days),
        sha256=serial * 64,
        chain_length=2,
    )


def host(
    name: str,
    verdict: Verdict,
    *,
    now: datetime | None = None,
    days: float = 300,
    serial: str = "a",
) -> HostResult:
    reached = verdict is not Verdict.UNREACHABLE
    return HostResult(
        host=name,
        address="127.0.0.1",
        port=25,
        verdict=verdict,
        reasons=_REASONS[verdict],
        reached=reached,
        certificate=cert(now, days, serial) if reached and now and verdict.ok else None,
    )


def result(
    domain: str,
    *hosts: HostResult,
    mx: tuple[str, ...] | None = None,
    kind: TargetKind = TargetKind.DOMAIN,
) -> TargetResult:
    return TargetResult(
        target=domain,
        kind=kind,
        domain=domain,
        verdict=Verdict.worst([h.verdict for h in hosts]),
        hosts=hosts,
        mx=mx if mx is not None else tuple(dict.fromkeys(h.host for h in hosts)),
    )
