"""MTA-STS, TLSA and TLS-RPT facts, with a real DNS server and a real HTTPS server on loopback."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from ipaddress import ip_network
from pathlib import Path

import pytest
import trustme

from bot.probe.dns import Resolver
from bot.probe.extras import gather_extras
from bot.probe.model import Code, DomainExtras
from bot.probe.mta_sts import MAX_POLICY_BYTES, StsPolicy, parse_policy, parse_sts_txt
from bot.probe.settings import ProbeSettings
from tests.support.dns_server import Behaviour, DnsServer

pytestmark = pytest.mark.timeout(20)

DOMAIN = "example.test"
POLICY = (
    "version: STSv1\r\nmode: enforce\r\n"
    "mx: mx1.example.test\r\nmx: *.mail.example.test\r\nmax_age: 86400\r\n"
)
TLSA = "3 1 1 " + "cd" * 32


def http(status: str, body: bytes = b"", headers: str = "", length: bool = True) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nConnection: close\r\n{headers}"
    if length:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


@dataclass
class PolicyServer:
    """A minimal HTTPS server: answers every request with ``response``."""

    context: ssl.SSLContext
    response: bytes = field(default_factory=lambda: http("200 OK", POLICY.encode()))
    hang: bool = False
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            self.requests.append(request)
            if self.hang:
                await asyncio.sleep(60)
            writer.write(self.response)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def server_context(ca: trustme.CA, name: str = f"mta-sts.{DOMAIN}") -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    return context


@pytest.fixture
async def policy_server(ca: trustme.CA) -> AsyncIterator[PolicyServer]:
    state = PolicyServer(server_context(ca))
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0, ssl=state.context)
    state.port = server.sockets[0].getsockname()[1]
    async with server:
        yield state
        server.close()


@pytest.fixture
async def dns() -> AsyncIterator[DnsServer]:
    async with DnsServer(
        {
            DOMAIN: {"MX": ["10 mx1.example.test.", "20 mx2.mail.example.test."]},
            "_mta-sts.example.test": {"TXT": ["v=STSv1; id=20240101T000000", "unrelated"]},
            "mta-sts.example.test": {"A": "127.0.0.1"},
            "_smtp._tls.example.test": {"TXT": ["v=TLSRPTv1; rua=mailto:tls@example.test"]},
            "_25._tcp.mx1.example.test": {"TLSA": TLSA},
        }
    ) as server:
        yield server


@pytest.fixture
def settings(dns: DnsServer, policy_server: PolicyServer, ca_file: Path) -> ProbeSettings:
    return ProbeSettings(
        dns_servers=dns.servers[:1],
        dns_timeout=1.0,
        ca_file=ca_file,
        allow_networks=(ip_network("127.0.0.0/8"),),
        mta_sts_port=policy_server.port,
        mta_sts_timeout=1.0,
    )


async def extras(settings: ProbeSettings, mx: tuple[str, ...] | None = None) -> DomainExtras:
    hosts = mx if mx is not None else ("mx1.example.test", "mx2.mail.example.test")
    return await gather_extras(
        DOMAIN, hosts, resolver=Resolver(settings), settings=settings, port=25
    )


async def test_full_facts_of_a_domain(settings: ProbeSettings, policy_server: PolicyServer) -> None:
    result = await extras(settings)
    assert result.mta_sts_error is None
    assert result.mta_sts_txt == "v=STSv1; id=20240101T000000"
    assert result.mta_sts_mode == "enforce"
    assert result.mta_sts_mx == ("mx1.example.test", "*.mail.example.test")
    assert result.tls_rpt == "v=TLSRPTv1; rua=mailto:tls@example.test"
    assert result.tlsa == (f"_25._tcp.mx1.example.test. {TLSA}",)
    request = policy_server.requests[0]
    assert request.startswith(b"GET /.well-known/mta-sts.txt HTTP/1.1\r\n")
    assert f"Host: mta-sts.{DOMAIN}".encode() in request


async def test_no_mta_sts_record_means_no_fetch(
    settings: ProbeSettings, dns: DnsServer, policy_server: PolicyServer
) -> None:
    dns.set("_mta-sts.example.test", "TXT")
    dns.set("_smtp._tls.example.test", "TXT")
    result = await extras(settings)
    assert (result.mta_sts_txt, result.mta_sts_mode, result.mta_sts_error) == (None, None, None)
    assert result.tls_rpt is None
    assert policy_server.connections == 0


@pytest.mark.parametrize(
    "records",
    [
        pytest.param(["v=STSv1;"], id="no-id"),
        pytest.param(["v=STSv1; id=not-alnum!"], id="bad-id"),
        pytest.param(["v=STSv1; id=" + "a" * 33], id="id-too-long"),
        pytest.param(["v=STSv1; id=1", "v=STSv1; id=2"], id="two-records"),
    ],
)
async def test_invalid_txt_record_is_reported_and_not_fetched(
    settings: ProbeSettings, dns: DnsServer, policy_server: PolicyServer, records: list[str]
) -> None:
    dns.set("_mta-sts.example.test", "TXT", *records)
    result = await extras(settings)
    assert result.mta_sts_error is not None
    assert result.mta_sts_error.code is Code.STS_POLICY_INVALID
    assert result.mta_sts_mode is None
    assert policy_server.connections == 0


async def test_redirect_is_not_followed(
    settings: ProbeSettings, policy_server: PolicyServer
) -> None:
    policy_server.response = http("301 Moved", headers="Location: https://mta-sts.other.test/\r\n")
    result = await extras(settings)
    assert result.mta_sts_error is not None
    assert result.mta_sts_error.code is Code.STS_POLICY_FETCH_ERROR
    assert "redirects to https://mta-sts.other.test/" in result.mta_sts_error.message
    assert len(policy_server.requests) == 1
    assert result.mta_sts_mode is None


@pytest.mark.parametrize("with_length", [True, False], ids=["content-length", "until-close"])
async def test_oversized_body_is_capped(
    settings: ProbeSettings, policy_server: PolicyServer, with_length: bool
) -> None:
    body = (POLICY + "#" * (MAX_POLICY_BYTES + 10)).encode()
    policy_server.response = http("200 OK", body, length=with_length)
    result = await extras(settings)
    assert result.mta_sts_error is not None
    assert result.mta_sts_error.code is Code.STS_POLICY_FETCH_ERROR
    assert "larger than 64 KiB" in result.mta_sts_error.message


async def test_http_error_status_is_a_fetch_error(
    settings: ProbeSettings, policy_server: PolicyServer
) -> None:
    policy_server.response = http("404 Not Found", b"nope")
    result = await extras(settings)
    assert result.mta_sts_error is not None
    assert result.mta_sts_error.code is Code.STS_POLICY_FETCH_ERROR
    assert "HTTP 404" in result.mta_sts_error.message


@pytest.mark.parametrize(
    "header", ["Content-Type: text/html\r\n", ""], ids=["text-html", "no-content-type"]
)
async def test_a_policy_not_served_as_text_plain_is_a_fetch_error(
    settings: ProbeSettings, policy_server: PolicyServer, header: str
) -> None:
    response = http("200 OK", POLICY.encode()).replace(b"Content-Type: text/plain\r\n", b"")
    policy_server.response = response.replace(b"\r\n\r\n", f"\r\n{header}\r\n".encode(), 1)
    result = await extras(settings)
    assert result.mta_sts_error is not None
    assert result.mta_sts_error.code is Code.STS_POLICY_FETCH_ERROR
    assert "requires text/plain" in result.mta_sts_error.message
    assert result.mta_sts_mode is None


async def test_invalid_policy_body(settings: ProbeSettings, policy_server: PolicyServer) -> None:
    policy_server.response = http("200 OK", b"version: STSv1\r\nmode: strict\r\nmax_age: 1\r\n")
    result = await extras(settings)
    assert result.mta_sts_error is not None
    assert result.mta_sts_error.code is Code.STS_POLICY_INVALID
    assert "'strict'" in result.mta_sts_error.message


async def test_certificate_from_an_unknown_ca_is_webpki_invalid(
    settings: ProbeSettings,
) -> None:
    result = await extras(replace(settings, ca_file=None))
    assert result.mta_sts_error is not None
    assert result.mta_sts_error.code is Code.STS_WEBPKI_INVALID
    assert "mta-sts.example.test" in result.mta_sts_error.message


async def test_certificate_for_another_name_is_webpki_invalid(
    settings: ProbeSettings, policy_server: PolicyServer, ca: trustme.CA
) -> None:
    ca.issue_cert("other.test").configure_cert(policy_server.context)
    result = await extras(settings)
    assert result.mta_sts_error is not None
    assert result.mta_sts_error.code is Code.STS_WEBPKI_INVALID


async def test_address_refused_by_the_guard_is_never_contacted(
    settings: ProbeSettings, policy_server: PolicyServer
) -> None:
    result = await extras(replace(settings, allow_networks=()))
    assert result.mta_sts_error is not None
    assert result.mta_sts_error.code is Code.STS_POLICY_FETCH_ERROR
    assert "127.0.0.1 is a loopback address" in result.mta_sts_error.message
    assert policy_server.connections == 0


@pytest.mark.parametrize(
    ("rdtype", "address", "says"),
    [
        ("A", "10.1.2.3", "private"),
        ("A", "192.168.1.20", "private"),
        ("A", "169.254.169.254", "link-local"),
        ("AAAA", "::ffff:10.0.0.1", "private"),
        ("AAAA", "fd00::25", "private"),
    ],
)
async def test_a_policy_host_at_a_private_address_is_refused_by_the_guard(
    settings: ProbeSettings,
    dns: DnsServer,
    policy_server: PolicyServer,
    rdtype: str,
    address: str,
    says: str,
) -> None:
    # Given mta-sts.<domain> resolving to a private address (DNS rebinding, a hostile partner)
    dns.remove("mta-sts.example.test")
    dns.set("mta-sts.example.test", rdtype, address)
    result = await extras(settings)
    # Then the guard refuses it before any connection (conftest fails a test that tries one)
    assert result.mta_sts_error is not None
    assert result.mta_sts_error.code is Code.STS_POLICY_FETCH_ERROR
    assert "not fetching the policy from mta-sts.example.test" in result.mta_sts_error.message
    assert says in result.mta_sts_error.message
    assert policy_server.connections == 0


async def test_only_vetted_addresses_are_contacted(
    settings: ProbeSettings, dns: DnsServer, policy_server: PolicyServer
) -> None:
    # 127.0.0.2 is outside the allow list: only 127.0.0.1 may be used.
    dns.set("mta-sts.example.test", "A", "127.0.0.2", "127.0.0.1")
    result = await extras(replace(settings, allow_networks=(ip_network("127.0.0.1/32"),)))
    assert result.mta_sts_error is None
    assert result.mta_sts_mode == "enforce"


async def test_policy_host_without_address(settings: ProbeSettings, dns: DnsServer) -> None:
    dns.remove("mta-sts.example.test")
    result = await extras(settings)
    assert result.mta_sts_error is not None
    assert result.mta_sts_error.code is Code.STS_POLICY_FETCH_ERROR
    assert "NXDOMAIN" in result.mta_sts_error.message


async def test_silent_server_costs_no_more_than_the_timeout(
    settings: ProbeSettings, policy_server: PolicyServer
) -> None:
    policy_server.hang = True
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await extras(replace(settings, mta_sts_timeout=0.4))
    assert loop.time() - started < 2.0
    assert result.mta_sts_error is not None
    assert result.mta_sts_error.code is Code.STS_POLICY_FETCH_ERROR
    assert "did not answer within 0.4 s" in result.mta_sts_error.message


async def test_mx_not_covered_by_the_policy(settings: ProbeSettings) -> None:
    result = await extras(settings, mx=("mx1.example.test", "backup.example.test"))
    assert result.mta_sts_mode == "enforce"
    assert result.mta_sts_error is not None
    assert result.mta_sts_error.code is Code.VALIDATION_FAILURE
    assert "backup.example.test" in result.mta_sts_error.message


async def test_dns_failure_of_the_txt_record(settings: ProbeSettings, dns: DnsServer) -> None:
    dns.behave("_mta-sts.example.test", Behaviour.SERVFAIL)
    result = await extras(settings)
    assert result.mta_sts_error is not None
    assert result.mta_sts_error.code is Code.DNS_SERVFAIL
    assert result.tls_rpt is not None  # the other facts still arrive


# -- pure parsers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(POLICY, ("enforce", 2, 86400), id="enforce-crlf"),
        pytest.param(POLICY.replace("\r\n", "\n"), ("enforce", 2, 86400), id="enforce-lf"),
        pytest.param("version: STSv1\nmode: none\nmax_age: 0\n", ("none", 0, 0), id="none-no-mx"),
        pytest.param(
            "mode: testing\nmx: a.test\nmax_age: 5\nversion: STSv1\nfuture: x\n",
            ("testing", 1, 5),
            id="any-order-unknown-key",
        ),
        pytest.param("version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1", "version", id="v2"),
        pytest.param("version: STSv1\nmode: enforce\nmax_age: 1", "no mx", id="no-mx"),
        pytest.param("version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1", "max_age", id="neg"),
        pytest.param(
            "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 99999999999", "max_age", id="big"
        ),
        pytest.param("version: STSv1\nmode: enforce\nmx: bad_name!\nmax_age: 1", "mx", id="mx"),
        pytest.param("<html>hello</html>", "key: value", id="html"),
    ],
)
def test_parse_policy(text: str, expected: tuple[str, int, int] | str) -> None:
    result = parse_policy(text)
    if isinstance(expected, str):
        assert not isinstance(result, StsPolicy)
        assert result.code is Code.STS_POLICY_INVALID
        assert expected in result.message
    else:
        assert isinstance(result, StsPolicy)
        assert (result.mode, len(result.mx), result.max_age) == expected


@pytest.mark.parametrize(
    ("records", "txt", "valid"),
    [
        pytest.param([], None, True, id="none"),
        pytest.param(["v=spf1 -all"], None, True, id="unrelated-only"),
        pytest.param(["v=STSv1; id=abc"], "v=STSv1; id=abc", True, id="ok"),
        pytest.param(["v=STSv1;id=abc;"], "v=STSv1;id=abc;", True, id="ok-tight"),
        pytest.param(["v=STSv1; id=abc; ext=1"], "v=STSv1; id=abc; ext=1", True, id="extension"),
        pytest.param(["v=STSv1; junk"], "v=STSv1; junk", False, id="field-without-equals"),
    ],
)
def test_parse_sts_txt(records: list[str], txt: str | None, valid: bool) -> None:
    found = parse_sts_txt(records)
    assert found.record == txt
    assert (found.error is None) is valid


@pytest.mark.parametrize(
    ("host", "matches"),
    [
        pytest.param("mx1.example.test", True, id="exact"),
        pytest.param("MX1.Example.Test.", True, id="case-and-dot"),
        pytest.param("a.mail.example.test", True, id="wildcard-one-label"),
        pytest.param("a.b.mail.example.test", False, id="wildcard-not-two-labels"),
        pytest.param("mail.example.test", False, id="wildcard-not-zero-labels"),
        pytest.param("mx2.example.test", False, id="other"),
    ],
)
def test_policy_mx_patterns(host: str, matches: bool) -> None:
    policy = StsPolicy("enforce", ("mx1.example.test", "*.mail.example.test"), 1)
    assert policy.matches(host) is matches


async def test_a_max_age_that_int_refuses_is_an_invalid_policy(
    settings: ProbeSettings, policy_server: PolicyServer
) -> None:
    # Given a policy whose max_age is a digit that int() refuses ("²".isdigit() is True)
    policy_server.response = http("200 OK", POLICY.replace("86400", "\u00b2").encode())
    result = await extras(settings)
    # Then it is an invalid policy, not a crash, and the other facts are still reported
    assert result.errors == ()
    assert result.mta_sts_error is not None
    assert result.mta_sts_error.code is Code.STS_POLICY_INVALID
    assert "max_age '²'" in result.mta_sts_error.message
    assert result.mta_sts_mode is None
    assert result.tls_rpt == "v=TLSRPTv1; rua=mailto:tls@example.test"
    assert result.tlsa == (f"_25._tcp.mx1.example.test. {TLSA}",)
    assert policy_server.connections == 1
