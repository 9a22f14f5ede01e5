"""The resolver against a real DNS server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.probe.dns import Resolver
from bot.probe.model import Code
from bot.probe.settings import ProbeSettings
from tests.support.dns_server import Behaviour, DnsServer, Records

pytestmark = pytest.mark.timeout(15)

TLSA = "3 1 1 " + "ab" * 32
ZONE: Records = {
    "example.test": {
        "MX": ["20 mx2.example.test.", "10 mx1.example.test.", "10 b.example.test."],
        "TXT": ["v=spf1 -all"],
    },
    "mx1.example.test": {"A": ["127.0.0.1", "127.0.0.2"], "AAAA": "::1"},
    "mx2.example.test": {"A": "127.0.0.3"},
    "b.example.test": {"AAAA": "::1"},
    "alias.example.test": {"CNAME": "alias2.example.test."},
    "alias2.example.test": {"CNAME": "mx1.example.test."},
    "dangling.example.test": {"CNAME": "gone.example.test."},
    "loop.example.test": {"CNAME": "loop.example.test."},
    "mailalias.test": {"CNAME": "example.test."},
    "implicit.test": {"A": "127.0.0.5"},
    "null.test": {"MX": "0 ."},
    "mixednull.test": {"MX": ["0 .", "10 mx1.example.test."]},
    "noaddr.test": {"TXT": "nothing here"},
    "_25._tcp.mx1.example.test": {"TLSA": TLSA},
    "xn--bcher-kva.test": {"MX": "10 mx1.example.test."},
    "dup.test": {"MX": ["10 mx1.example.test.", "20 mx1.example.test."]},
}


@pytest.fixture
async def server() -> AsyncIterator[DnsServer]:
    async with DnsServer(ZONE) as srv:
        yield srv


def resolver_for(server: DnsServer, timeout: float = 0.6) -> Resolver:
    return Resolver(ProbeSettings(dns_servers=server.servers[:1], dns_timeout=timeout))


async def test_mx_hosts_come_by_preference_then_name(server: DnsServer) -> None:
    result = await resolver_for(server).mx("example.test")
    assert result.error is None
    assert not result.implicit
    assert [(h.preference, h.name) for h in result.hosts] == [
        (10, "b.example.test"),
        (10, "mx1.example.test"),
        (20, "mx2.example.test"),
    ]
    assert result.names == ("b.example.test", "mx1.example.test", "mx2.example.test")


@pytest.mark.parametrize(
    "given",
    [
        pytest.param("EXAMPLE.test", id="upper-case"),
        pytest.param("example.test.", id="trailing-dot"),
        pytest.param("  example.test ", id="spaces-around"),
    ],
)
async def test_mx_normalises_the_domain(server: DnsServer, given: str) -> None:
    result = await resolver_for(server).mx(given)
    assert result.domain == "example.test"
    assert len(result.hosts) == 3


async def test_mx_of_an_idn_is_asked_as_a_labels(server: DnsServer) -> None:
    result = await resolver_for(server).mx("bücher.test")
    assert result.domain == "xn--bcher-kva.test"
    assert result.names == ("mx1.example.test",)
    assert server.queries[-1].name == "xn--bcher-kva.test"


async def test_a_host_listed_twice_is_kept_at_its_best_preference(server: DnsServer) -> None:
    result = await resolver_for(server).mx("dup.test")
    assert [(h.preference, h.name) for h in result.hosts] == [(10, "mx1.example.test")]


async def test_no_mx_record_means_the_domain_itself(server: DnsServer) -> None:
    result = await resolver_for(server).mx("implicit.test")
    assert result.error is None
    assert result.implicit
    assert result.names == ("implicit.test",)


async def test_null_mx_is_an_error_not_a_host(server: DnsServer) -> None:
    result = await resolver_for(server).mx("null.test")
    assert result.hosts == ()
    assert result.error is not None
    assert result.error.code is Code.NULL_MX
    assert "accepts no mail" in result.error.message


async def test_null_mx_mixed_with_real_hosts_is_ignored(server: DnsServer) -> None:
    result = await resolver_for(server).mx("mixednull.test")
    assert result.error is None
    assert result.names == ("mx1.example.test",)


async def test_mx_through_a_cname_at_the_domain(server: DnsServer) -> None:
    result = await resolver_for(server).mx("mailalias.test")
    assert result.names == ("b.example.test", "mx1.example.test", "mx2.example.test")


@pytest.mark.parametrize(
    ("behaviour", "code"),
    [
        pytest.param(None, Code.DNS_NXDOMAIN, id="unknown-name-nxdomain"),
        pytest.param(Behaviour.NXDOMAIN, Code.DNS_NXDOMAIN, id="forced-nxdomain"),
        pytest.param(Behaviour.SERVFAIL, Code.DNS_SERVFAIL, id="servfail"),
        pytest.param(Behaviour.REFUSED, Code.DNS_ERROR, id="refused"),
        pytest.param(Behaviour.TIMEOUT, Code.DNS_TIMEOUT, id="timeout"),
    ],
)
async def test_dns_failures_are_reasons(
    server: DnsServer, behaviour: Behaviour | None, code: Code
) -> None:
    if behaviour is not None:
        server.behave("broken.test", behaviour)
    result = await resolver_for(server, timeout=0.4).mx("broken.test")
    assert result.hosts == ()
    assert result.error is not None
    assert result.error.code is code
    assert "broken.test" in result.error.message


async def test_invalid_domain_is_refused_without_a_query(server: DnsServer) -> None:
    result = await resolver_for(server).mx("not a domain")
    assert result.error is not None
    assert result.error.code is Code.INVALID_DOMAIN
    assert server.queries == []


async def test_addresses_of_both_families(server: DnsServer) -> None:
    result = await resolver_for(server).addresses("mx1.example.test")
    assert result.error is None
    assert result.addresses == ("127.0.0.1", "127.0.0.2", "::1")
    assert result.canonical is None


@pytest.mark.parametrize(
    ("name", "addresses"),
    [
        pytest.param("mx2.example.test", ("127.0.0.3",), id="ipv4-only"),
        pytest.param("b.example.test", ("::1",), id="ipv6-only"),
    ],
)
async def test_one_family_is_enough(server: DnsServer, name: str, addresses: tuple[str]) -> None:
    result = await resolver_for(server).addresses(name)
    assert result.error is None
    assert result.addresses == addresses


async def test_cname_chain_is_followed(server: DnsServer) -> None:
    result = await resolver_for(server).addresses("alias.example.test")
    assert result.addresses == ("127.0.0.1", "127.0.0.2", "::1")
    assert result.canonical == "mx1.example.test"


async def test_dangling_cname_is_nxdomain(server: DnsServer) -> None:
    result = await resolver_for(server).addresses("dangling.example.test")
    assert result.error is not None
    assert result.error.code is Code.DNS_NXDOMAIN


async def test_cname_loop_is_a_dns_failure(server: DnsServer) -> None:
    result = await resolver_for(server).addresses("loop.example.test")
    assert result.addresses == ()
    assert result.error is not None
    assert result.error.code in (Code.DNS_SERVFAIL, Code.DNS_ERROR)


async def test_name_without_addresses_is_no_address(server: DnsServer) -> None:
    result = await resolver_for(server).addresses("noaddr.test")
    assert result.error is not None
    assert result.error.code is Code.NO_ADDRESS


async def test_one_family_failing_keeps_the_other(server: DnsServer) -> None:
    server.set("half.test", "A", "127.0.0.7")
    server.behave("half.test", None)
    result = await resolver_for(server).addresses("half.test")
    assert result.addresses == ("127.0.0.7",)


async def test_ip_literal_needs_no_query(server: DnsServer) -> None:
    result = await resolver_for(server).addresses("127.0.0.9")
    assert result.addresses == ("127.0.0.9",)
    assert server.queries == []


async def test_records_changed_while_running_are_seen(server: DnsServer) -> None:
    resolver = resolver_for(server)
    assert (await resolver.addresses("mx2.example.test")).addresses == ("127.0.0.3",)
    server.set("mx2.example.test", "A", "127.0.0.4")
    assert (await resolver.addresses("mx2.example.test")).addresses == ("127.0.0.4",)


async def test_txt_records_are_joined_strings(server: DnsServer) -> None:
    long_value = "v=STSv1; id=" + "x" * 300  # more than one 255-byte string
    server.set("_mta-sts.example.test", "TXT", long_value, "other")
    result = await resolver_for(server).txt("_mta-sts.example.test")
    assert result.error is None
    assert sorted(result.records) == sorted([long_value, "other"])


async def test_missing_optional_records_are_empty_not_errors(server: DnsServer) -> None:
    resolver = resolver_for(server)
    for result in (
        await resolver.txt("_smtp._tls.example.test"),
        await resolver.tlsa("_25._tcp.mx2.example.test"),
        await resolver.txt("mx1.example.test"),
    ):
        assert result.records == ()
        assert result.error is None


async def test_txt_failure_is_an_error(server: DnsServer) -> None:
    server.behave("_mta-sts.example.test", Behaviour.SERVFAIL)
    result = await resolver_for(server).txt("_mta-sts.example.test")
    assert result.error is not None
    assert result.error.code is Code.DNS_SERVFAIL


async def test_tlsa_records_as_text(server: DnsServer) -> None:
    result = await resolver_for(server).tlsa("_25._tcp.mx1.example.test")
    assert result.records == (TLSA,)


async def test_truncated_udp_answer_is_retried_over_tcp(server: DnsServer) -> None:
    server.behave("mx1.example.test", Behaviour.TRUNCATE)
    result = await resolver_for(server).addresses("mx1.example.test")
    assert result.addresses == ("127.0.0.1", "127.0.0.2", "::1")
    assert {q.transport for q in server.queries} == {"udp", "tcp"}


async def test_large_answer_goes_over_tcp(server: DnsServer) -> None:
    server.set("big.test", "TXT", *[f"{i:03d}" + "y" * 200 for i in range(20)])
    result = await resolver_for(server).txt("big.test")
    assert len(result.records) == 20
    assert [q.transport for q in server.queries] == ["udp", "tcp"]


async def test_ipv6_dns_server(server: DnsServer) -> None:
    v6 = [s for s in server.servers if ":" in s[0]]
    if not v6:
        pytest.skip("no IPv6 loopback on this machine")
    resolver = Resolver(ProbeSettings(dns_servers=tuple(v6), dns_timeout=0.6))
    result = await resolver.mx("example.test")
    assert result.names[0] == "b.example.test"


async def test_second_server_answers_when_the_first_is_silent(server: DnsServer) -> None:
    async with DnsServer() as silent:
        silent.behave("example.test", Behaviour.TIMEOUT)
        settings = ProbeSettings(dns_servers=(silent.address, server.address), dns_timeout=1.0)
        result = await Resolver(settings).mx("example.test")
    assert result.error is None
    assert result.names[0] == "b.example.test"


def test_threaded_server_serves_synchronous_callers() -> None:
    import dns.resolver

    with DnsServer({"sync.test": {"A": "127.0.0.8"}}) as srv:
        stub = dns.resolver.Resolver(configure=False)
        stub.nameservers = [srv.address[0]]
        stub.port = srv.port
        stub.lifetime = 2
        answer = stub.resolve("sync.test", "A")
        assert [r.to_text() for r in answer] == ["127.0.0.8"]
        srv.set("sync.test", "A", "127.0.0.9")
        assert [r.to_text() for r in stub.resolve("sync.test", "A")] == ["127.0.0.9"]


async def test_server_loads_zone_file_text() -> None:
    zone = """
$TTL 60
@        IN SOA ns.zone.test. admin.zone.test. 1 60 60 60 60
@        IN MX  10 mx
mx       IN A   127.0.0.11
"""
    async with DnsServer(zone, origin="zone.test") as srv:
        resolver = resolver_for(srv)
        assert (await resolver.mx("zone.test")).names == ("mx.zone.test",)
        assert (await resolver.addresses("mx.zone.test")).addresses == ("127.0.0.11",)


async def test_refused_names_the_refusal(server: DnsServer) -> None:
    server.behave("example.test", Behaviour.REFUSED)
    result = await resolver_for(server).mx("example.test")
    assert result.error is not None
    assert "REFUSED" in result.error.message


async def test_failure_inside_a_cname_chain(server: DnsServer) -> None:
    server.behave("alias2.example.test", Behaviour.SERVFAIL)
    result = await resolver_for(server).addresses("alias.example.test")
    assert result.error is not None
    assert result.error.code is Code.DNS_SERVFAIL


async def test_queries_in_flight_are_capped(server: DnsServer) -> None:
    import asyncio

    server.delay = 0.1
    resolver = Resolver(
        ProbeSettings(dns_servers=server.servers[:1], dns_timeout=2.0), max_parallel=2
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    results = await asyncio.gather(*(resolver.txt(f"n{i}.example.test") for i in range(6)))
    elapsed = loop.time() - started
    assert all(r.error is None for r in results)
    assert elapsed >= 0.3  # six queries, two at a time, 0.1 s each


@pytest.mark.parametrize("threaded", [False, True], ids=["asyncio", "thread"])
async def test_server_stops_promptly_with_a_client_still_waiting(threaded: bool) -> None:
    import asyncio
    import struct

    import dns.message

    query = dns.message.make_query("hang.test", "A").to_wire()
    loop = asyncio.get_running_loop()
    srv = DnsServer(delay=5.0)
    if threaded:
        srv.__enter__()
    else:
        await srv.start()
    reader, writer = await asyncio.open_connection(*srv.address)
    writer.write(struct.pack("!H", len(query)) + query)
    await writer.drain()
    await asyncio.sleep(0.05)  # the server is now inside its 5 s delay
    started = loop.time()
    if threaded:
        await asyncio.to_thread(srv.__exit__, None, None, None)
    else:
        await srv.stop()
    assert loop.time() - started < 2.0
    assert await reader.read() == b""  # closed without an answer
    writer.close()


async def test_no_dns_server_listening_is_a_dns_failure() -> None:
    import asyncio
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    resolver = Resolver(ProbeSettings(dns_servers=(("127.0.0.1", closed_port),), dns_timeout=0.5))
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await resolver.mx("example.test")
    assert loop.time() - started < 0.6  # the lifetime is a deadline
    assert result.error is not None
    assert result.error.code in (Code.DNS_ERROR, Code.DNS_TIMEOUT)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("a" * 64 + ".example.test", id="label-too-long"),
        pytest.param("two..dots.test", id="empty-label"),
    ],
)
async def test_invalid_names_are_refused_without_a_query(server: DnsServer, name: str) -> None:
    resolver = resolver_for(server)
    for result in (await resolver.addresses(name), await resolver.txt(name)):
        assert result.error is not None
        assert result.error.code is Code.INVALID_DOMAIN
    assert server.queries == []


async def test_waiting_queries_of_the_critical_path_go_first(server: DnsServer) -> None:
    import asyncio

    # Given one place for queries, taken, and four optional TXT queries waiting for it
    server.delay = 0.05
    resolver = Resolver(
        ProbeSettings(dns_servers=server.servers[:1], dns_timeout=2.0), max_parallel=1
    )
    txts = [asyncio.ensure_future(resolver.txt(f"t{i}.example.test")) for i in range(4)]
    await asyncio.sleep(0.01)
    # When a host's address lookup arrives, it is the next to go, not the fifth
    found = await resolver.addresses("mx1.example.test")
    await asyncio.gather(*txts)
    assert found.error is None
    asked = [q.name for q in server.queries]
    assert asked[0] == "t0.example.test"
    assert set(asked[1:3]) == {"mx1.example.test"}  # A and AAAA
    assert asked[3:] == ["t1.example.test", "t2.example.test", "t3.example.test"]


async def test_a_cancelled_query_passes_its_place_on(server: DnsServer) -> None:
    import asyncio

    server.delay = 0.05
    resolver = Resolver(
        ProbeSettings(dns_servers=server.servers[:1], dns_timeout=2.0), max_parallel=1
    )
    first = asyncio.ensure_future(resolver.txt("t0.example.test"))
    waiting = asyncio.ensure_future(resolver.txt("t1.example.test"))
    await asyncio.sleep(0.01)
    waiting.cancel()
    await first
    third = await asyncio.wait_for(resolver.txt("t2.example.test"), 1.0)
    assert third.error is None
    assert [q.name for q in server.queries] == ["t0.example.test", "t2.example.test"]
