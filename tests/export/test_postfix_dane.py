"""Real Postfix enforces dane-only as tlsbot publishes it, with the main.cf lines tlsbot prints.

Given a partner zone signed by the test DNS server (dnspython's ``dns.dnssec``), Debian's
``unbound`` validating it on loopback port 53 with that zone's trust anchor, and the
partner's MX, a loopback mail sink with a self-signed certificate named by a ``3 1 1``
TLSA record; when tlsbot validates the partner (*Strict - DANE verified*), the policy is
approved, and a private Postfix instance, configured with the ``main.cf`` lines tlsbot
prints for the socketmap (``smtp_dns_support_level = dnssec`` among them) and a
``resolv.conf`` naming that unbound with ``options trust-ad``, sends mail to it; then
Postfix delivers while the certificate matches, defers once it no longer matches its
TLSA record (a rollover without a TLSA update), and delivers again once the record is
updated.
"""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

import dns.asyncquery
import dns.flags
import dns.message
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.clock import system_clock
from bot.export.publish import socketmap_main_cf_lines
from bot.export.snapshot import SnapshotCache
from bot.export.socketmap import SocketmapServer
from bot.export.store import DatabaseSource
from bot.policy.approvals import approve
from bot.policy.requests import propose_add_domains
from bot.policy.validations import record_validation
from bot.probe.certs import TrustStore
from bot.probe.model import DANE_LABEL, Verdict
from bot.probe.prober import Prober
from bot.probe.settings import DnssecMode, ProbeSettings
from tests.export.postfix_support import MailSink, PostfixInstance, can_run_instance, loopback
from tests.policy.factories import ANN, BO, RULES, is_approver
from tests.support.certs import CertCase, Pki
from tests.support.dane_world import dane_ee
from tests.support.dns_server import DnsServer
from tests.support.unbound import Unbound, needs_unbound

pytestmark = [
    pytest.mark.postfix,
    pytest.mark.db,
    pytest.mark.timeout(120),
    needs_unbound,
    pytest.mark.skipif(can_run_instance() is not None, reason=str(can_run_instance())),
]

PARTNER, MX = "danepartner.test", "mx.danepartner.test"
MX_ADDRESS, RESOLVER = loopback(31), loopback(54)
TLSA_NAME = f"_25._tcp.{MX}"


def main_cf(text: str) -> dict[str, str]:
    """The ``key = value`` lines of what tlsbot printed (comments left out)."""
    settings = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    return settings


async def test_postfix_defers_to_a_dane_only_partner_whose_certificate_no_longer_matches(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    pki = Pki.mint(tmp_path / "pki")
    first = pki.serve(CertCase.SELF_SIGNED, MX)
    rolled = pki.serve(CertCase.SELF_SIGNED, MX, names=(MX,))  # a new key, same name
    records = {PARTNER: {"MX": f"10 {MX}."}, MX: {"A": MX_ADDRESS}}
    async with DnsServer(records, ipv6=False) as zone:
        zone.set(TLSA_NAME, "TLSA", dane_ee(first.leaf))
        anchor = zone.sign(PARTNER)
        with Unbound(
            tmp_path / "unbound",
            forward_to=zone.address,
            trust_anchors=[anchor],
            listen=(RESOLVER, 53),
        ) as resolver:
            sink = MailSink(MX_ADDRESS, 25, cert=first, name=MX)
            async with sink:
                # tlsbot validates the partner through the same resolver, and it is approved
                await validate_and_approve(session, pki, resolver)
                socketmap = SocketmapServer(
                    SnapshotCache(DatabaseSource(engine), refresh_interval=0.1)
                )
                await socketmap.start("127.0.0.1", 0)
                try:
                    tables = socketmap.cache.current()
                    assert tables is not None
                    assert tables.tls_policy[PARTNER].startswith("dane-only ")
                    printed = socketmap_main_cf_lines(
                        f"127.0.0.1:{socketmap.port}", dnssec=tables.needs_dnssec
                    )
                    settings = main_cf(printed)
                    assert settings["smtp_dns_support_level"] == "dnssec"
                    # The rig, not tlsbot: each delivery by a fresh smtp(8) process, which looks
                    # the TLSA records up again (a process keeps the TLS policy it built for
                    # a destination, its TLSA records included, for as long as it lives)
                    settings["max_use"] = "1"
                    resolv = tmp_path / "resolv.conf"
                    resolv.write_text(
                        f"nameserver {RESOLVER}\noptions trust-ad attempts:1 timeout:2\n"
                    )
                    resolv.chmod(0o644)
                    async with PostfixInstance(settings, resolv) as postfix:
                        # While the certificate matches its TLSA record: delivered
                        await postfix.send(f"one@{PARTNER}")
                        line = await postfix.wait_for_status(f"one@{PARTNER}")
                        assert "status=sent" in line, postfix.log()[-3000:]
                        assert len(sink.messages) == 1
                        # When it is rolled over without a new TLSA record: deferred
                        await sink.__aexit__(None, None, None)
                        sink = MailSink(MX_ADDRESS, 25, cert=rolled, name=MX)
                        await sink.__aenter__()
                        await postfix.send(f"two@{PARTNER}")
                        line = await postfix.wait_for_status(f"two@{PARTNER}")
                        assert "status=deferred" in line, postfix.log()[-3000:]
                        assert "Server certificate not verified" in line, line
                        assert sink.messages == []
                        # When the partner publishes the new certificate's record: delivered
                        zone.set(TLSA_NAME, "TLSA", dane_ee(rolled.leaf))
                        await resolved_as(resolver, dane_ee(rolled.leaf))
                        await postfix.send(f"three@{PARTNER}")
                        line = await postfix.wait_for_status(f"three@{PARTNER}")
                        assert "status=sent" in line, postfix.log()[-3000:]
                        log = postfix.log()
                    assert f"Verified TLS connection established to {MX}" in log, log[-3000:]
                    assert "num=65:no matching DANE TLSA records" in log, log[-3000:]
                finally:
                    await socketmap.close()
            await sink.__aexit__(None, None, None)


async def resolved_as(resolver: Unbound, record: str) -> None:
    """Until the validating resolver answers the new TLSA record, authenticated (AD)."""
    query = dns.message.make_query(TLSA_NAME, "TLSA", want_dnssec=True)
    for _ in range(50):
        answer = await dns.asyncquery.udp(query, resolver.address[0], port=53, timeout=1)
        found = [r.to_text() for rrset in answer.answer for r in rrset if rrset.rdtype == 52]
        if found == [record] and answer.flags & dns.flags.AD:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"unbound did not answer the new TLSA record: {found}")


async def validate_and_approve(session: Session, pki: Pki, resolver: Unbound) -> None:
    settings = ProbeSettings(
        dns_servers=(resolver.address,),
        dnssec=DnssecMode.RESOLVER,
        smtp_port=25,
        timeout=5.0,
        dns_timeout=2.0,
        allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        ehlo_name="gateway.tlsbot.test",
    )
    trust = TrustStore.load(pki.ca_file, system=False)
    result = await Prober(settings, clock=system_clock, trust=trust).probe_domain(PARTNER)
    assert result.verdict is Verdict.STRICT
    assert result.label == DANE_LABEL
    validation = record_validation(session=session, result=result, actor=ANN, now=system_clock())
    assert validation.id is not None
    request = propose_add_domains(
        session=session,
        requester=ANN,
        entries=[(PARTNER, validation.id)],
        rules=RULES,
        now=system_clock(),
    )
    assert request.id is not None
    approve(
        session=session,
        request_id=request.id,
        approver=BO,
        is_approver=is_approver,
        now=system_clock(),
    )
