"""The certificate judgment over a committed subset of x509-limbo (see data/README.md).

The whole suite runs in ``bench/x509_limbo.py``; these cases are the ones issue 12 names
(Microsoft's serverAuth-only intermediates, an expired cross-signed extra certificate,
duplicate extensions, malformed IP SANs, leaf checks) and their neighbours.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench.x509_limbo import SUBSET_IDS, analyse, judge, left_out, load
from bot.probe.model import Code

SUBSET = Path(__file__).parent / "data" / "x509-limbo-subset.json"
CASES = {c["id"]: c for c in load(SUBSET)}
# the instant for the cases without a validation time of their own (their certificates are
# valid from 1970 to 2969): fixed, so that the day the suite runs does not matter
NOW = datetime(2025, 6, 1, tzinfo=UTC)
# BetterTLS cases whose leaf carries an IP SAN that is not 4 or 16 bytes
MALFORMED_IP_SAN = [
    i
    for i in SUBSET_IDS
    if i.startswith("bettertls::nameconstraints::") and int(i.rsplit("tc", 1)[1]) >= 8853
]


def test_the_subset_is_small_and_complete() -> None:
    assert SUBSET.stat().st_size < 300 * 1024
    assert list(CASES) == list(SUBSET_IDS)
    assert len(MALFORMED_IP_SAN) == 11


@pytest.mark.parametrize("case_id", list(CASES))
def test_the_probe_agrees_with_the_suite_and_never_raises(case_id: str) -> None:
    case = CASES[case_id]
    outcome = judge(case, NOW)
    assert outcome.trusted is not None, outcome.detail  # an exception would be None
    if left_out(case) is None:
        assert outcome.agrees, outcome.detail


@pytest.mark.parametrize(
    "case_id",
    ["online::microsoft.com", "online::bing.com", "webpki::cryptographydotio-chain"],
)
def test_web_pki_chains_with_server_auth_only_intermediates_are_trusted(case_id: str) -> None:
    report = analyse(CASES[case_id], NOW)
    assert report.problems == ()
    assert report.trusted


def test_the_path_that_validates_is_judged_and_a_stale_extra_certificate_is_noted() -> None:
    report = analyse(CASES["pathological::multiple-chains-expired-intermediate"], NOW)
    assert report.trusted
    assert report.info is not None
    (note,) = report.info.notes
    assert "expired on" in note
    assert "the path that validates does not use it" in note


def _only(case: dict[str, Any]) -> tuple[Code, str]:
    report = analyse(case, NOW)
    assert not report.trusted
    return report.problems[0].code, report.problems[0].message


def test_duplicate_extensions_are_a_reason_not_an_exception() -> None:
    code, message = _only(CASES["rfc5280::duplicate-extensions"])
    assert code is Code.VALIDATION_FAILURE
    assert message.startswith("the certificate cannot be parsed: ")
    assert "Duplicate" in message


@pytest.mark.parametrize("case_id", MALFORMED_IP_SAN)
def test_malformed_ip_sans_are_a_reason_not_an_exception(case_id: str) -> None:
    code, message = _only(CASES[case_id])
    assert code is Code.VALIDATION_FAILURE
    assert message.startswith("the certificate cannot be parsed: ")
    assert "IPv4 or IPv6 address" in message


@pytest.mark.parametrize(
    ("case_id", "words"),
    [
        ("rfc5280::eku::ee-wrong-eku", "EKU"),
        ("webpki::ca-as-leaf", "basicConstraints.cA"),
        ("rfc5280::ee-critical-aia-invalid", "criticality"),
        ("webpki::forbidden-weak-rsa-in-leaf", "RSA key of 1024 bits"),
        ("webpki::forbidden-p192-leaf", "secp192r1"),
    ],
)
def test_leaf_checks_are_on(case_id: str, words: str) -> None:
    code, message = _only(CASES[case_id])
    assert code is Code.VALIDATION_FAILURE
    assert words in message
    assert "<Certificate" not in message  # the verifier's words, without Python reprs


@pytest.mark.parametrize(
    ("case_id", "why"),
    [
        ("webpki::cn::not-in-san", "family webpki::cn"),
        ("crl::revoked-certificate-with-crl", "feature has-crl"),
        ("rfc5280::serial::negative", "feature pedantic-serial-number"),
    ],
)
def test_families_that_do_not_apply_to_smtp_are_left_out_by_name(case_id: str, why: str) -> None:
    assert left_out(CASES[case_id]) == why
