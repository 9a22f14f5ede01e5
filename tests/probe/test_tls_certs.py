"""Certificate analysis (every problem named) and RFC 6125 name matching, without a network."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL

from bot.clock import system_clock
from bot.probe.certs import TrustStore, analyse_chain, host_matches
from bot.probe.model import Code
from bot.probe.tls import TlsContexts, is_aes256, peer_chain
from tests.support.certs import CertCase, Pki

HOST = "mx.example.test"


def chain_of(pki: Pki, case: CertCase, host: str = HOST, **kw: tuple[str, ...]) -> list[bytes]:
    served = pki.serve(case, host, **kw)
    certs = x509.load_pem_x509_certificates(served.cert_file.read_bytes())
    return [c.public_bytes(serialization.Encoding.DER) for c in certs]


CASES = [
    (CertCase.TRUSTED, []),
    (CertCase.SELF_SIGNED, [Code.SELF_SIGNED]),
    (CertCase.EXPIRED, [Code.CERTIFICATE_EXPIRED]),
    (CertCase.NOT_YET_VALID, [Code.CERTIFICATE_NOT_YET_VALID]),
    (CertCase.WRONG_NAME, [Code.CERTIFICATE_HOST_MISMATCH]),
    (CertCase.MISSING_INTERMEDIATE, [Code.INCOMPLETE_CHAIN]),
    (CertCase.UNTRUSTED_ROOT, [Code.CERTIFICATE_NOT_TRUSTED]),
]


@pytest.mark.parametrize(("case", "codes"), CASES, ids=[c[0].value for c in CASES])
def test_each_case_is_named_for_what_it_is(
    pki: Pki, trust: TrustStore, case: CertCase, codes: list[Code]
) -> None:
    report = analyse_chain(chain_of(pki, case), HOST, trust, now=system_clock())
    assert [p.code for p in report.problems] == codes
    assert report.trusted is (codes == [])
    assert report.info is not None


def test_all_problems_are_named_not_only_the_first(pki: Pki, trust: TrustStore) -> None:
    # Given a self-signed certificate for another name, seen after it expired
    chain = chain_of(pki, CertCase.SELF_SIGNED, "other.example.test")
    later = datetime.now(UTC) + timedelta(days=200)
    report = analyse_chain(chain, HOST, trust, now=later)
    assert [p.code for p in report.problems] == [
        Code.SELF_SIGNED,
        Code.CERTIFICATE_EXPIRED,
        Code.CERTIFICATE_HOST_MISMATCH,
    ]


def test_expired_chain_is_still_judged_for_trust(pki: Pki, trust: TrustStore) -> None:
    # an expired leaf from an unknown issuer: both facts, not just "expired"
    chain = chain_of(pki, CertCase.UNTRUSTED_ROOT)
    report = analyse_chain(chain, HOST, trust, now=datetime.now(UTC) + timedelta(days=200))
    assert [p.code for p in report.problems] == [
        Code.CERTIFICATE_NOT_TRUSTED,
        Code.CERTIFICATE_EXPIRED,
    ]


def test_chain_of_an_unknown_hierarchy_without_its_root_is_incomplete(pki: Pki) -> None:
    # leaf + intermediate sent, but nobody trusts the root: the chain ends at a non-root
    empty = TrustStore.load(None, system=False)
    report = analyse_chain(chain_of(pki, CertCase.TRUSTED), HOST, empty, now=system_clock())
    assert [p.code for p in report.problems] == [Code.INCOMPLETE_CHAIN]
    assert "tlsbot test root" in report.problems[0].message


def test_a_self_signed_certificate_pinned_in_the_ca_file_is_trusted(pki: Pki) -> None:
    served = pki.serve(CertCase.SELF_SIGNED, HOST)
    pinned = TrustStore.load(served.cert_file, system=False)
    report = analyse_chain(chain_of(pki, CertCase.SELF_SIGNED), HOST, pinned, now=system_clock())
    assert report.problems == ()


def test_certificate_facts(pki: Pki, trust: TrustStore) -> None:
    report = analyse_chain(chain_of(pki, CertCase.TRUSTED), HOST, trust, now=system_clock())
    info = report.info
    assert info is not None
    assert info.subject.endswith(f"CN={HOST}") or f"CN={HOST}" in info.subject
    assert "CN=tlsbot test intermediate" in info.issuer
    assert info.sans == (HOST,)
    assert info.chain_length == 2
    assert len(info.sha256) == 64
    assert 88 <= info.days_to_expiry <= 90
    assert info.not_after.tzinfo is not None


def test_no_certificate_and_garbage(trust: TrustStore) -> None:
    assert (
        analyse_chain([], HOST, trust, now=system_clock()).problems[0].code
        is Code.VALIDATION_FAILURE
    )
    assert (
        analyse_chain([b"junk"], HOST, trust, now=system_clock()).problems[0].code
        is Code.VALIDATION_FAILURE
    )


def test_system_store_loads_with_the_extra_file(pki: Pki) -> None:
    store = TrustStore.load(pki.ca_file)
    assert store.contains(pki.root.cert)
    assert len(store.certificates) >= 1


MATCHES = [
    ("exact", "mx.example.com", ["mx.example.com"], True),
    ("case-and-dot", "MX.Example.COM.", ["mx.example.com"], True),
    ("wildcard-one-label", "mx.example.com", ["*.example.com"], True),
    ("wildcard-not-two-labels", "a.mx.example.com", ["*.example.com"], False),
    ("wildcard-not-the-parent", "example.com", ["*.example.com"], False),
    ("partial-wildcard-prefix", "mx1.example.com", ["mx*.example.com"], False),
    ("partial-wildcard-suffix", "mx1.example.com", ["*1.example.com"], False),
    ("wildcard-not-left-most", "mx.a.example.com", ["mx.*.example.com"], False),
    ("wildcard-over-tld", "example.com", ["*.com"], False),
    ("other-name", "mx.example.com", ["mail.example.com"], False),
    ("no-sans", "mx.example.com", [], False),
    ("idna-u-label-host", "mx.bücher.example", ["mx.xn--bcher-kva.example"], True),
    ("u-label-san-ignored", "mx.xn--bcher-kva.example", ["mx.bücher.example"], False),
    ("wildcard-idna", "mx.bücher.example", ["*.xn--bcher-kva.example"], True),
]


@pytest.mark.parametrize(
    ("host", "names", "expected"), [m[1:] for m in MATCHES], ids=[m[0] for m in MATCHES]
)
def test_rfc6125_host_matching(host: str, names: list[str], expected: bool) -> None:
    assert host_matches(host, names) is expected


def test_ip_literal_matches_ip_sans_only() -> None:
    assert host_matches("192.0.2.7", ["192.0.2.7"], ["192.0.2.7"]) is True
    assert host_matches("192.0.2.7", ["192.0.2.7"], []) is False


@pytest.mark.parametrize(
    ("cipher", "expected"),
    [
        ("TLS_AES_256_GCM_SHA384", True),
        ("ECDHE-RSA-AES256-GCM-SHA384", True),
        ("TLS_AES_128_GCM_SHA256", False),
        ("ECDHE-ECDSA-AES128-GCM-SHA256", False),
        ("TLS_CHACHA20_POLY1305_SHA256", False),
        (None, False),
    ],
)
def test_aes256_suites(cipher: str | None, expected: bool) -> None:
    assert is_aes256(cipher) is expected


def test_contexts_verify_nothing_and_detection_is_separate() -> None:
    contexts = TlsContexts.create()
    assert contexts.modern.check_hostname is False
    assert contexts.modern.verify_mode is ssl.CERT_NONE
    assert contexts.modern.minimum_version.name == "TLSv1_2"
    for ask in (contexts.aes256.tls13, contexts.aes256.tls12):
        assert ask.context.get_verify_mode() == SSL.VERIFY_NONE
    assert contexts.legacy is not None
    assert contexts.legacy.maximum_version.name == "TLSv1_1"


class _Old:
    """An SSLObject of Python 3.11/3.12: the chain only through ``_sslobj``."""

    def __init__(self, ders: list[bytes]) -> None:
        self._sslobj = self
        self._ders = ders

    def get_unverified_chain(self) -> list[bytes]:
        return self._ders

    def getpeercert(self, binary_form: bool = False) -> bytes:
        return self._ders[0]


class _New:
    """An SSLObject of Python 3.13+: public ``get_unverified_chain`` returning DER."""

    def __init__(self, ders: list[bytes]) -> None:
        self._ders = ders

    def get_unverified_chain(self) -> list[bytes]:
        return self._ders

    def getpeercert(self, binary_form: bool = False) -> bytes:
        return self._ders[0]


@pytest.mark.parametrize("kind", [_Old, _New], ids=["python-3.11", "python-3.13"])
def test_peer_chain_on_both_pythons(kind: type, pki: Pki) -> None:
    ders = chain_of(pki, CertCase.TRUSTED)
    assert peer_chain(kind(ders)) == tuple(ders)


def test_trust_is_judged_apart_from_a_wrong_name(pki: Pki, trust: TrustStore) -> None:
    # an unknown hierarchy for another name: both problems, each for what it is
    chain = chain_of(pki, CertCase.UNTRUSTED_ROOT, "other.example.test")
    report = analyse_chain(chain, HOST, trust, now=system_clock())
    assert [p.code for p in report.problems] == [
        Code.CERTIFICATE_NOT_TRUSTED,
        Code.CERTIFICATE_HOST_MISMATCH,
    ]
    assert "it names other.example.test" in report.problems[1].message


def test_an_unreadable_extra_certificate_is_left_out_with_a_note(
    pki: Pki, trust: TrustStore
) -> None:
    chain = [*chain_of(pki, CertCase.TRUSTED), b"\x30\x03\x02\x01\x00"]
    report = analyse_chain(chain, HOST, trust, now=system_clock())
    assert report.problems == ()
    assert report.info is not None
    (note,) = report.info.notes
    assert note.startswith("chain certificate 3 cannot be parsed and was left out: ")
