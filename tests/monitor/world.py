"""A loopback world for the monitor: DNS, MX hosts whose certificates are swapped between checks.

    async with MonitorWorld.start(pki, {"partner.test": ["mx1.partner.test"]}) as world:
        await world.mx["mx1.partner.test"].serve(CertCase.SELF_SIGNED)
        prober = world.prober()

Every MX host has its own loopback address on one shared port; ``serve`` stops the
server running there and starts another (another certificate, another behaviour),
``stop`` leaves the address with nobody listening (connection refused).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bot.clock import system_clock
from bot.probe.certs import TrustStore
from bot.probe.prober import Prober
from bot.probe.settings import ProbeSettings
from tests.support.certs import CertCase, Pki, ServedCert, _leaf
from tests.support.dns_server import DnsServer
from tests.support.smtp_server import Behaviour, SmtpServer, free_port

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


def short_lived(pki: Pki, host: str, days: float) -> ServedCert:
    """A trusted leaf for ``host`` (from the test intermediate) that expires in ``days``."""
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _leaf(
        host, (host,), key, pki.intermediate, now - timedelta(days=1), now + timedelta(days=days)
    )
    stem = pki.directory / f"short-{host}-{cert.serial_number}"
    cert_file, key_file = stem.with_suffix(".pem"), stem.with_suffix(".key")
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + pki.intermediate.pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ServedCert(cert_file, key_file, cert)


@dataclass
class Mx:
    name: str
    address: str
    port: int
    pki: Pki
    server: SmtpServer | None = None

    async def serve(
        self,
        case: CertCase | ServedCert = CertCase.TRUSTED,
        behaviour: Behaviour = Behaviour.STARTTLS,
    ) -> None:
        await self.stop()
        cert = case if isinstance(case, ServedCert) else self.pki.serve(case, self.name)
        self.server = SmtpServer(self.address, self.port, behaviour, cert=cert, name=self.name)
        await self.server.__aenter__()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.__aexit__(None, None, None)
            self.server = None


@dataclass
class MonitorWorld:
    pki: Pki
    dns: DnsServer
    port: int
    mx: dict[str, Mx] = field(default_factory=dict)

    @classmethod
    async def start(
        cls, pki: Pki, domains: dict[str, list[str]], spare: tuple[str, ...] = ()
    ) -> MonitorWorld:
        """``domains``: domain → its MX names (served trusted); ``spare``: hosts with an A only."""
        port = free_port()
        records: dict[str, dict[str, object]] = {}
        hosts: list[str] = []
        for domain, names in domains.items():
            records[domain] = {"MX": [f"{10 * (i + 1)} {n}." for i, n in enumerate(names)]}
            hosts += names
        hosts += list(spare)
        world = cls(pki, DnsServer(records), port)  # type: ignore[arg-type]
        for i, name in enumerate(dict.fromkeys(hosts)):
            address = f"127.0.4.{i + 2}"
            world.dns.set(name, "A", address)
            world.mx[name] = Mx(name, address, port, pki)
        await world.dns.start()
        for name in dict.fromkeys(h for names in domains.values() for h in names):
            await world.mx[name].serve()
        for name in spare:
            await world.mx[name].serve()
        return world

    def set_mx(self, domain: str, *names: str) -> None:
        self.dns.set(domain, "MX", *(f"{10 * (i + 1)} {n}." for i, n in enumerate(names)))

    def settings(self) -> ProbeSettings:
        return ProbeSettings(
            dns_servers=self.dns.servers[:1],
            smtp_port=self.port,
            ca_file=self.pki.ca_file,
            timeout=2.0,
            concurrency=8,
            allow_networks=LOOPBACK,
            route_allow_networks=LOOPBACK,
            ehlo_name="probe.example.test",
            dns_timeout=2.0,
            mta_sts_timeout=1.0,
        )

    def prober(self) -> Prober:
        return Prober(
            self.settings(),
            clock=system_clock,
            trust=TrustStore.load(self.pki.ca_file, system=False),
        )

    async def __aenter__(self) -> MonitorWorld:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for mx in self.mx.values():
            await mx.stop()
        await self.dns.stop()
