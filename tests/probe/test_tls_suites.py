"""AES-256 the way SPEC and Postfix mean it, against loopback servers whose suites are set
the way mail hosts set them (OpenSSL through pyOpenSSL, TLS 1.3 suites included).

The probe offers Postfix's ``high`` grade first; when that handshake lands on a suite that
is not AES-256 it asks again with AES-256 alone, at TLS 1.3 and then at TLS 1.2, one
connection each, and a reason names what the server does offer when AES-256 is missing.
"""

from __future__ import annotations

import pytest
from OpenSSL import SSL

from bot.clock import system_clock
from bot.probe.certs import TrustStore
from bot.probe.host import probe_host
from bot.probe.model import Code, HostResult, Verdict
from bot.probe.settings import ProbeSettings
from bot.probe.suites import AES256_TLS13, Aes256Asks, no_aes256_sentence
from bot.probe.tls import TlsContexts, is_aes256
from tests.support.certs import CertCase, Pki
from tests.support.openssl_server import TlsOptions
from tests.support.smtp_server import SmtpServer, free_port

pytestmark = pytest.mark.timeout(30)

HOST = "mx1.example.test"
ADDRESS = "127.0.0.2"
AES128_TLS12 = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA256"


async def probe(
    pki: Pki, trust: TrustStore, options: TlsOptions, *, rsa_key: bool = False
) -> tuple[HostResult, SmtpServer]:
    port = free_port()
    served = pki.serve(CertCase.TRUSTED, HOST, rsa_key=rsa_key)
    async with SmtpServer(ADDRESS, port, cert=served, tls=options) as server:
        result = await probe_host(
            HOST,
            ADDRESS,
            port,
            settings=ProbeSettings(timeout=5.0, ehlo_name="probe.example.test"),
            trust=trust,
            clock=system_clock,
        )
    assert result.connections == server.connections
    return result, server


async def test_tls13_server_preferring_aes128_but_accepting_aes256_is_strict(
    pki: Pki, trust: TrustStore
) -> None:
    # Given a TLS 1.3 server that prefers TLS_AES_128_GCM_SHA256 over the client's order
    options = TlsOptions(
        tls13_suites="TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384", server_preference=True
    )
    result, server = await probe(pki, trust, options)
    # Then the first handshake lands on AES-128, the AES-256-only ask at TLS 1.3 succeeds
    assert server.handshakes == [
        ("TLSv1.3", "TLS_AES_128_GCM_SHA256"),
        ("TLSv1.3", "TLS_AES_256_GCM_SHA384"),
    ]
    assert result.verdict is Verdict.STRICT, result.reasons
    assert result.aes256 is True
    assert result.cipher == "TLS_AES_128_GCM_SHA256"  # what the first handshake chose
    assert result.connections == 2
    # the follow-up stops at its handshake and says goodbye inside TLS; never DATA
    assert [c.split()[0] for c in server.commands] == [
        "EHLO",
        "STARTTLS",
        "EHLO",
        "QUIT",
        "EHLO",
        "STARTTLS",
        "QUIT",
    ]


@pytest.mark.parametrize("suite", ["AES256-SHA", "AES256-GCM-SHA384"])
async def test_tls12_server_with_only_rsa_key_exchange_aes256_is_strict_at_once(
    pki: Pki, trust: TrustStore, suite: str
) -> None:
    # Given a TLS 1.2 server whose only suite is AES-256 with RSA key exchange (an RSA leaf),
    # which Postfix's "high" grade includes and Python's default suites do not
    options = TlsOptions(max_version="TLSv1.2", ciphers=suite)
    result, server = await probe(pki, trust, options, rsa_key=True)
    assert result.verdict is Verdict.STRICT, result.reasons
    assert server.handshakes == [("TLSv1.2", suite)]
    assert (result.tls_version, result.cipher, result.aes256) == ("TLSv1.2", suite, True)
    assert result.connections == 1


async def test_tls12_server_with_only_aes128_is_not_strict_and_the_reason_names_its_suite(
    pki: Pki, trust: TrustStore
) -> None:
    options = TlsOptions(max_version="TLSv1.2", ciphers=AES128_TLS12)
    result, server = await probe(pki, trust, options)
    assert result.verdict is Verdict.UNSUPPORTED
    reason = result.reasons[0]
    assert reason.code is Code.NO_AES256_SUITE
    assert "ECDHE-ECDSA-AES128-GCM-SHA256 at TLS 1.2" in reason.message
    assert "refused the AES-256 suites at TLS 1.2" in reason.message
    assert "TLS 1.3" not in reason.message  # a TLS 1.2 server is not asked at TLS 1.3
    assert result.aes256 is False
    assert server.connections == 2
    assert server.failed_handshakes == 1


async def test_tls13_server_with_only_aes128_is_asked_at_both_versions(
    pki: Pki, trust: TrustStore
) -> None:
    options = TlsOptions(tls13_suites="TLS_AES_128_GCM_SHA256", ciphers=AES128_TLS12)
    result, server = await probe(pki, trust, options)
    assert result.verdict is Verdict.UNSUPPORTED
    message = result.reasons[0].message
    assert "the server chose TLS_AES_128_GCM_SHA256 at TLS 1.3" in message
    assert f"refused {AES256_TLS13} at TLS 1.3 and the AES-256 suites at TLS 1.2" in message
    assert (server.connections, server.failed_handshakes) == (3, 2)


async def test_tls13_server_with_aes256_only_at_tls12_is_strict(
    pki: Pki, trust: TrustStore
) -> None:
    # AES-128 at TLS 1.3, AES-256 at TLS 1.2: an AES-256 suite is negotiable (SPEC)
    options = TlsOptions(tls13_suites="TLS_AES_128_GCM_SHA256", ciphers="ECDHE-ECDSA-AES256-SHA")
    result, server = await probe(pki, trust, options)
    assert result.verdict is Verdict.STRICT, result.reasons
    assert server.handshakes[-1] == ("TLSv1.2", "ECDHE-ECDSA-AES256-SHA")
    assert (server.connections, server.failed_handshakes) == (3, 1)


def test_the_first_handshake_offers_postfix_high_grade() -> None:
    names = {c["name"] for c in TlsContexts.create().modern.get_ciphers()}
    # the RSA key exchange AES-256 suites of "high", left out by Python's defaults
    assert {"AES256-SHA", "AES256-GCM-SHA384", "TLS_AES_256_GCM_SHA384"} <= names
    assert not any(n.startswith(("ADH-", "AECDH-")) for n in names)  # no anonymous suites


def _offered(context: SSL.Context) -> list[str]:
    return SSL.Connection(context, None).get_cipher_list()


def test_the_follow_ups_offer_aes256_only_one_version_each() -> None:
    asks = Aes256Asks.create()
    tls13 = [n for n in _offered(asks.tls13.context) if n.startswith("TLS_")]
    assert tls13 == [AES256_TLS13]
    tls12 = [n for n in _offered(asks.tls12.context) if not n.startswith("TLS_")]
    assert tls12
    assert all(is_aes256(n) for n in tls12)
    assert asks.after("TLSv1.3") == (asks.tls13, asks.tls12)
    assert asks.after("TLSv1.2") == (asks.tls12,)


def test_the_sentence_names_what_the_server_offers() -> None:
    assert no_aes256_sentence("TLSv1.2", "AES128-SHA", ()) == (
        "no AES-256 cipher suite is negotiable (the server chose AES128-SHA at TLS 1.2)"
    )
    assert no_aes256_sentence("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256", ("X", "Y")) == (
        "no AES-256 cipher suite is negotiable: the server chose TLS_CHACHA20_POLY1305_SHA256"
        " at TLS 1.3 and refused X and Y when offered alone"
    )
