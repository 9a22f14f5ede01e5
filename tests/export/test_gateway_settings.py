"""TLSBOT_GATEWAYS, the hand-over settings, MIMECAST_*: a bad one is one line naming it."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings
from bot.export.gateway import GatewayName

MIMECAST = {
    "MIMECAST_BASE_URL": "http://127.0.0.1:9/",
    "MIMECAST_CLIENT_ID": "client-1",
    "MIMECAST_CLIENT_SECRET": "s3cret",
    "MIMECAST_STRICT_GROUP_ID": "eNo1-strict",
    "MIMECAST_RELAXED_GROUP_ID": "eNo1-relaxed",
    "MIMECAST_INBOUND_GROUP_ID": "eNo1-inbound",
}


def test_defaults_are_postfix_alone_and_the_approvers_apply_hand_overs() -> None:
    s = Settings.from_env({"TLSBOT_APPROVERS": "U0AAA,S0BBB"})
    assert s.gateways == (GatewayName.POSTFIX,)
    assert s.admins == ("U0AAA", "S0BBB")
    assert s.apply_remind_hours == 24
    assert s.mimecast is None


def test_every_gateway_setting_is_parsed() -> None:
    s = Settings.from_env(
        {
            "TLSBOT_GATEWAYS": " Mimecast, exchange,google,exchange",
            "TLSBOT_GATEWAY_ADMINS": "U0ADMIN,S0MAIL",
            "TLSBOT_APPLY_REMIND_HOURS": "0.5",
            **MIMECAST,
        }
    )
    assert s.gateways == (GatewayName.MIMECAST, GatewayName.EXCHANGE, GatewayName.GOOGLE)
    assert s.admins == ("U0ADMIN", "S0MAIL")
    assert s.apply_remind_hours == 0.5
    assert s.mimecast is not None
    assert s.mimecast.base_url == "http://127.0.0.1:9"
    assert s.mimecast.client_secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s.mimecast)
    assert (s.mimecast.strict_group, s.mimecast.relaxed_group, s.mimecast.inbound_group) == (
        "eNo1-strict",
        "eNo1-relaxed",
        "eNo1-inbound",
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TLSBOT_GATEWAYS": "postfix,lotus"}, "TLSBOT_GATEWAYS"),
        ({"TLSBOT_GATEWAYS": ",,"}, "TLSBOT_GATEWAYS"),
        ({"TLSBOT_GATEWAY_ADMINS": "alice"}, "TLSBOT_GATEWAY_ADMINS"),
        ({"TLSBOT_APPLY_REMIND_HOURS": "-1"}, "TLSBOT_APPLY_REMIND_HOURS"),
        ({"TLSBOT_GATEWAYS": "mimecast"}, "MIMECAST_BASE_URL"),
        (
            {"TLSBOT_GATEWAYS": "mimecast", **MIMECAST, "MIMECAST_CLIENT_SECRET": ""},
            "MIMECAST_CLIENT_SECRET",
        ),
        ({**MIMECAST, "MIMECAST_BASE_URL": "api.example"}, "MIMECAST_BASE_URL"),
        ({**MIMECAST, "MIMECAST_INBOUND_GROUP_ID": "a b"}, "MIMECAST_INBOUND_GROUP_ID"),
    ],
    ids=lambda v: "-".join(sorted(v))[:40] if isinstance(v, dict) else str(v),
)
def test_a_bad_gateway_setting_is_one_line_naming_the_variable(
    env: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert named in str(info.value)
    assert "\n" not in str(info.value)
