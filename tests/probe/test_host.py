"""One host probe end to end against loopback SMTP servers: every row of the verdict table."""

from __future__ import annotations

import asyncio
import ssl
import time

import pytest

from bot.clock import system_clock
from bot.probe.certs import TrustStore
from bot.probe.errors import (
    ConnectFailed,
    ConnectionLost,
    ConnectRefused,
    ConnectTimeout,
    HandshakeFailed,
    ProbeError,
    ProtocolViolation,
    translate,
)
from bot.probe.host import probe_host
from bot.probe.limits import Limits
from bot.probe.model import Code, Verdict
from bot.probe.settings import ProbeSettings
from bot.probe.smtp import SmtpProtocolError, Step
from tests.support.certs import CertCase, Pki
from tests.support.smtp_server import Behaviour, SmtpServer, free_port, tls10_available

pytestmark = pytest.mark.timeout(30)

HOST = "mx1.example.test"
ADDRESS = "127.0.0.2"

ROWS = [
    ("trusted", Behaviour.STARTTLS, CertCase.TRUSTED, Verdict.STRICT, None),
    ("self-signed", Behaviour.STARTTLS, CertCase.SELF_SIGNED, Verdict.RELAXED, Code.SELF_SIGNED),
    ("expired", Behaviour.STARTTLS, CertCase.EXPIRED, Verdict.RELAXED, Code.CERTIFICATE_EXPIRED),
    (
        "not-yet-valid",
        Behaviour.STARTTLS,
        CertCase.NOT_YET_VALID,
        Verdict.RELAXED,
        Code.CERTIFICATE_NOT_YET_VALID,
    ),
    (
        "wrong-name",
        Behaviour.STARTTLS,
        CertCase.WRONG_NAME,
        Verdict.RELAXED,
        Code.CERTIFICATE_HOST_MISMATCH,
    ),
    (
        "missing-intermediate",
        Behaviour.STARTTLS,
        CertCase.MISSING_INTERMEDIATE,
        Verdict.RELAXED,
        Code.INCOMPLETE_CHAIN,
    ),
    (
        "untrusted-root",
        Behaviour.STARTTLS,
        CertCase.UNTRUSTED_ROOT,
        Verdict.RELAXED,
        Code.CERTIFICATE_NOT_TRUSTED,
    ),
    (
        "no-starttls",
        Behaviour.NO_STARTTLS,
        CertCase.TRUSTED,
        Verdict.UNSUPPORTED,
        Code.STARTTLS_NOT_SUPPORTED,
    ),
    (
        "starttls-502",
        Behaviour.STARTTLS_502,
        CertCase.TRUSTED,
        Verdict.UNSUPPORTED,
        Code.STARTTLS_REFUSED,
    ),
    (
        "starttls-454",
        Behaviour.STARTTLS_454,
        CertCase.TRUSTED,
        Verdict.UNREACHABLE,
        Code.STARTTLS_REFUSED,
    ),
    (
        "aes128-only",
        Behaviour.AES128_ONLY,
        CertCase.TRUSTED,
        Verdict.UNSUPPORTED,
        Code.NO_AES256_SUITE,
    ),
    (
        "greeting-421",
        Behaviour.GREETING_421,
        CertCase.TRUSTED,
        Verdict.UNREACHABLE,
        Code.SMTP_GREETING_ERROR,
    ),
    ("ehlo-550", Behaviour.EHLO_550, CertCase.TRUSTED, Verdict.UNREACHABLE, Code.SMTP_REPLY_ERROR),
    (
        "huge-banner",
        Behaviour.HUGE_BANNER,
        CertCase.TRUSTED,
        Verdict.UNREACHABLE,
        Code.SMTP_PROTOCOL_ERROR,
    ),
    ("garbage", Behaviour.GARBAGE, CertCase.TRUSTED, Verdict.UNREACHABLE, Code.SMTP_PROTOCOL_ERROR),
]


def settings(timeout: float = 5.0) -> ProbeSettings:
    return ProbeSettings(timeout=timeout, ehlo_name="probe.example.test")


@pytest.mark.parametrize(
    ("behaviour", "case", "verdict", "code"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
async def test_verdict_of_one_host(
    pki: Pki,
    trust: TrustStore,
    behaviour: Behaviour,
    case: CertCase,
    verdict: Verdict,
    code: Code | None,
) -> None:
    port = free_port()
    async with SmtpServer(ADDRESS, port, behaviour, cert=pki.serve(case, HOST)) as server:
        result = await probe_host(
            HOST, ADDRESS, port, settings=settings(), trust=trust, clock=system_clock
        )
    assert result.verdict is verdict, result.reasons
    if code is None:
        assert result.reasons == ()
    else:
        assert result.reasons[0].code is code
        assert result.reasons[0].message
    assert result.connections == server.connections
    assert result.connections <= 2


async def test_strict_host_costs_one_connection_and_reports_facts(
    pki: Pki, trust: TrustStore
) -> None:
    port = free_port()
    served = pki.serve(CertCase.TRUSTED, HOST)
    async with SmtpServer(ADDRESS, port, cert=served) as server:
        result = await probe_host(
            HOST, ADDRESS, port, settings=settings(), trust=trust, clock=system_clock
        )
    assert result.verdict is Verdict.STRICT
    assert server.connections == result.connections == 1
    assert result.tls_version == "TLSv1.3"
    assert result.cipher == "TLS_AES_256_GCM_SHA384"
    assert result.aes256 is True
    assert result.reached
    assert result.starttls_offered
    cert = result.certificate
    assert cert is not None
    assert cert.sans == (HOST,)
    assert cert.chain_length == 2
    assert 88 <= cert.days_to_expiry <= 90
    assert "tlsbot test intermediate" in cert.issuer
    # EHLO twice (before and inside TLS), STARTTLS, QUIT; never DATA
    assert [c.split()[0] for c in server.commands] == ["EHLO", "STARTTLS", "EHLO", "QUIT"]
    assert server.commands[0] == "EHLO probe.example.test"


async def test_every_certificate_problem_is_named(trust: TrustStore, pki: Pki) -> None:
    # Given a self-signed, expired certificate for another name
    port = free_port()
    served = pki.serve(CertCase.EXPIRED, HOST, names=("elsewhere.example.test",))
    async with SmtpServer(ADDRESS, port, cert=served):
        result = await probe_host(
            HOST, ADDRESS, port, settings=settings(), trust=trust, clock=system_clock
        )
    codes = {r.code for r in result.reasons}
    assert result.verdict is Verdict.RELAXED
    assert {Code.CERTIFICATE_EXPIRED, Code.CERTIFICATE_HOST_MISMATCH} <= codes


@pytest.mark.skipif(not tls10_available(), reason="this OpenSSL cannot serve TLS 1.0")
async def test_tls10_only_server_is_recognised_as_too_old(pki: Pki, trust: TrustStore) -> None:
    port = free_port()
    served = pki.serve(CertCase.TRUSTED, HOST)
    async with SmtpServer(ADDRESS, port, Behaviour.TLS10_ONLY, cert=served) as server:
        result = await probe_host(
            HOST, ADDRESS, port, settings=settings(), trust=trust, clock=system_clock
        )
    assert result.verdict is Verdict.UNSUPPORTED
    assert result.reasons[0].code is Code.TLS_VERSION_TOO_OLD
    assert "TLS 1.0" in result.reasons[0].message
    assert result.offered_versions == ("TLSv1",)
    assert server.connections == 2


@pytest.mark.parametrize("accept", [True, False], ids=["accepted", "rejected"])
async def test_recipient_is_asked_inside_tls_and_never_data(
    pki: Pki, trust: TrustStore, accept: bool
) -> None:
    port = free_port()
    served = pki.serve(CertCase.TRUSTED, HOST)
    async with SmtpServer(ADDRESS, port, cert=served, accept_rcpt=accept) as server:
        result = await probe_host(
            HOST,
            ADDRESS,
            port,
            settings=settings(),
            trust=trust,
            clock=system_clock,
            email="who@example.test",
        )
    assert result.recipient_accepted is accept
    assert result.verdict is Verdict.STRICT
    assert (Code.RECIPIENT_REJECTED in {r.code for r in result.reasons}) is not accept
    verbs = [c.split()[0] for c in server.commands]
    assert verbs == ["EHLO", "STARTTLS", "EHLO", "MAIL", "RCPT", "QUIT"]
    assert "MAIL FROM:<>" in server.commands
    assert "DATA" not in verbs


async def test_refused_port_is_unreachable(trust: TrustStore) -> None:
    port = free_port()  # nobody listens there
    result = await probe_host(
        HOST, ADDRESS, port, settings=settings(), trust=trust, clock=system_clock
    )
    assert result.verdict is Verdict.UNREACHABLE
    assert result.reasons[0].code is Code.CONNECT_REFUSED
    assert result.connections == 1


@pytest.mark.parametrize(
    "behaviour", [Behaviour.TARPIT, Behaviour.DRIP, Behaviour.HUGE_BANNER], ids=str
)
async def test_a_stalling_server_costs_no_more_than_the_deadline(
    pki: Pki, trust: TrustStore, behaviour: Behaviour
) -> None:
    port = free_port()
    served = pki.serve(CertCase.TRUSTED, HOST)
    async with SmtpServer(ADDRESS, port, behaviour, cert=served, drip_interval=0.2):
        started = time.monotonic()
        result = await probe_host(
            HOST, ADDRESS, port, settings=settings(1.0), trust=trust, clock=system_clock
        )
        elapsed = time.monotonic() - started
    assert result.verdict is Verdict.UNREACHABLE
    assert elapsed < 1.5
    if behaviour is Behaviour.HUGE_BANNER:
        assert result.reasons[0].code is Code.SMTP_PROTOCOL_ERROR  # refused long before 1 MB
        assert elapsed < 0.5
    else:
        assert result.reasons[0].code is Code.TIMEOUT
        assert "greeting" in result.reasons[0].message


async def test_ipv6_loopback(pki: Pki, trust: TrustStore) -> None:
    port = free_port()
    served = pki.serve(CertCase.TRUSTED, HOST)
    try:
        server = SmtpServer("::1", port, cert=served)
        await server.__aenter__()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        result = await probe_host(
            HOST, "::1", port, settings=settings(), trust=trust, clock=system_clock
        )
    finally:
        await server.__aexit__(None, None, None)
    assert result.verdict is Verdict.STRICT


async def test_per_address_limit_holds_two_connections_at_once(pki: Pki, trust: TrustStore) -> None:
    port = free_port()
    served = pki.serve(CertCase.TRUSTED, HOST)
    limits = Limits(concurrency=10, per_address=2)
    async with SmtpServer(ADDRESS, port, cert=served, reply_delay=0.02):
        results = await asyncio.gather(
            *(
                probe_host(
                    HOST,
                    ADDRESS,
                    port,
                    settings=settings(),
                    trust=trust,
                    clock=system_clock,
                    limits=limits,
                )
                for _ in range(6)
            )
        )
    assert all(r.verdict is Verdict.STRICT for r in results)
    assert limits.peak_per_address[ADDRESS] == 2


SEAM = [
    ("refused", Step.CONNECT, ConnectionRefusedError(111, "refused"), ConnectRefused),
    ("connect-timeout", Step.CONNECT, TimeoutError(110, "timed out"), ConnectTimeout),
    ("unreachable-network", Step.CONNECT, OSError(101, "Network is unreachable"), ConnectFailed),
    ("tls-alert", Step.HANDSHAKE, ssl.SSLError(1, "alert"), HandshakeFailed),
    ("reset-in-handshake", Step.HANDSHAKE, ConnectionResetError(104, "reset"), HandshakeFailed),
    ("eof-in-handshake", Step.HANDSHAKE, EOFError(), HandshakeFailed),
    ("tls-error-later", Step.TLS_EHLO, ssl.SSLError(1, "bad record mac"), ConnectionLost),
    ("reset-later", Step.EHLO, ConnectionResetError(104, "reset"), ConnectionLost),
    ("garbage", Step.GREETING, SmtpProtocolError("not smtp"), ProtocolViolation),
]


@pytest.mark.parametrize(
    ("stage", "error", "expected"), [c[1:] for c in SEAM], ids=[c[0] for c in SEAM]
)
def test_one_seam_translates_low_level_errors(
    stage: Step, error: BaseException, expected: type[ProbeError]
) -> None:
    with pytest.raises(expected) as caught, translate(stage, "mx (192.0.2.1:25)"):
        raise error
    assert caught.value.__cause__ is error
    assert caught.value.reason().message


def test_the_deadline_passes_through_the_seam() -> None:
    with pytest.raises(asyncio.CancelledError), translate(Step.EHLO, "mx"):
        raise asyncio.CancelledError
