"""A batch in the networks users run in, on loopback DNS and SMTP servers that count connections:
address families like an MTA, addresses that refuse or black-hole while another is tested,
one probe per (host, address, port) shared by every domain of a batch and of a monitoring
round, recipients asked on the one shared session, IP-literal and null MX as target facts,
and nothing a server sends taking the batch down."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.clock import system_clock
from bot.config import ConfigError, Settings
from bot.policy.monitor.sink import RecordingSink
from bot.policy.monitor.sweep import MonitorConfig, sweep
from bot.probe.certs import TrustStore
from bot.probe.families import RouteCheck, family_refusal, system_route
from bot.probe.model import Code, Family, Verdict
from bot.probe.prober import Prober, Target
from bot.probe.settings import AddressFamilies, ProbeSettings
from tests.monitor.harness import add_policy
from tests.support.certs import CertCase, Pki
from tests.support.dns_server import DnsServer
from tests.support.smtp_server import BlackHole, SmtpServer, free_port

pytestmark = pytest.mark.timeout(30)
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
SHARED = "127.0.8.1"  # mx.shared.test: the MX host of every shared-*.test domain
SECOND = "127.0.8.2"  # dual.test's second IPv4 address (refusing or black-holed per test)
BAD_CERT = "127.0.8.3"  # serves a certificate the judgment cannot parse


def ipv4_only(address: str) -> bool:
    """This machine, as far as the probe knows, has no IPv6 route at all."""
    return ":" not in address


@dataclass
class World:
    dns: DnsServer
    port: int
    shared: SmtpServer
    trust: TrustStore

    def prober(self, routes: RouteCheck = ipv4_only, **kw: object) -> Prober:
        base: dict[str, object] = {
            "dns_servers": self.dns.servers[:1],
            "smtp_port": self.port,
            "timeout": 3.0,
            "allow_networks": LOOPBACK,
            "ehlo_name": "probe.example.test",
            "sibling_grace": 0.3,
        }
        base.update(kw)
        settings = ProbeSettings(**base)  # type: ignore[arg-type]
        return Prober(settings, clock=system_clock, trust=self.trust, routes=routes, extras=False)


@pytest.fixture
async def world(pki: Pki, trust: TrustStore) -> AsyncIterator[World]:
    port = free_port()
    records: dict[str, dict[str, object]] = {
        f"shared-{i}.test": {"MX": "10 mx.shared.test."} for i in range(10)
    }
    records |= {
        "mx.shared.test": {"A": SHARED},
        # Google/Microsoft style: every MX host has A and AAAA
        "dual.test": {"MX": "10 mx.dual.test."},
        "mx.dual.test": {"A": [SHARED, SECOND], "AAAA": "::1"},
        "v6only.test": {"MX": "10 mx.v6only.test."},
        "mx.v6only.test": {"AAAA": "::1"},
        "literal.test": {"MX": "10 127.0.8.1."},
        "mixed.test": {"MX": ["10 127.0.8.9.", "20 mx.shared.test."]},
        "nullmx.test": {"MX": "0 ."},
        "badcert.test": {"MX": "10 mx.badcert.test."},
        "mx.badcert.test": {"A": BAD_CERT},
    }
    served = pki.serve(CertCase.TRUSTED, "mx.shared.test", names=("mx.shared.test", "mx.dual.test"))
    shared = SmtpServer(SHARED, port, cert=served, reply_delay=0.02)
    async with DnsServer(records) as dns, shared:  # type: ignore[arg-type]
        yield World(dns, port, shared, trust)


# -- address families ---------------------------------------------------------


async def test_no_ipv6_route_and_a_and_aaaa_is_strict_over_ipv4(world: World) -> None:
    # Given a machine without an IPv6 route, and an MX host with A and AAAA records
    world.dns.set("mx.dual.test", "A", SHARED)
    result = await world.prober().probe_domain("dual.test")
    # Then the verdict is the IPv4 one, and the IPv6 address is listed, not probed
    assert result.verdict is Verdict.STRICT, result.to_dict()
    v4, v6 = result.hosts
    assert (v4.family, v6.family) == (Family.IPV4, Family.IPV6)
    assert v4.counted
    assert v4.connections == 1
    assert v6.reasons[0].code is Code.NO_ROUTE_IPV6
    assert v6.connections == 0
    assert not v6.counted
    assert result.warnings == ()  # a family this machine cannot reach is no warning
    assert result.validated_hosts == ("mx.dual.test",)
    assert world.shared.connections == 1


async def test_a_host_with_no_testable_address_stays_unreachable(world: World) -> None:
    result = await world.prober().probe_domain("v6only.test")
    assert result.verdict is Verdict.UNREACHABLE
    (only,) = result.hosts
    assert only.reasons[0].code is Code.NO_ROUTE_IPV6
    assert only.counted


@pytest.mark.parametrize(
    ("families", "v4_code", "v6_code"),
    [
        (AddressFamilies.IPV4, None, Code.FAMILY_NOT_PROBED),
        (AddressFamilies.IPV6, Code.FAMILY_NOT_PROBED, None),
        (AddressFamilies.ALL, None, None),
    ],
    ids=str,
)
async def test_each_setting_of_the_address_families(
    world: World, families: AddressFamilies, v4_code: Code | None, v6_code: Code | None
) -> None:
    # Whatever this machine's IPv6: the route check says "none", which only auto consults
    world.dns.set("mx.dual.test", "A", SHARED)
    prober = world.prober(address_families=families)
    v4, v6 = (await prober.probe_domain("dual.test")).hosts
    for entry, code in ((v4, v4_code), (v6, v6_code)):
        if code is None:
            assert entry.connections >= 1  # probed
        else:
            assert entry.reasons[0].code is code
            assert entry.connections == 0


def test_the_route_check_answers_for_loopback_and_sends_nothing() -> None:
    # The default check: a UDP connect(), which picks a route and sends no datagram
    assert system_route("127.0.0.1") is True
    refusal = family_refusal("::1", AddressFamilies.AUTO, ipv4_only)
    assert refusal is not None
    assert refusal.code is Code.NO_ROUTE_IPV6
    assert family_refusal("127.0.0.1", AddressFamilies.AUTO, ipv4_only) is None


# -- one address refusing or black-holed, another fully tested ----------------


async def test_a_refusing_address_beside_a_tested_one_is_a_warning(world: World) -> None:
    # Given mx.dual.test at two IPv4 addresses, nobody listening on the second
    result = await world.prober().probe_domain("dual.test")
    assert result.verdict is Verdict.STRICT
    refused = next(h for h in result.hosts if h.address == SECOND)
    assert refused.reasons[0].code is Code.CONNECT_REFUSED
    assert not refused.counted
    (warning,) = result.warnings
    assert warning.code is Code.ADDRESS_NOT_TESTED
    assert SECOND in warning.message
    assert "refused" in warning.message
    assert world.shared.connections == 1


async def test_a_black_hole_beside_a_tested_address_costs_a_grace_not_the_deadline(
    world: World,
) -> None:
    # Given the second address drops every SYN, with a 10 s deadline per host
    with BlackHole(SECOND, world.port):
        started = time.monotonic()
        result = await world.prober(timeout=10.0).probe_domain("dual.test")
        elapsed = time.monotonic() - started
    assert result.verdict is Verdict.STRICT
    cut = next(h for h in result.hosts if h.address == SECOND)
    assert cut.reasons[0].code is Code.TIMEOUT
    assert "not waited for further" in cut.reasons[0].message
    assert [w.code for w in result.warnings] == [Code.ADDRESS_NOT_TESTED]
    assert elapsed < 3.0  # the tested address settled it; not the 10 s deadline
    assert world.shared.connections == 1


# -- one probe per (host, address, port), shared -------------------------------


async def test_domains_sharing_an_mx_host_cost_one_connection(world: World) -> None:
    # Given ten domains and two email addresses that all use mx.shared.test
    targets: list[Target | str] = [f"shared-{i}.test" for i in range(10)]
    targets += ["ann@shared-1.test", "bo@shared-2.test"]
    results = await world.prober().probe_many(targets)
    assert all(r.verdict is Verdict.STRICT for r in results), [r.to_dict() for r in results]
    # Then one connection, one TLS session, one MAIL FROM and each recipient asked on it
    assert world.shared.connections == 1
    verbs = [c.split()[0] for c in world.shared.commands]
    assert verbs == ["EHLO", "STARTTLS", "EHLO", "MAIL", "RCPT", "RCPT", "QUIT"]
    assert {c for c in world.shared.commands if c.startswith("RCPT")} == {
        "RCPT TO:<ann@shared-1.test>",
        "RCPT TO:<bo@shared-2.test>",
    }
    by_target = {r.target: r for r in results}
    assert by_target["ann@shared-1.test"].hosts[0].recipient_accepted is True
    assert by_target["bo@shared-2.test"].hosts[0].recipient_accepted is True
    assert by_target["shared-1.test"].hosts[0].recipient_accepted is None


async def test_a_refused_recipient_is_that_target_s_own_fact(world: World) -> None:
    world.shared.accept_rcpt = False
    results = await world.prober().probe_many(["shared-1.test", "cy@shared-1.test"])
    domain, email = results
    assert email.hosts[0].recipient_accepted is False
    assert Code.RECIPIENT_REJECTED in [r.code for r in email.hosts[0].reasons]
    assert Code.RECIPIENT_REJECTED not in [r.code for r in domain.hosts[0].reasons]
    assert email.verdict is domain.verdict is Verdict.STRICT
    assert world.shared.connections == 1


async def test_one_batch_shares_its_probes_across_calls(world: World) -> None:
    batch = world.prober().batch()
    first = await batch.probe_domain("shared-1.test")
    second = await batch.probe_domain("shared-2.test")
    late = await batch.probe_domain("shared-3.test", email="dee@shared-3.test")
    assert first.verdict is second.verdict is late.verdict is Verdict.STRICT
    assert world.shared.connections == 1
    # the session had ended before this address was given: said so, no second session
    assert late.hosts[0].recipient_accepted is None
    assert Code.RECIPIENT_NOT_CHECKED in [r.code for r in late.hosts[0].reasons]


@pytest.mark.db
async def test_a_monitoring_round_probes_a_shared_host_once(
    world: World, engine: Engine, session: Session
) -> None:
    # Given ten policies whose domains share one MX host, claimed three at a time
    for i in range(10):
        add_policy(session, f"shared-{i}.test", ["mx.shared.test"])
    report = await sweep(
        engine=engine,
        prober=world.prober(),
        sink=RecordingSink(),
        clock=system_clock,
        config=MonitorConfig(batch=3),
        everything=True,
    )
    # Then the round checked them all over one connection
    assert report.checked == 10
    assert world.shared.connections == 1


# -- target facts, and nothing raising out of a batch -------------------------


async def test_an_mx_target_that_is_an_ip_address_is_a_target_error(world: World) -> None:
    result = await world.prober().probe_domain("literal.test")
    assert result.hosts == ()
    assert result.reasons[0].code is Code.MX_IP_LITERAL
    assert "mail servers ignore it" in result.reasons[0].message
    assert result.label == "MX target is an IP address"
    assert result.verdict is Verdict.UNREACHABLE
    assert world.shared.connections == 0  # not judged like a host


async def test_an_ip_literal_beside_a_named_mx_is_ignored_with_a_warning(world: World) -> None:
    result = await world.prober().probe_domain("mixed.test")
    assert result.verdict is Verdict.STRICT
    assert result.mx == ("mx.shared.test",)
    assert [w.code for w in result.warnings] == [Code.MX_IP_LITERAL]


async def test_a_null_mx_has_its_own_label(world: World) -> None:
    result = await world.prober().probe_domain("nullmx.test")
    assert result.reasons[0].code is Code.NULL_MX
    assert result.label == "Accepts no mail (null MX)"
    assert result.to_dict()["label"] == "Accepts no mail (null MX)"
    assert result.hosts == ()
    assert world.shared.connections == 0


async def test_a_certificate_that_breaks_the_judgment_leaves_the_batch_standing(
    world: World, pki: Pki
) -> None:
    bad = SmtpServer(BAD_CERT, world.port, cert=pki.serve(CertCase.MALFORMED_IP_SAN, "mx"))
    async with bad:
        results = await world.prober().probe_many(["badcert.test", "shared-1.test"])
    broken, good = results
    assert broken.verdict is Verdict.RELAXED
    assert Code.VALIDATION_FAILURE in [r.code for r in broken.hosts[0].reasons]
    assert good.verdict is Verdict.STRICT
    assert bad.connections == 1


async def test_an_exception_in_one_target_is_its_reason_and_the_batch_goes_on(
    world: World,
) -> None:
    # Given a route check that fails on one address (a bug anywhere in a target's probe)
    def broken_for_one(address: str) -> bool:
        if address == BAD_CERT:
            raise RuntimeError("route table unreadable")
        return True

    results = await world.prober(routes=broken_for_one).probe_many(
        ["badcert.test", "shared-1.test"]
    )
    broken, good = results
    assert broken.verdict is Verdict.UNREACHABLE
    assert broken.reasons[0].code is Code.PROBE_ERROR
    assert "route table unreadable" in broken.reasons[0].message
    assert good.verdict is Verdict.STRICT


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, AddressFamilies.AUTO), ("ipv4", AddressFamilies.IPV4), ("ALL", AddressFamilies.ALL)],
    ids=["default", "ipv4", "any-case"],
)
def test_the_address_families_setting(value: str | None, expected: AddressFamilies) -> None:
    env = {} if value is None else {"TLSBOT_PROBE_ADDRESS_FAMILIES": value}
    assert Settings.from_env(env).probe.address_families is expected


def test_a_bad_address_families_setting_is_one_line_naming_it() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"TLSBOT_PROBE_ADDRESS_FAMILIES": "ipv5"})
    assert str(caught.value) == (
        "TLSBOT_PROBE_ADDRESS_FAMILIES='ipv5' is not one of auto, ipv4, ipv6, all"
    )
