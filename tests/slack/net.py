"""A small mail world on loopback for the Slack tests: DNS, SMTP servers, a real prober.

mx1.corp.test      an inbound route (A record switchable between servers)
partner.test       MX mx.partner.test   trusted certificate  → strict
supplier.test      MX mx.supplier.test  trusted certificate  → strict
self.test          MX mx.self.test      self-signed          → relaxed
plain.test         MX mx.plain.test     no STARTTLS          → unsupported
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
from tests.support.smtp_server import Behaviour, SmtpServer, free_port

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
ROUTE_GOOD = "127.0.4.1"
ROUTE_PLAIN = "127.0.4.9"


@dataclass
class Net:
    dns: DnsServer
    prober: Prober
    servers: dict[str, SmtpServer]


HOSTS = {
    "mx1.corp.test": (ROUTE_GOOD, CertCase.TRUSTED, Behaviour.STARTTLS),
    "mx.partner.test": ("127.0.4.2", CertCase.TRUSTED, Behaviour.STARTTLS),
    "mx.supplier.test": ("127.0.4.3", CertCase.TRUSTED, Behaviour.STARTTLS),
    "mx.self.test": ("127.0.4.4", CertCase.SELF_SIGNED, Behaviour.STARTTLS),
    "mx.plain.test": ("127.0.4.5", CertCase.TRUSTED, Behaviour.NO_STARTTLS),
    "plain.corp.test": (ROUTE_PLAIN, CertCase.TRUSTED, Behaviour.NO_STARTTLS),
}


@asynccontextmanager
async def mail_world(
    pki: Pki, *, reply_delay: float = 0.0, timeout: float = 3.0
) -> AsyncIterator[Net]:
    port = free_port()
    records: dict[str, dict[str, str | list[str]]] = {"mx1.corp.test": {"A": ROUTE_GOOD}}
    for domain in ("partner.test", "supplier.test", "self.test", "plain.test"):
        records[domain] = {"MX": f"10 mx.{domain}."}
    for host, (address, _, _) in HOSTS.items():
        records.setdefault(host, {})["A"] = address
    async with AsyncExitStack() as stack:
        dns = await stack.enter_async_context(DnsServer(records))
        servers = {}
        for host, (address, case, behaviour) in HOSTS.items():
            server = SmtpServer(
                address,
                port,
                behaviour=behaviour,
                cert=pki.serve(case, host),
                reply_delay=reply_delay,
                name=host,
            )
            servers[host] = await stack.enter_async_context(server)
        settings = ProbeSettings(
            dns_servers=dns.servers[:1],
            smtp_port=port,
            timeout=timeout,
            allow_networks=LOOPBACK,
            route_allow_networks=LOOPBACK,
            ehlo_name="tlsbot.corp.test",
        )
        prober = Prober(
            settings, clock=system_clock, trust=TrustStore.load(pki.ca_file, system=False)
        )
        yield Net(dns, prober, servers)
