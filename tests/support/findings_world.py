"""A partner that publishes more than its MX: MTA-STS, TLSA and TLS-RPT, all on loopback.

    sts.test        MX 10 mx1.sts.test, 20 mx2.sts.test  (both trusted STARTTLS servers)
    _mta-sts        v=STSv1; id=20260101   → https://mta-sts.sts.test/.well-known/mta-sts.txt
                    served by a real HTTPS server (``world.policy``), by default in enforce
                    mode covering mx1 only
    TLSA            at _PORT._tcp.mx1.sts.test, a record that matches no certificate
    TLS-RPT         v=TLSRPTv1; rua=mailto:tls@sts.test
    stale.test      MX mx.stale.test: a trusted chain plus an expired cross-signed root
                    that the valid path does not use (a certificate note)

``world.prober`` is a real :class:`~bot.probe.prober.Prober` with settings reaching all of it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from bot.clock import system_clock
from bot.probe.certs import TrustStore
from bot.probe.prober import Prober
from bot.probe.settings import ProbeSettings
from tests.support.certs import CertCase, Pki
from tests.support.dns_server import DnsServer
from tests.support.policy_server import PolicyServer
from tests.support.smtp_server import SmtpServer, free_port

DOMAIN = "sts.test"
MX = {"mx1.sts.test": "127.0.11.1", "mx2.sts.test": "127.0.11.2"}
POLICY_ADDRESS = "127.0.11.9"
STALE = ("stale.test", "mx.stale.test", "127.0.11.3")
TLSA = "3 1 1 " + "00" * 32
TLS_RPT = "v=TLSRPTv1; rua=mailto:tls@sts.test"
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


def policy(mode: str, *mx: str) -> str:
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {m}" for m in mx), "max_age: 86400"]
    return "\r\n".join(lines) + "\r\n"


ENFORCE_MX1 = policy("enforce", "mx1.sts.test")


@dataclass
class FindingsWorld:
    dns: DnsServer
    policy: PolicyServer
    prober: Prober
    port: int


@asynccontextmanager
async def findings_world(pki: Pki) -> AsyncIterator[FindingsWorld]:
    port = free_port()
    records: dict[str, dict[str, str | list[str]]] = {
        DOMAIN: {"MX": [f"{10 * (i + 1)} {name}." for i, name in enumerate(MX)]},
        f"_mta-sts.{DOMAIN}": {"TXT": "v=STSv1; id=20260101"},
        f"mta-sts.{DOMAIN}": {"A": POLICY_ADDRESS},
        f"_smtp._tls.{DOMAIN}": {"TXT": TLS_RPT},
        f"_{port}._tcp.mx1.sts.test": {"TLSA": TLSA},
    }
    for name, address in MX.items():
        records[name] = {"A": address}
    stale_domain, stale_mx, stale_address = STALE
    records[stale_domain] = {"MX": f"10 {stale_mx}."}
    records[stale_mx] = {"A": stale_address}
    async with AsyncExitStack() as stack:
        dns = await stack.enter_async_context(DnsServer(records))
        for name, address in MX.items():
            cert = pki.serve(CertCase.TRUSTED, name)
            await stack.enter_async_context(SmtpServer(address, port, cert=cert, name=name))
        stale = pki.serve(CertCase.STALE_CROSS_SIGN, stale_mx)
        await stack.enter_async_context(SmtpServer(stale_address, port, cert=stale, name=stale_mx))
        served = pki.serve(CertCase.TRUSTED, f"mta-sts.{DOMAIN}")
        server = await stack.enter_async_context(PolicyServer(POLICY_ADDRESS, served, ENFORCE_MX1))
        settings = ProbeSettings(
            dns_servers=dns.servers[:1],
            smtp_port=port,
            ca_file=pki.ca_file,
            timeout=3.0,
            allow_networks=LOOPBACK,
            route_allow_networks=LOOPBACK,
            ehlo_name="tlsbot.corp.test",
            dns_timeout=2.0,
            mta_sts_port=server.port,
            mta_sts_timeout=2.0,
        )
        trust = TrustStore.load(pki.ca_file, system=False)
        yield FindingsWorld(dns, server, Prober(settings, clock=system_clock, trust=trust), port)
