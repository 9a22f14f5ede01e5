"""The certificate rows of issue 12, each reproduced by a loopback SMTP server that presents
the chain over STARTTLS, probed end to end.

Chains come from the test PKI (tests/support/certs.py) or from the committed x509-limbo
subset, served with the leaf key the suite ships (its trusted roots as the only roots,
its peer name as the MX host, its validation time as the prober's clock).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID

from bench.x509_limbo import load
from bot.clock import ManualClock, system_clock
from bot.probe.certs import TrustStore
from bot.probe.host import probe_host
from bot.probe.model import Code, HostResult, Verdict
from bot.probe.settings import ProbeSettings
from tests.support.certs import CertCase, Pki, ServedCert
from tests.support.openssl_server import TlsOptions
from tests.support.smtp_server import SmtpServer, free_port

pytestmark = pytest.mark.timeout(30)

ADDRESS = "127.0.0.2"
HOST = "mx1.example.test"
LIMBO = {c["id"]: c for c in load(Path(__file__).parent / "data" / "x509-limbo-subset.json")}
LIMBO_NOW = datetime(2025, 6, 1, tzinfo=UTC)  # for cases without a validation time
# limbo's weak-key leaves need OpenSSL's security level 0 to be loaded by the server at all
LENIENT_SERVER = TlsOptions(ciphers="HIGH:@SECLEVEL=0")


async def probe(
    served: ServedCert, host: str, trust: TrustStore, clock: Any, options: TlsOptions | None
) -> HostResult:
    port = free_port()
    async with SmtpServer(ADDRESS, port, cert=served, tls=options) as server:
        result = await probe_host(
            host,
            ADDRESS,
            port,
            settings=ProbeSettings(timeout=5.0, ehlo_name="probe.example.test"),
            trust=trust,
            clock=clock,
        )
    assert server.handshakes, "the server never completed a TLS handshake"
    return result


async def test_intermediates_that_allow_only_server_auth_are_trusted(
    pki: Pki, trust: TrustStore
) -> None:
    # the way Microsoft's and Bing's intermediates are (x509-limbo online::microsoft.com)
    served = pki.serve(CertCase.SERVER_AUTH_INTERMEDIATE, HOST)
    result = await probe(served, HOST, trust, system_clock, None)
    assert result.verdict is Verdict.STRICT, result.reasons
    assert "serverAuth-only intermediate" in (
        result.certificate.issuer if result.certificate else ""
    )


async def test_an_expired_cross_signed_extra_certificate_is_a_note_not_a_problem(
    pki: Pki, trust: TrustStore
) -> None:
    served = pki.serve(CertCase.STALE_CROSS_SIGN, HOST)
    result = await probe(served, HOST, trust, system_clock, None)
    assert result.verdict is Verdict.STRICT, result.reasons
    assert result.certificate is not None
    assert result.certificate.chain_length == 3
    (note,) = result.certificate.notes
    assert note.startswith("the server also sends tlsbot test root, which expired on ")
    assert note.endswith("; the path that validates does not use it")
    assert result.to_dict()["certificate"]["notes"] == [note]


async def test_a_cn_only_certificate_gets_a_true_sentence(pki: Pki, trust: TrustStore) -> None:
    served = pki.serve(CertCase.CN_ONLY, HOST)
    result = await probe(served, HOST, trust, system_clock, None)
    assert result.verdict is Verdict.RELAXED
    assert [r.code for r in result.reasons] == [Code.CERTIFICATE_HOST_MISMATCH]
    message = result.reasons[0].message
    assert "no DNS names" not in message  # the old, false sentence
    assert f"it has no subjectAltName, only subject CN {HOST}" in message


def _served_limbo(case: dict[str, Any], directory: Path) -> ServedCert:
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / "chain.pem", directory / "key.pem"
    cert_file.write_text("".join([case["peer_certificate"], *case["untrusted_intermediates"]]))
    key_file.write_text(case["peer_certificate_key"])
    leaf = x509.load_pem_x509_certificate(case["peer_certificate"].encode())
    return ServedCert(cert_file, key_file, leaf)


def _limbo_trust(case: dict[str, Any]) -> TrustStore:
    return TrustStore(x509.load_pem_x509_certificate(p.encode()) for p in case["trusted_certs"])


LIMBO_ROWS = [
    ("pathological::multiple-chains-expired-intermediate", Verdict.STRICT, None),
    ("rfc5280::duplicate-extensions", Verdict.RELAXED, "the certificate cannot be parsed: "),
    ("rfc5280::eku::ee-wrong-eku", Verdict.RELAXED, "required EKU not found"),
    ("webpki::ca-as-leaf", Verdict.RELAXED, "basicConstraints.cA must not be asserted"),
    ("rfc5280::ee-critical-aia-invalid", Verdict.RELAXED, "incorrect criticality"),
    ("webpki::forbidden-weak-rsa-in-leaf", Verdict.RELAXED, "an RSA key of 1024 bits"),
]


@pytest.mark.parametrize(
    ("case_id", "verdict", "words"), LIMBO_ROWS, ids=[r[0] for r in LIMBO_ROWS]
)
async def test_x509_limbo_chains_served_over_starttls(
    tmp_path: Path, case_id: str, verdict: Verdict, words: str | None
) -> None:
    case = LIMBO[case_id]
    when = case["validation_time"]
    clock = ManualClock(datetime.fromisoformat(when) if when else LIMBO_NOW)
    served = _served_limbo(case, tmp_path)
    host = case["expected_peer_name"]["value"]
    result = await probe(served, host, _limbo_trust(case), clock, LENIENT_SERVER)
    assert result.verdict is verdict, result.reasons
    if words is None:
        assert result.reasons == ()
    else:
        assert result.reasons[0].code is Code.VALIDATION_FAILURE
        assert words in result.reasons[0].message


def _malformed_ip_san_leaf(pki: Pki, directory: Path) -> ServedCert:
    """A leaf whose subjectAltName holds a 5-byte iPAddress (BetterTLS's malformed-SAN cases
    hold such names): DER written by hand, since the builder refuses a bad address."""
    key = ec.generate_private_key(ec.SECP256R1())
    san = bytes([0x30, 0x07, 0x87, 0x05, 127, 0, 0, 1, 1])  # SEQUENCE { [7] 5 bytes }
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, HOST)]))
        .issuer_name(pki.intermediate.name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=90))
        .add_extension(
            x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, san), critical=False
        )
        .sign(pki.intermediate.key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / "chain.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + pki.intermediate.pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ServedCert(cert_file, key_file, cert)


async def test_a_malformed_ip_san_is_a_reason_not_an_exception(
    pki: Pki, trust: TrustStore, tmp_path: Path
) -> None:
    served = _malformed_ip_san_leaf(pki, tmp_path)
    result = await probe(served, HOST, trust, system_clock, None)
    assert result.verdict is Verdict.RELAXED
    assert result.reasons[0].code is Code.VALIDATION_FAILURE
    assert result.reasons[0].message.startswith("the certificate cannot be parsed: ")
    assert result.certificate is None
