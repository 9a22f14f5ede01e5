"""The mapping from published policies to Postfix table entries."""

from __future__ import annotations

import pytest

from bot.export.model import Level, PublishedPolicy
from bot.export.tables import build_tables, outbound_value, render

STRICT_TAIL = "protocols=>=TLSv1.2 ciphers=high"


@pytest.mark.parametrize(
    ("policy", "outbound", "inbound"),
    [
        pytest.param(
            PublishedPolicy("example.com", Level.STRICT, ("mx2.example.com", "mx1.example.com")),
            f"secure match=mx1.example.com:mx2.example.com {STRICT_TAIL}",
            "reject_plaintext_session",
            id="strict-matches-validated-mx-sorted",
        ),
        pytest.param(
            PublishedPolicy("example.org", Level.RELAXED, ("mx.example.org",)),
            f"encrypt {STRICT_TAIL}",
            "reject_plaintext_session",
            id="relaxed-encrypts",
        ),
        pytest.param(
            PublishedPolicy("example.net", "strict", ("mx.example.net",), receipt=False),
            f"secure match=mx.example.net {STRICT_TAIL}",
            None,
            id="delivery-only",
        ),
        pytest.param(
            PublishedPolicy("example.net", "relaxed", (), delivery=False),
            None,
            "reject_plaintext_session",
            id="receipt-only",
        ),
        pytest.param(
            PublishedPolicy("xn--bcher-kva.example", Level.STRICT, ("mx.xn--bcher-kva.example",)),
            f"secure match=mx.xn--bcher-kva.example {STRICT_TAIL}",
            "reject_plaintext_session",
            id="idn-a-labels",
        ),
    ],
)
def test_mapping(policy: PublishedPolicy, outbound: str | None, inbound: str | None) -> None:
    tables = build_tables([policy])
    assert tables.tls_policy.get(policy.domain) == outbound
    assert tables.tls_inbound.get(policy.domain) == inbound
    assert tables.rejected == ()


def test_domains_not_listed_are_absent() -> None:
    tables = build_tables([PublishedPolicy("a.example", Level.RELAXED)])
    assert set(tables.tls_policy) == {"a.example"}
    assert set(tables.tls_inbound) == {"a.example"}
    assert build_tables([]).tls_policy == {}


HOSTILE_DOMAINS = [
    pytest.param("evil.example\nattacker.example\tnone", id="newline"),
    pytest.param("evil.example none", id="space"),
    pytest.param("evil.example\tnone", id="tab"),
    pytest.param("evil.example,none", id="comma"),
    pytest.param("evil.example=x", id="equals"),
    pytest.param("evil.example:25", id="colon"),
    pytest.param("evil\x00.example", id="nul"),
    pytest.param("Evil.Example", id="not-lower-case"),
    pytest.param("evil.example.", id="trailing-dot"),
    pytest.param(" evil.example", id="leading-space"),
    pytest.param("bücher.example", id="u-label"),
    pytest.param(("a" * 63 + ".") * 4 + "example", id="overlong"),
    pytest.param("[127.0.0.1]", id="bracketed-ip"),
    pytest.param("127.0.0.1", id="ip"),
    pytest.param(".example", id="leading-dot"),
    pytest.param("#comment.example", id="hash"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("domain", HOSTILE_DOMAINS)
def test_hostile_domain_is_dropped_and_reported(domain: str) -> None:
    tables = build_tables(
        [PublishedPolicy(domain, Level.RELAXED), PublishedPolicy("good.example", Level.RELAXED)]
    )
    assert list(tables.tls_policy) == ["good.example"]
    assert list(tables.tls_inbound) == ["good.example"]
    assert [r.field for r in tables.rejected] == ["domain"]


HOSTILE_MX = [
    pytest.param("mx.evil.example\n.example\tnone", id="newline"),
    pytest.param("mx.evil.example protocols=SSLv3", id="space-option"),
    pytest.param("mx.evil.example,ciphers=null", id="comma-option"),
    pytest.param("ciphers=null", id="equals"),
    pytest.param("mx.evil.example:nexthop", id="colon-extra-match"),
    pytest.param("mx\x00.evil.example", id="nul"),
    pytest.param("MX.evil.example", id="upper-case"),
    pytest.param("mx_1.evil.example", id="underscore"),
    pytest.param("-mx.evil.example", id="leading-hyphen"),
    pytest.param("mx.evil.example.", id="trailing-dot"),
    pytest.param("localhost", id="single-label"),
    pytest.param("a" * 64 + ".example", id="label-too-long"),
    pytest.param(("a" * 60 + ".") * 5 + "example", id="overlong"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("mx", HOSTILE_MX)
def test_hostile_mx_name_is_dropped_and_reported(mx: str) -> None:
    policy = PublishedPolicy("good.example", Level.STRICT, ("mx1.good.example", mx))
    tables = build_tables([policy])
    assert tables.tls_policy == {"good.example": f"secure match=mx1.good.example {STRICT_TAIL}"}
    assert [(r.domain, r.field) for r in tables.rejected] == [("good.example", "mx_hosts")]


def test_strict_without_any_valid_mx_fails_closed() -> None:
    tables = build_tables([PublishedPolicy("good.example", Level.STRICT, ("bad name",))])
    assert tables.tls_policy == {"good.example": f"secure {STRICT_TAIL}"}
    assert len(tables.rejected) == 2


def test_unknown_level_is_dropped() -> None:
    tables = build_tables([PublishedPolicy("good.example", "none")])
    assert tables.tls_policy == {}
    assert tables.tls_inbound == {}
    assert tables.rejected[0].field == "level"


@pytest.mark.parametrize(
    "levels",
    [
        pytest.param((Level.RELAXED, Level.STRICT), id="relaxed-then-strict"),
        pytest.param((Level.STRICT, Level.RELAXED), id="strict-then-relaxed"),
    ],
)
def test_duplicate_domain_keeps_the_stricter(levels: tuple[Level, Level]) -> None:
    policies = [PublishedPolicy("dup.example", level, ("mx.dup.example",)) for level in levels]
    tables = build_tables(policies)
    assert tables.tls_policy == {"dup.example": outbound_value(Level.STRICT, ("mx.dup.example",))}
    assert [r.field for r in tables.rejected] == ["duplicate"]


def test_render_is_sorted_with_a_header_and_one_line_per_entry() -> None:
    text = render({"b.example": "encrypt", "a.example": "secure"}, ["made now\nby tlsbot"])
    assert text == "# made now by tlsbot\na.example\tsecure\nb.example\tencrypt\n"


def test_no_rendered_line_can_carry_an_extra_entry_or_option() -> None:
    domains = [p.values[0] for p in HOSTILE_DOMAINS]
    mxs = [p.values[0] for p in HOSTILE_MX]
    policies = [PublishedPolicy(d, Level.STRICT, tuple(mxs)) for d in domains]
    policies.append(PublishedPolicy("ok.example", Level.STRICT, ("mx.ok.example", *mxs)))
    tables = build_tables(policies)
    lines = render(tables.tls_policy).splitlines()
    assert lines == [f"ok.example\tsecure match=mx.ok.example {STRICT_TAIL}"]
