"""The address guard as a pure function: no address here is ever contacted."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from bot.probe.guard import ROUTE_ALLOW_VARIABLE, unwrap, vet_address
from bot.probe.model import Code

REFUSED = [
    pytest.param("127.0.0.1", "loopback", id="loopback-v4"),
    pytest.param("127.8.9.10", "loopback", id="loopback-v4-other"),
    pytest.param("::1", "loopback", id="loopback-v6"),
    pytest.param("10.0.0.1", "private", id="private-10"),
    pytest.param("172.16.5.4", "private", id="private-172"),
    pytest.param("192.168.1.1", "private", id="private-192"),
    pytest.param("fd12:3456::1", "private", id="unique-local-v6"),
    pytest.param("100.64.0.1", "carrier-grade NAT", id="shared-cgnat"),
    pytest.param("169.254.169.254", "metadata", id="cloud-metadata"),
    pytest.param("169.254.1.1", "link-local", id="link-local-v4"),
    pytest.param("fe80::1", "link-local", id="link-local-v6"),
    pytest.param("fe80::1%eth0", "link-local", id="link-local-v6-scoped"),
    pytest.param("0.0.0.0", "unspecified", id="unspecified-v4"),
    pytest.param("::", "unspecified", id="unspecified-v6"),
    pytest.param("224.0.0.1", "multicast", id="multicast-v4"),
    pytest.param("ff02::1", "multicast", id="multicast-v6-link"),
    pytest.param("ff0e::1", "multicast", id="multicast-v6-global"),
    pytest.param("240.0.0.1", "reserved", id="reserved-class-e"),
    pytest.param("255.255.255.255", "broadcast", id="broadcast"),
    pytest.param("192.0.2.1", "documentation", id="doc-test-net-1"),
    pytest.param("198.51.100.7", "documentation", id="doc-test-net-2"),
    pytest.param("203.0.113.9", "documentation", id="doc-test-net-3"),
    pytest.param("2001:db8::1", "documentation", id="doc-v6"),
    pytest.param("198.18.0.1", "benchmarking", id="benchmarking"),
    pytest.param("192.0.0.8", "IETF protocol", id="ietf-protocol-block"),
    pytest.param("::ffff:10.0.0.1", "private", id="mapped-private"),
    pytest.param("::ffff:127.0.0.1", "loopback", id="mapped-loopback"),
    pytest.param("::ffff:169.254.169.254", "metadata", id="mapped-metadata"),
    pytest.param("::ffff:0.0.0.0", "unspecified", id="mapped-unspecified"),
    pytest.param("64:ff9b::10.0.0.1", "private", id="nat64-private"),
    pytest.param("64:ff9b::127.0.0.1", "loopback", id="nat64-loopback"),
    pytest.param("2002:7f00:1::1", "loopback", id="6to4-loopback"),
    pytest.param("2002:a00:1::1", "private", id="6to4-private"),
    pytest.param("::8.8.8.8", "IPv4-compatible", id="v4-compatible-deprecated"),
    pytest.param("2001::1", "Teredo", id="teredo"),
    pytest.param("2001:10::1", "not a globally routable", id="orchid-deprecated"),
    pytest.param("not-an-ip", "not an IP address", id="garbage"),
    pytest.param("", "not an IP address", id="empty"),
]


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_refuses_non_public_addresses_with_a_reason_naming_them(address: str, why: str) -> None:
    reason = vet_address(address, ())
    assert reason is not None
    assert reason.code is Code.ADDRESS_NOT_PUBLIC
    assert why in reason.message
    assert (address.split("%")[0] or "''") in reason.message


# Public addresses are pure values here: nothing connects to them.
ALLOWED = [
    pytest.param("8.8.8.8", id="public-v4"),
    pytest.param("1.1.1.1", id="public-v4-other"),
    pytest.param("2606:4700:4700::1111", id="public-v6"),
    pytest.param("::ffff:8.8.8.8", id="mapped-public"),
    pytest.param("64:ff9b::8.8.8.8", id="nat64-public"),
    pytest.param("2002:808:808::1", id="6to4-public"),
]


@pytest.mark.parametrize("address", ALLOWED)
def test_public_unicast_addresses_may_be_probed(address: str) -> None:
    assert vet_address(address, ()) is None


ALLOW_LIST = [
    pytest.param("127.0.0.1", ["127.0.0.0/8"], None, id="loopback-allowed"),
    pytest.param("::1", ["::1/128"], None, id="loopback-v6-allowed"),
    pytest.param("10.1.2.3", ["10.0.0.0/8"], None, id="private-allowed"),
    pytest.param("::ffff:10.1.2.3", ["10.0.0.0/8"], None, id="mapped-checked-unwrapped"),
    pytest.param("64:ff9b::a01:203", ["10.0.0.0/8"], None, id="nat64-checked-unwrapped"),
    pytest.param("10.1.2.3", ["192.168.0.0/16"], "private", id="other-network-refused"),
    pytest.param("10.1.2.3", ["10.1.2.4/32"], "private", id="neighbour-refused"),
    pytest.param("::1", ["127.0.0.0/8"], "loopback", id="v4-list-does-not-allow-v6"),
    pytest.param("169.254.169.254", ["10.0.0.0/8"], "metadata", id="metadata-still-refused"),
]


@pytest.mark.parametrize(("address", "networks", "why"), ALLOW_LIST)
def test_allow_list_admits_only_listed_networks(
    address: str, networks: list[str], why: str | None
) -> None:
    reason = vet_address(address, [ip_network(n) for n in networks])
    if why is None:
        assert reason is None
    else:
        assert reason is not None
        assert why in reason.message


def test_reason_names_the_allow_list_setting() -> None:
    default = vet_address("10.0.0.1", ())
    route = vet_address("10.0.0.1", (), allow_variable=ROUTE_ALLOW_VARIABLE)
    assert default is not None
    assert route is not None
    assert "TLSBOT_PROBE_ALLOW_NETWORKS" in default.message
    assert "TLSBOT_ROUTE_ALLOW_NETWORKS" in route.message


def test_mapped_reason_shows_both_forms() -> None:
    reason = vet_address("::ffff:10.0.0.1", ())
    assert reason is not None
    assert "::ffff:10.0.0.1 (IPv4-mapped 10.0.0.1)" in reason.message


@pytest.mark.parametrize(
    ("address", "inner", "form"),
    [
        pytest.param("10.0.0.1", "10.0.0.1", None, id="v4-as-is"),
        pytest.param("::ffff:1.2.3.4", "1.2.3.4", "IPv4-mapped", id="mapped"),
        pytest.param("64:ff9b::1.2.3.4", "1.2.3.4", "NAT64 for", id="nat64"),
        pytest.param("2002:102:304::9", "1.2.3.4", "6to4 for", id="6to4"),
        pytest.param("2001:db8::1", "2001:db8::1", None, id="plain-v6"),
    ],
)
def test_unwrap_finds_the_embedded_ipv4_address(address: str, inner: str, form: str | None) -> None:
    from ipaddress import ip_address

    assert unwrap(ip_address(address)) == (ip_address(inner), form)
