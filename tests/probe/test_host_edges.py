"""Edges of one host probe on loopback servers: cut handshakes, unprompted replies, facts that
survive a stalling server, follow-up connections that a connection limit turns away, and a
certificate the judgment cannot parse. Each server counts the connections it accepted."""

from __future__ import annotations

import time

import pytest

from bot.clock import system_clock
from bot.probe.certs import TrustStore
from bot.probe.host import probe_host
from bot.probe.model import Code, HostResult, Phase, Purpose, Verdict
from bot.probe.settings import ProbeSettings
from tests.support.certs import CertCase, Pki
from tests.support.smtp_server import Behaviour, SmtpServer, free_port

pytestmark = pytest.mark.timeout(30)

HOST = "mx1.example.test"
ADDRESS = "127.0.0.2"


def settings(timeout: float = 5.0) -> ProbeSettings:
    return ProbeSettings(timeout=timeout, ehlo_name="probe.example.test")


async def probe(server: SmtpServer, trust: TrustStore, timeout: float = 5.0) -> HostResult:
    return await probe_host(
        HOST,
        server.address,
        server.port,
        settings=settings(timeout),
        trust=trust,
        clock=system_clock,
    )


@pytest.mark.parametrize(
    "behaviour", [Behaviour.HANDSHAKE_CLOSE, Behaviour.HANDSHAKE_RESET], ids=["closed", "reset"]
)
async def test_a_handshake_cut_by_the_server_is_could_not_test(
    pki: Pki, trust: TrustStore, behaviour: Behaviour
) -> None:
    # Given a server that accepts STARTTLS, then drops the connection mid-handshake
    served = pki.serve(CertCase.TRUSTED, HOST)
    async with SmtpServer(ADDRESS, free_port(), behaviour, cert=served) as server:
        result = await probe(server, trust)
    # Then nothing was learnt about its TLS: Could not test, never TLS Not Supported
    assert result.verdict is Verdict.UNREACHABLE
    assert result.reasons[0].code is Code.CONNECT_FAILED
    assert "during the TLS handshake" in result.reasons[0].message
    assert result.connections == server.connections  # the first, and the old-TLS question
    assert result.attempts[0].outcome == Code.HANDSHAKE_FAILED.value


async def test_a_handshake_the_server_refuses_with_an_alert_is_not_supported(
    pki: Pki, trust: TrustStore
) -> None:
    # Given a server whose suites the probe never offers (AES-128 only, asked AES-256 only):
    # the AES-256 follow-up is refused with an alert, which is an answer
    served = pki.serve(CertCase.TRUSTED, HOST)
    async with SmtpServer(ADDRESS, free_port(), Behaviour.AES128_ONLY, cert=served) as server:
        result = await probe(server, trust)
    assert result.verdict is Verdict.UNSUPPORTED
    assert result.reasons[0].code is Code.NO_AES256_SUITE
    assert result.warnings == ()
    assert [a.purpose for a in result.attempts] == [Purpose.FIRST, Purpose.AES256]
    assert result.attempts[1].outcome == Code.HANDSHAKE_FAILED.value
    assert server.connections == 2


async def test_a_reply_sent_before_our_ehlo_is_a_protocol_error(
    pki: Pki, trust: TrustStore
) -> None:
    # Given a server that follows its banner with a 250 nobody asked for
    served = pki.serve(CertCase.TRUSTED, HOST)
    async with SmtpServer(ADDRESS, free_port(), Behaviour.EARLY_TALKER, cert=served) as server:
        result = await probe(server, trust)
    # Then it is not taken for the answer to EHLO (which would have said "no STARTTLS")
    assert result.verdict is Verdict.UNREACHABLE
    assert result.reasons[0].code is Code.SMTP_PROTOCOL_ERROR
    assert "nobody asked for" in result.reasons[0].message
    assert server.commands == []  # EHLO was never sent into that confusion
    assert server.connections == 1


@pytest.mark.parametrize(
    "behaviour", [Behaviour.TLS_EHLO_DRIP, Behaviour.TLS_GARBAGE], ids=["drip", "garbage"]
)
async def test_tls_facts_survive_a_server_that_misbehaves_after_the_handshake(
    pki: Pki, trust: TrustStore, behaviour: Behaviour
) -> None:
    # Given a server whose EHLO reply inside TLS drips to the deadline, or is garbage
    served = pki.serve(CertCase.TRUSTED, HOST)
    async with SmtpServer(
        ADDRESS, free_port(), behaviour, cert=served, drip_interval=0.2
    ) as server:
        started = time.monotonic()
        result = await probe(server, trust, timeout=1.0)
        elapsed = time.monotonic() - started
    # Then what the handshake proved stands, exactly alike in both cases
    assert result.verdict is Verdict.STRICT, result.reasons
    assert result.tls_version == "TLSv1.3"
    assert result.aes256 is True
    assert result.certificate is not None
    assert server.connections == result.connections == 1
    assert elapsed < 1.5


async def test_an_aes256_follow_up_asks_after_the_first_connection_closed(
    pki: Pki, trust: TrustStore
) -> None:
    # Given a TLS 1.2 server that prefers AES-128 but accepts AES-256
    served = pki.serve(CertCase.TRUSTED, HOST)
    async with SmtpServer(ADDRESS, free_port(), Behaviour.PREFER_AES128, cert=served) as server:
        result = await probe(server, trust)
    assert result.verdict is Verdict.STRICT
    assert "AES128" in (result.cipher or "")
    assert result.aes256 is True
    assert server.connections == result.connections == 2
    assert server.peak_active == 1  # one after another, never two at once


LIMITS = [
    # (id, server limit, outcome of the follow-up, connections the server accepted)
    ("rate-limit-421", {"min_interval": 30.0}, Code.SMTP_GREETING_ERROR.value, 2),
    ("refused", {"max_accepts": 1}, Code.CONNECT_REFUSED.value, 1),
]


@pytest.mark.parametrize(
    ("limit", "outcome", "accepted"), [c[1:] for c in LIMITS], ids=[c[0] for c in LIMITS]
)
async def test_a_follow_up_a_connection_limit_refuses_never_undoes_the_first(
    pki: Pki, trust: TrustStore, limit: dict[str, object], outcome: str, accepted: int
) -> None:
    # Given a good server that allows one connection per 30 s (Postfix anvil), or only one
    served = pki.serve(CertCase.TRUSTED, HOST)
    async with SmtpServer(
        ADDRESS,
        free_port(),
        Behaviour.PREFER_AES128,
        cert=served,
        **limit,  # type: ignore[arg-type]
    ) as server:
        result = await probe(server, trust)
    # Then what the first connection proved stands; the open question is a warning
    assert result.verdict is Verdict.STRICT, result.reasons
    assert result.aes256 is None
    (warning,) = result.warnings
    assert warning.code is Code.CHECK_INCOMPLETE
    assert warning.message.startswith("could not check whether an AES-256 suite is negotiable")
    assert [a.outcome for a in result.attempts] == ["ok", outcome]
    assert result.connections == 2
    assert server.connections == accepted
    assert server.turned_away == (1 if "min_interval" in limit else 0)


async def test_one_connection_at_a_time_is_respected(pki: Pki, trust: TrustStore) -> None:
    # Given a server that turns away a second concurrent connection
    served = pki.serve(CertCase.TRUSTED, HOST)
    async with SmtpServer(
        ADDRESS, free_port(), Behaviour.PREFER_AES128, cert=served, one_at_a_time=True
    ) as server:
        result = await probe(server, trust)
    # Then the probe never had two open, and its verdict is the first connection's either way
    assert server.peak_active == 1
    assert result.verdict is Verdict.STRICT
    assert result.aes256 is True or result.warnings[0].code is Code.CHECK_INCOMPLETE


async def test_each_connection_is_recorded_with_its_phases(pki: Pki, trust: TrustStore) -> None:
    served = pki.serve(CertCase.TRUSTED, HOST)
    async with SmtpServer(ADDRESS, free_port(), cert=served, reply_delay=0.05) as server:
        result = await probe(server, trust)
    (attempt,) = result.attempts
    phases = dict(attempt.phases_ms)
    assert attempt.purpose is Purpose.FIRST
    assert attempt.outcome == "ok"
    assert list(phases)[:5] == [
        Phase.CONNECT,
        Phase.BANNER,
        Phase.EHLO,
        Phase.STARTTLS,
        Phase.HANDSHAKE,
    ]
    for phase in (Phase.BANNER, Phase.EHLO, Phase.STARTTLS, Phase.TLS_EHLO):
        assert phases[phase] >= 45  # each waited for one delayed reply
    assert sum(phases.values()) <= result.elapsed_ms + 1
    assert server.connections == 1
    data = result.to_dict()
    assert data["family"] == "ipv4"
    assert data["attempts"][0]["phases_ms"]["banner"] >= 45


async def test_a_certificate_the_judgment_cannot_parse_is_a_reason_not_a_crash(
    pki: Pki, trust: TrustStore
) -> None:
    # Given a chain that verifies but whose SAN holds a 5-byte IP address
    served = pki.serve(CertCase.MALFORMED_IP_SAN, HOST)
    async with SmtpServer(ADDRESS, free_port(), cert=served) as server:
        result = await probe(server, trust)
    assert result.verdict is Verdict.RELAXED
    assert Code.VALIDATION_FAILURE in [r.code for r in result.reasons]
    assert result.tls_version is not None
    assert server.connections == 1
