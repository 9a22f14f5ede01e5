"""What a mail admin should do next, and the MTA-STS / DANE / DNSSEC state, in words
(``bot.probe.findings.next_steps`` and ``states``: what More shows in Slack)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.probe.findings import next_steps, states
from bot.probe.model import (
    CertificateInfo,
    Code,
    DomainExtras,
    HostResult,
    Reason,
    TargetKind,
    TargetResult,
    Verdict,
)
from tests.probe.test_model_reader import stored_v1

DOMAIN = "partner.example"


def one_host(code: Code, verdict: Verdict, host: str = "mx1.partner.example") -> TargetResult:
    probed = HostResult(host, "192.0.2.1", 25, verdict, (Reason(code, "why"),), reached=True)
    return TargetResult(DOMAIN, TargetKind.DOMAIN, DOMAIN, verdict, (probed,), mx=(host,))


@pytest.mark.parametrize(
    ("code", "verdict", "step"),
    [
        (
            Code.INCOMPLETE_CHAIN,
            Verdict.RELAXED,
            "Ask partner.example to serve its intermediate certificate on mx1.partner.example",
        ),
        (
            Code.STARTTLS_NOT_SUPPORTED,
            Verdict.UNSUPPORTED,
            "Ask partner.example to enable STARTTLS on mx1.partner.example; no TLS policy can "
            "be enforced until then",
        ),
        (
            Code.TLS_VERSION_TOO_OLD,
            Verdict.UNSUPPORTED,
            "Ask partner.example to enable TLS 1.2 or newer on mx1.partner.example",
        ),
        (
            Code.CERTIFICATE_HOST_MISMATCH,
            Verdict.RELAXED,
            "Ask partner.example to use a certificate that names mx1.partner.example",
        ),
        (
            Code.TIMEOUT,
            Verdict.UNREACHABLE,
            "Check that this host can reach mx1.partner.example on port 25, then validate again",
        ),
    ],
    ids=lambda v: v.value if isinstance(v, Code) else None,
)
def test_each_problem_has_its_next_step(code: Code, verdict: Verdict, step: str) -> None:
    assert next_steps(one_host(code, verdict)) == (step,)


def test_hosts_with_the_same_problem_are_named_in_one_step() -> None:
    first = one_host(Code.SELF_SIGNED, Verdict.RELAXED)
    second = replace(first.hosts[0], host="mx2.partner.example", address="192.0.2.2")
    both = replace(first, hosts=(first.hosts[0], second))
    (step,) = next_steps(both)
    assert "on mx1.partner.example, mx2.partner.example;" in step


def test_a_target_level_problem_and_a_clean_pass() -> None:
    gone = TargetResult(
        DOMAIN,
        TargetKind.DOMAIN,
        DOMAIN,
        Verdict.UNREACHABLE,
        reasons=(Reason(Code.DNS_NXDOMAIN, "no such domain"),),
    )
    assert next_steps(gone) == ("Check the spelling: partner.example does not exist in the DNS",)
    clean = replace(one_host(Code.SELF_SIGNED, Verdict.STRICT), hosts=())
    assert next_steps(clean) == (
        "Nothing: partner.example supports TLS with a trusted certificate",
    )


def test_a_certificate_close_to_expiry_is_a_reminder() -> None:
    cert = CertificateInfo(
        "CN=mx1",
        "CN=CA",
        ("mx1.partner.example",),
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 3, 1, tzinfo=UTC),
        9,
        "ab",
        2,
    )
    host = HostResult("mx1.partner.example", "192.0.2.1", 25, Verdict.STRICT, certificate=cert)
    result = TargetResult(DOMAIN, TargetKind.DOMAIN, DOMAIN, Verdict.STRICT, (host,))
    assert next_steps(result) == (
        "Remind partner.example that the certificate of mx1.partner.example expires in 9 days "
        "(2026-03-01)",
    )


def test_the_stored_result_gets_every_step_once() -> None:
    result = TargetResult.from_dict(stored_v1())
    steps = next_steps(result)
    assert steps[0].startswith("Ask partner.example to serve its intermediate certificate")
    assert any("MTA-STS policy" in s for s in steps)
    assert not any(s.startswith("Ask partner.example to name its MX") for s in steps)  # a warning
    assert len(steps) == len(set(steps))


def test_states_say_what_is_and_what_is_not_published() -> None:
    nothing = TargetResult(DOMAIN, TargetKind.DOMAIN, DOMAIN, Verdict.STRICT)
    assert states(nothing) == (
        "MTA-STS: no policy published",
        "DANE: no TLSA records published",
        "DNSSEC: not validated by this probe",
    )
    published = replace(nothing, extras=DomainExtras(mta_sts_mode="testing", mta_sts_txt="v=STSv1"))
    assert states(published)[0].startswith("MTA-STS: policy in testing mode")
