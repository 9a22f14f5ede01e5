"""The composed probe: DNS, guard, parallel host probes under limits, one result per target."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.clock import system_clock
from bot.probe.certs import TrustStore
from bot.probe.model import Code, TargetKind, TargetResult, Verdict
from bot.probe.prober import Prober, Target
from bot.probe.settings import ProbeSettings
from tests.support.certs import CertCase, Pki
from tests.support.dns_server import DnsServer
from tests.support.smtp_server import Behaviour, SmtpServer, free_port

pytestmark = pytest.mark.timeout(30)
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@dataclass
class Net:
    dns: DnsServer
    port: int
    servers: dict[str, SmtpServer]

    def settings(self, **kw: object) -> ProbeSettings:
        base: dict[str, object] = {
            "dns_servers": self.dns.servers[:1],
            "smtp_port": self.port,
            "timeout": 3.0,
            "allow_networks": LOOPBACK,
            "ehlo_name": "probe.example.test",
        }
        base.update(kw)
        return ProbeSettings(**base)  # type: ignore[arg-type]


@pytest.fixture
async def net(pki: Pki) -> AsyncIterator[Net]:
    port = free_port()
    records = {
        "one.test": {"MX": ["20 mx2.one.test.", "10 mx1.one.test."]},
        "mx1.one.test": {"A": "127.0.3.1"},
        "mx2.one.test": {"A": "127.0.3.2"},
        "two.test": {"MX": "10 mx1.one.test."},  # shares a host with one.test
        "mapped.test": {"MX": "10 mx.mapped.test."},
        "mx.mapped.test": {"A": "127.0.3.1", "AAAA": "::ffff:10.0.0.1"},
        "nullmx.test": {"MX": "0 ."},
        "noaddr.test": {"MX": "10 mx.noaddr.test."},
        "mx.noaddr.test": {"TXT": "nothing here"},
    }
    servers = {
        "127.0.3.1": SmtpServer(
            "127.0.3.1", port, cert=pki.serve(CertCase.TRUSTED, "mx1.one.test"), reply_delay=0.1
        ),
        "127.0.3.2": SmtpServer(
            "127.0.3.2", port, cert=pki.serve(CertCase.TRUSTED, "mx2.one.test"), reply_delay=0.1
        ),
    }
    async with DnsServer(records) as dns:
        for server in servers.values():
            await server.__aenter__()
        try:
            yield Net(dns, port, servers)
        finally:
            for server in servers.values():
                await server.__aexit__(None, None, None)


async def test_domain_hosts_by_preference_probed_in_parallel(net: Net, trust: TrustStore) -> None:
    prober = Prober(net.settings(), clock=system_clock, trust=trust)
    started = time.monotonic()
    result = await prober.probe_domain("One.Test.")
    elapsed = time.monotonic() - started
    assert result.domain == "one.test"
    assert result.mx == ("mx1.one.test", "mx2.one.test")
    assert [h.host for h in result.hosts] == ["mx1.one.test", "mx2.one.test"]
    assert result.verdict is Verdict.STRICT
    one_after_the_other = sum(h.elapsed_ms for h in result.hosts) / 1000
    assert elapsed < one_after_the_other * 0.85  # the two hosts were probed in parallel


async def test_batch_resolves_each_name_once_and_reports_progress(
    net: Net, trust: TrustStore
) -> None:
    prober = Prober(net.settings(), clock=system_clock, trust=trust)
    seen: list[tuple[int, int, str]] = []

    def progress(done: int, total: int, result: TargetResult) -> None:
        seen.append((done, total, result.target))

    targets: list[Target | str] = [Target.guess("one.test"), "two.test", "x@two.test"]
    results = await prober.probe_many(targets, on_progress=progress)
    assert [r.target for r in results] == ["one.test", "two.test", "x@two.test"]
    assert [r.kind for r in results] == [TargetKind.DOMAIN, TargetKind.DOMAIN, TargetKind.EMAIL]
    assert sorted(d for d, _, _ in seen) == [1, 2, 3]
    assert all(total == 3 for _, total, _ in seen)
    a_queries = [q for q in net.dns.queries if q.name.rstrip(".") == "mx1.one.test"]
    assert len([q for q in a_queries if q.rdtype == "A"]) == 1


async def test_global_limit_caps_probes_in_flight(net: Net, trust: TrustStore) -> None:
    prober = Prober(net.settings(concurrency=1), clock=system_clock, trust=trust)
    await prober.probe_many([Target.guess("one.test"), Target.guess("two.test")])
    assert prober.limits.peak == 1


async def test_every_address_is_vetted_mapped_private_refused(net: Net, trust: TrustStore) -> None:
    prober = Prober(net.settings(), clock=system_clock, trust=trust)
    result = await prober.probe_domain("mapped.test")
    by_address = {ipaddress.ip_address(h.address or ""): h for h in result.hosts}
    mapped = ipaddress.ip_address("::ffff:10.0.0.1")
    assert set(by_address) == {ipaddress.ip_address("127.0.3.1"), mapped}  # both families
    refused = by_address[mapped]
    assert refused.verdict is Verdict.UNREACHABLE
    assert refused.reasons[0].code is Code.ADDRESS_NOT_PUBLIC
    assert refused.connections == 0
    assert not refused.counted
    # the other address was tested (its certificate names mx1.one.test): its verdict counts,
    # and the address that could not be tested is a warning
    assert result.verdict is Verdict.RELAXED
    assert [w.code for w in result.warnings] == [Code.ADDRESS_NOT_TESTED]
    assert "10.0.0.1" in result.warnings[0].message


@pytest.mark.parametrize(
    ("domain", "code"),
    [
        ("nullmx.test", Code.NULL_MX),
        ("nosuch.test", Code.DNS_NXDOMAIN),
        ("a..b", Code.INVALID_DOMAIN),
    ],
    ids=["null-mx", "nxdomain", "invalid"],
)
async def test_domain_level_problems(net: Net, trust: TrustStore, domain: str, code: Code) -> None:
    result = await Prober(net.settings(), clock=system_clock, trust=trust).probe_domain(domain)
    assert result.verdict is Verdict.UNREACHABLE
    assert result.hosts == ()
    assert result.reasons[0].code is code


async def test_mx_without_address(net: Net, trust: TrustStore) -> None:
    result = await Prober(net.settings(), clock=system_clock, trust=trust).probe_domain(
        "noaddr.test"
    )
    (host,) = result.hosts
    assert host.address is None
    assert host.reasons[0].code is Code.NO_ADDRESS


async def test_email_must_be_valid(net: Net, trust: TrustStore) -> None:
    result = await Prober(net.settings(), clock=system_clock, trust=trust).probe_email(
        "not an address"
    )
    assert result.kind is TargetKind.EMAIL
    assert result.reasons[0].code is Code.INVALID_ADDRESS


async def test_route_port_and_allow_list(net: Net, trust: TrustStore) -> None:
    closed = Prober(net.settings(), clock=system_clock, trust=trust)
    refused = await closed.probe_route("mx1.one.test")
    assert refused.hosts[0].reasons[0].code is Code.ADDRESS_NOT_PUBLIC
    open_ = Prober(
        net.settings(route_allow_networks=LOOPBACK, smtp_port=1), clock=system_clock, trust=trust
    )
    result = await open_.probe_route("mx1.one.test", net.port)
    assert result.kind is TargetKind.ROUTE
    assert result.verdict is Verdict.STRICT
    assert result.hosts[0].port == net.port


async def test_tarpit_host_does_not_slow_the_others(pki: Pki, trust: TrustStore) -> None:
    port = free_port()
    records = {
        "fast.test": {"MX": "10 mx.fast.test."},
        "mx.fast.test": {"A": "127.0.4.1"},
        "slow.test": {"MX": "10 mx.slow.test."},
        "mx.slow.test": {"A": "127.0.4.2"},
    }
    fast = SmtpServer("127.0.4.1", port, cert=pki.serve(CertCase.TRUSTED, "mx.fast.test"))
    slow = SmtpServer("127.0.4.2", port, Behaviour.TARPIT)
    async with DnsServer(records) as dns, fast, slow:
        settings = ProbeSettings(
            dns_servers=dns.servers[:1],
            smtp_port=port,
            timeout=1.0,
            allow_networks=LOOPBACK,
            ehlo_name="probe.example.test",
        )
        prober = Prober(settings, clock=system_clock, trust=trust)
        started = time.monotonic()
        results = await prober.probe_many([Target.guess("fast.test"), Target.guess("slow.test")])
        elapsed = time.monotonic() - started
    assert [r.verdict for r in results] == [Verdict.STRICT, Verdict.UNREACHABLE]
    assert results[1].hosts[0].reasons[0].code is Code.TIMEOUT
    assert results[0].elapsed_ms < 900
    assert elapsed < 1.6


async def test_route_with_an_email_reports_whether_the_recipient_is_accepted(
    net: Net, trust: TrustStore
) -> None:
    # Given a route validated with one of our own addresses, the probe asks RCPT TO inside TLS
    prober = Prober(net.settings(route_allow_networks=LOOPBACK), clock=system_clock, trust=trust)
    server = net.servers["127.0.3.1"]
    accepted = await prober.probe_route("mx1.one.test", net.port, email="postmaster@corp.test")
    assert accepted.verdict is Verdict.STRICT
    assert accepted.hosts[0].recipient_accepted is True
    assert any(c.startswith("RCPT TO:<postmaster@corp.test>") for c in server.commands)
    assert not any(c.startswith("DATA") for c in server.commands)
    # When the route refuses the recipient, that is reported, and the verdict stays the TLS one
    server.accept_rcpt = False
    rejected = await prober.probe_route("mx1.one.test", net.port, email="postmaster@corp.test")
    assert rejected.verdict is Verdict.STRICT
    assert rejected.hosts[0].recipient_accepted is False
    assert Code.RECIPIENT_REJECTED in [r.code for r in rejected.hosts[0].reasons]
    # A malformed address is refused before anything is probed
    before = server.connections
    bad = await prober.probe_route("mx1.one.test", net.port, email="not an address")
    assert bad.reasons[0].code is Code.INVALID_ADDRESS
    assert server.connections == before
