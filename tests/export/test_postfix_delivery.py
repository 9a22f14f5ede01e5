"""Real Postfix enforces what the store says, looked up live through the socketmap.

Given partner domains whose MX hosts are loopback test SMTP servers found through
our loopback DNS, and policies in the store; when a private Postfix instance
(smtp_tls_policy_maps = our socketmap) sends them mail; then it defers or
delivers exactly as the policy demands.
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.clock import system_clock
from bot.export.snapshot import SnapshotCache
from bot.export.socketmap import SocketmapServer
from bot.export.store import DatabaseSource
from bot.policy.models import DomainPolicy
from tests.export.helpers import approve_added, approve_removed
from tests.export.postfix_support import (
    DNS_ADDRESS,
    MailSink,
    PortDnsServer,
    PostfixInstance,
    can_run_instance,
    loopback,
)
from tests.support.certs import CertCase, Pki
from tests.support.smtp_server import Behaviour

pytestmark = [
    pytest.mark.postfix,
    pytest.mark.db,
    pytest.mark.timeout(90),
    pytest.mark.skipif(can_run_instance() is not None, reason=str(can_run_instance())),
]


@dataclass(frozen=True)
class Partner:
    domain: str
    address: str  # the MX host's loopback address (port 25)
    behaviour: Behaviour
    cert: CertCase | None
    policy: str | None  # level in the store, None: no policy
    validated_mx: tuple[str, ...] = ()  # MX names the policy matches; default: the real one
    expected: str = "sent"
    reason: str = ""

    @property
    def mx(self) -> str:
        return f"mx.{self.domain}"


PARTNERS = [
    Partner(
        "notls.test",
        loopback(21),
        Behaviour.NO_STARTTLS,
        None,
        "strict",
        expected="deferred",
        reason=f"TLS is required, but was not offered by host mx.notls.test[{loopback(21)}]",
    ),
    Partner("trusted.test", loopback(22), Behaviour.STARTTLS, CertCase.TRUSTED, "strict"),
    Partner(
        "selfsigned.test",
        loopback(23),
        Behaviour.STARTTLS,
        CertCase.SELF_SIGNED,
        "strict",
        expected="deferred",
        reason="Server certificate not verified",
    ),
    Partner(
        "newmx.test",  # trusted certificate, but its MX is not among the validated ones
        loopback(24),
        Behaviour.STARTTLS,
        CertCase.TRUSTED,
        "strict",
        validated_mx=("mx-old.newmx.test",),
        expected="deferred",
        reason="Server certificate not verified",
    ),
    Partner("relaxed.test", loopback(25), Behaviour.STARTTLS, CertCase.SELF_SIGNED, "relaxed"),
    Partner("nopolicy.test", loopback(26), Behaviour.NO_STARTTLS, None, None),
]


@contextlib.asynccontextmanager
async def partners_running(pki: Pki) -> AsyncIterator[list[MailSink]]:
    sinks = []
    async with contextlib.AsyncExitStack() as stack:
        for p in PARTNERS:
            cert = pki.serve(p.cert, p.mx) if p.cert else None
            sink = MailSink(p.address, 25, p.behaviour, cert=cert, name=p.mx)
            sinks.append(await stack.enter_async_context(sink))
        yield sinks


@pytest.fixture
def store(engine: Engine) -> Engine:
    with Session(engine) as session:
        for p in PARTNERS:
            if p.policy:
                mx = list(p.validated_mx or (p.mx,))
                session.add(
                    DomainPolicy(
                        domain=p.domain,
                        level=p.policy,
                        mx_hosts=mx,
                        created_at=system_clock(),
                        updated_at=system_clock(),
                    )
                )
        session.add(
            DomainPolicy(
                domain="observed.test",
                level="strict",
                mode="observe",
                created_at=system_clock(),
                updated_at=system_clock(),
            )
        )
        session.commit()
    return engine


async def test_postfix_enforces_the_store_through_the_socketmap(
    store: Engine, tmp_path: Path
) -> None:
    pki = Pki.mint(tmp_path / "pki")
    records: dict[str, dict[str, str]] = {}
    for p in PARTNERS:
        records[p.domain] = {"MX": f"10 {p.mx}."}
        records[p.mx] = {"A": p.address}
    cache = SnapshotCache(DatabaseSource(store), refresh_interval=0.1)
    socketmap = SocketmapServer(cache)
    await socketmap.start("127.0.0.1", 0)
    try:
        async with PortDnsServer(records) as dns, partners_running(pki) as sinks:
            assert dns.address == (DNS_ADDRESS, 53)
            resolv = tmp_path / "resolv.conf"
            resolv.write_text(f"nameserver {DNS_ADDRESS}\noptions attempts:1 timeout:2\n")
            resolv.chmod(0o644)
            main = {
                "smtp_tls_policy_maps": f"socketmap:inet:127.0.0.1:{socketmap.port}:tls_policy",
            }
            instance = PostfixInstance(main, resolv)
            ca = instance.file("ca.pem", pki.ca_file.read_bytes())
            (instance.config / "main.cf").open("a").write(f"smtp_tls_CAfile = {ca}\n")
            async with instance as postfix:
                await postfix.send(*(f"user@{p.domain}" for p in PARTNERS))
                for p, sink in zip(PARTNERS, sinks, strict=True):
                    line = await postfix.wait_for_status(f"user@{p.domain}")
                    assert f"status={p.expected}" in line, line
                    assert p.reason in line, line
                    assert bool(sink.messages) == (p.expected == "sent"), p.domain
                log = postfix.log()
        assert "Verified TLS connection established to mx.trusted.test" in log
        assert "Untrusted TLS connection established to mx.relaxed.test" in log
        assert "TLS connection established to mx.nopolicy.test" not in log
        assert socketmap.lookups >= len(PARTNERS)
    finally:
        await socketmap.close()


def _smtp_dialogue(port: int, sender: str, *, tls: bool, ca: Path) -> tuple[int, bytes]:
    """MAIL FROM and RCPT TO on the instance's SMTP server; the RCPT reply."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo("partner-mta.test")
        if tls:
            context = ssl.create_default_context(cafile=str(ca))
            context.check_hostname = False  # connected by IP; the chain is still verified
            client.starttls(context=context)
            client.ehlo("partner-mta.test")
        code, _ = client.mail(sender)
        assert code == 250
        return client.rcpt("someone@company.test")


async def test_postfix_refuses_plaintext_from_a_policy_domain_through_the_socketmap(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    approve_added(session, "partner.test")
    pki = Pki.mint(tmp_path / "pki")
    served = pki.serve(CertCase.TRUSTED, "gateway.tlsbot.test")
    socketmap = SocketmapServer(SnapshotCache(DatabaseSource(engine), refresh_interval=0.1))
    await socketmap.start("127.0.0.1", 0)
    try:
        resolv = tmp_path / "resolv.conf"
        resolv.write_text(f"nameserver {DNS_ADDRESS}\noptions attempts:1 timeout:1\n")
        resolv.chmod(0o644)
        live = f"socketmap:inet:127.0.0.1:{socketmap.port}:tls_inbound"
        instance = PostfixInstance(
            {
                "smtpd_sender_restrictions": f"check_sender_access {live}",
                "smtpd_peername_lookup": "no",
                "relay_domains": "company.test",
                "transport_maps": "inline:{ company.test=discard: }",
            },
            resolv,
        )
        cert = instance.file("smtpd.pem", served.cert_file.read_bytes())
        key = instance.file("smtpd.key", served.key_file.read_bytes())
        with (instance.config / "main.cf").open("a") as main_cf:
            main_cf.write(f"smtpd_tls_cert_file = {cert}\nsmtpd_tls_key_file = {key}\n")
        async with instance as postfix:
            port, ca = postfix.smtpd_port, pki.ca_file

            def dialogue(sender: str, tls: bool) -> tuple[int, bytes]:
                return _smtp_dialogue(port, sender, tls=tls, ca=ca)

            code, text = await asyncio.to_thread(dialogue, "a@partner.test", False)
            assert (code, text) == (450, b"4.7.1 Session encryption is required")
            code, _ = await asyncio.to_thread(dialogue, "a@eu.partner.test", False)
            assert code == 450  # as a hash file would: parent domains match subdomains
            code, _ = await asyncio.to_thread(dialogue, "a@partner.test", True)
            assert code == 250
            code, _ = await asyncio.to_thread(dialogue, "a@elsewhere.test", False)
            assert code == 250
            approve_removed(session, "partner.test")  # no reload: the next lookup sees it
            await asyncio.sleep(0.4)
            code, _ = await asyncio.to_thread(dialogue, "a@partner.test", False)
            assert code == 250
    finally:
        await socketmap.close()
