"""The gateway-agnostic view: every published policy validated, one per domain."""

from __future__ import annotations

import pytest

from bot.export.gateway import GatewayName
from bot.export.model import Level, PublishedPolicy
from bot.export.names import Enforced, check_domain, check_mx_host, enforcement
from bot.export.registry import GATEWAYS
from bot.probe.names import InvalidName


def test_the_view_is_sorted_one_entry_per_domain_with_lists_per_direction() -> None:
    view = enforcement(
        [
            PublishedPolicy("b.example", Level.RELAXED, ("mx.b.example",)),
            PublishedPolicy("a.example", "strict", ("mx2.a.example", "mx1.a.example")),
            PublishedPolicy("c.example", "strict", ("mx.c.example",), receipt=False),
            PublishedPolicy("d.example", "relaxed", ("bad name",), delivery=False),
        ]
    )
    assert [p.domain for p in view.policies] == ["a.example", "b.example", "c.example", "d.example"]
    assert view.policies[0] == Enforced(
        "a.example", Level.STRICT, ("mx1.a.example", "mx2.a.example"), True, True
    )
    assert view.outbound(Level.STRICT) == ("a.example", "c.example")
    assert view.outbound(Level.RELAXED) == ("b.example",)
    assert view.inbound() == ("a.example", "b.example", "d.example")
    assert view.rejected == ()  # MX names of a receipt-only policy are not looked at


def test_rejections_name_the_field_without_any_gateway_syntax() -> None:
    view = enforcement(
        [
            PublishedPolicy("evil.example'; Remove-Item *", Level.STRICT),
            PublishedPolicy("ok.example", "strict", ("mx.ok.example", "mx;rm.ok.example")),
            PublishedPolicy("odd.example", "lenient"),
        ]
    )
    assert [p.domain for p in view.policies] == ["ok.example"]
    assert [(r.domain, r.field) for r in view.rejected] == [
        ("evil.example'; Remove-Item *", "domain"),
        ("ok.example", "mx_hosts"),
        ("odd.example", "level"),
    ]
    assert all("\t" not in str(r) and "\n" not in str(r) for r in view.rejected)


@pytest.mark.parametrize("value", ["Evil.example", "evil.example.", "a b.example", 7, None])
def test_check_domain_refuses_what_is_not_a_normal_domain(value: object) -> None:
    with pytest.raises(InvalidName):
        check_domain(value)


@pytest.mark.parametrize("value", ["mx'.example", "mx.example\n", "MX.example", "mx", b"mx.a.b"])
def test_check_mx_host_refuses_what_is_not_an_ldh_host(value: object) -> None:
    with pytest.raises(InvalidName):
        check_mx_host(value)


def test_the_registry_has_one_adapter_per_gateway_name() -> None:
    assert set(GATEWAYS) == set(GatewayName)
    for name, adapter in GATEWAYS.items():
        assert adapter.name is name
        assert (adapter.render is None) == (adapter.reach.value == "api")
