"""Domain, email and route normalisation: pure functions, tables of cases."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.probe.names import (
    InvalidName,
    email_for_domain,
    normalise_domain,
    parse_email,
    parse_route,
)

LONG_LABEL = "a" * 64
LONG_NAME = ".".join(["a" * 63] * 4) + ".test"  # 256 characters


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("example.com", "example.com", id="plain"),
        pytest.param("EXAMPLE.Com", "example.com", id="upper-case"),
        pytest.param("example.com.", "example.com", id="trailing-dot"),
        pytest.param("  example.com\t", "example.com", id="spaces-around"),
        pytest.param("bücher.example", "xn--bcher-kva.example", id="idna-u-label"),
        pytest.param("BÜCHER.example", "xn--bcher-kva.example", id="idna-upper-u-label"),
        pytest.param("xn--bcher-kva.example", "xn--bcher-kva.example", id="idna-a-label"),
        pytest.param("faß.de", "xn--fa-hia.de", id="idna2008-eszett-not-transitional"),
        pytest.param("例え.テスト", "xn--r8jz45g.xn--zckzah", id="idna-japanese"),
        pytest.param("mail-1.sub.example.co.uk", "mail-1.sub.example.co.uk", id="many-labels"),
        pytest.param(
            ".".join(["a" * 63] * 3) + ".test",
            ".".join(["a" * 63] * 3) + ".test",
            id="253-characters",
        ),
    ],
)
def test_normalise_domain(given: str, expected: str) -> None:
    assert normalise_domain(given) == expected


@pytest.mark.parametrize(
    ("given", "why"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("   ", "empty", id="blank"),
        pytest.param("exa mple.com", "white space", id="inner-space"),
        pytest.param("example..com", "empty label", id="double-dot"),
        pytest.param(".example.com", "empty label", id="leading-dot"),
        pytest.param("example.com..", "empty label", id="two-trailing-dots"),
        pytest.param("localhost", "two labels", id="single-label"),
        pytest.param("192.0.2.1", "IP address", id="ipv4-literal"),
        pytest.param("2001:db8::1", "IP address", id="ipv6-literal"),
        pytest.param("[192.0.2.1]", "not a valid domain", id="bracketed-literal"),
        pytest.param(f"{LONG_LABEL}.example", "", id="label-too-long"),
        pytest.param(LONG_NAME, "", id="name-too-long"),
        pytest.param("x" * 2000, "too long", id="absurdly-long"),
        pytest.param("-bad.example", "", id="leading-hyphen"),
        pytest.param("bad-.example", "", id="trailing-hyphen"),
        pytest.param("under_score.example", "", id="underscore"),
        pytest.param("example.123", "numeric", id="numeric-tld"),
        pytest.param("user@example.com", "", id="email-is-not-a-domain"),
        pytest.param("http://example.com", "", id="url"),
    ],
)
def test_normalise_domain_rejects(given: str, why: str) -> None:
    with pytest.raises(InvalidName) as info:
        normalise_domain(given)
    assert why in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("given", "address", "domain"),
    [
        pytest.param("user@example.com", "user@example.com", "example.com", id="plain"),
        pytest.param(" user@EXAMPLE.com ", "user@example.com", "example.com", id="case-space"),
        pytest.param(
            "first.last+tag@example.com", "first.last+tag@example.com", "example.com", id="plus-tag"
        ),
        pytest.param(
            "user@bücher.example", "user@bücher.example", "xn--bcher-kva.example", id="idn-domain"
        ),
    ],
)
def test_parse_email(given: str, address: str, domain: str) -> None:
    assert parse_email(given) == (address, domain)


@pytest.mark.parametrize(
    "given",
    [
        pytest.param("", id="empty"),
        pytest.param("no-at-sign", id="no-at"),
        pytest.param("user@", id="no-domain"),
        pytest.param("@example.com", id="no-local-part"),
        pytest.param("a b@example.com", id="space-in-local"),
        pytest.param("user@@example.com", id="two-at"),
        pytest.param("user@localhost", id="single-label-domain"),
        pytest.param("user@[192.0.2.1]", id="ip-literal-domain"),
        pytest.param("user@host.localhost", id="special-use-localhost"),
        pytest.param("user@host.invalid", id="special-use-invalid"),
        pytest.param("user@example.com\nbcc@evil.test", id="newline-injection"),
        pytest.param("u" * 330 + "@example.com", id="too-long"),
    ],
)
def test_parse_email_rejects(given: str) -> None:
    with pytest.raises(InvalidName):
        parse_email(given)


@pytest.mark.parametrize(
    ("email", "domain", "ok"),
    [
        pytest.param("user@example.com", "example.com", True, id="same"),
        pytest.param("user@Example.COM", "EXAMPLE.com.", True, id="same-after-normalising"),
        pytest.param("user@bücher.example", "xn--bcher-kva.example", True, id="idn-vs-a-label"),
        pytest.param("user@other.com", "example.com", False, id="other-domain"),
        pytest.param("user@sub.example.com", "example.com", False, id="subdomain"),
        pytest.param("user@example.com", "sub.example.com", False, id="parent-domain"),
        pytest.param("user@example.com.evil.example", "example.com", False, id="suffix-trick"),
        pytest.param("user@xample.com", "example.com", False, id="near-miss"),
    ],
)
def test_email_must_belong_to_the_domain(email: str, domain: str, ok: bool) -> None:
    if ok:
        assert email_for_domain(email, domain)
    else:
        with pytest.raises(InvalidName, match="is not an address at"):
            email_for_domain(email, domain)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("mx.example.com", ("mx.example.com", 25), id="host"),
        pytest.param("MX.Example.com:2525", ("mx.example.com", 2525), id="host-port"),
        pytest.param("192.0.2.1", ("192.0.2.1", 25), id="ipv4"),
        pytest.param("192.0.2.1:587", ("192.0.2.1", 587), id="ipv4-port"),
        pytest.param("2001:db8::1", ("2001:db8::1", 25), id="bare-ipv6"),
        pytest.param("[2001:db8::1]:2525", ("2001:db8::1", 2525), id="bracketed-ipv6-port"),
        pytest.param("[2001:DB8::1]", ("2001:db8::1", 25), id="bracketed-ipv6"),
    ],
)
def test_parse_route(given: str, expected: tuple[str, int]) -> None:
    assert parse_route(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        pytest.param("", id="empty"),
        pytest.param("mx.example.com:0", id="port-zero"),
        pytest.param("mx.example.com:65536", id="port-too-big"),
        pytest.param("mx.example.com:smtp", id="port-name"),
        pytest.param("[2001:db8::1", id="unclosed-bracket"),
        pytest.param("[2001:db8::1]x", id="junk-after-bracket"),
        pytest.param("bad host:25", id="space"),
        pytest.param("[fe80::1%<!channel> <@U0AAA> *urgent*]:25", id="zone-id-with-mention"),
        pytest.param("[fe80::1%eth0]:25", id="zone-id"),
        pytest.param("fe80::1%25eth0", id="bare-zone-id"),
        pytest.param("mx.example.com:٢٥", id="non-ascii-port-digits"),
        pytest.param("mx.example.com:²⁵", id="superscript-port"),
        pytest.param("mx.example.com:" + "9" * 5000, id="huge-port"),
        pytest.param("<!channel>.example.com", id="mention-host"),
    ],
)
def test_parse_route_rejects(given: str) -> None:
    with pytest.raises(InvalidName):
        parse_route(given)


ACCEPTED_HOST = re.compile(r"^[A-Za-z0-9.-]+$")


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(max_size=80),
        st.from_regex(r"\A\[[0-9a-fA-F:.%<>@!*a-z ]{0,40}\](:[0-9]{0,6})?\Z"),
        st.from_regex(r"\A[a-zA-Z0-9.\-_%<>@!*ü ]{1,40}(:[0-9٣²]{0,6})?\Z"),
        st.ip_addresses().map(str),
        st.ip_addresses(v=6).map(lambda a: f"[{a}]:25"),
    )
)
def test_every_accepted_route_is_a_plain_host_name_or_ip_literal(text: str) -> None:
    try:
        host, port = parse_route(text)
    except InvalidName:
        return
    assert 0 < port < 65536
    if ACCEPTED_HOST.match(host) and not host.replace(".", "").isdigit():
        assert normalise_domain(host) == host
        return
    address = ipaddress.ip_address(host)  # else: it must be a plain IP literal
    assert str(address) == host
    assert "%" not in host
    assert re.fullmatch(r"[0-9a-f.:]+", host)
