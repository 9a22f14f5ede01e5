"""``TLSBOT_DNSSEC``: off by default; ``resolver`` only with loopback ``TLSBOT_DNS_SERVERS``."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings
from bot.probe.settings import DnssecMode


def test_dnssec_is_off_by_default() -> None:
    assert Settings.from_env({}).probe.dnssec is DnssecMode.OFF


@pytest.mark.parametrize("servers", ["127.0.0.1:53", "127.0.0.53, [::1]:5353", "::ffff:127.0.0.1"])
def test_resolver_mode_with_loopback_servers(servers: str) -> None:
    env = {"TLSBOT_DNSSEC": "Resolver", "TLSBOT_DNS_SERVERS": servers}
    assert Settings.from_env(env).probe.dnssec is DnssecMode.RESOLVER


@pytest.mark.parametrize(
    ("env", "says"),
    [
        pytest.param({"TLSBOT_DNSSEC": "yes"}, "is not one of off, resolver", id="unknown"),
        pytest.param({"TLSBOT_DNSSEC": "resolver"}, "needs TLSBOT_DNS_SERVERS", id="no-servers"),
        pytest.param(
            {"TLSBOT_DNSSEC": "resolver", "TLSBOT_DNS_SERVERS": "127.0.0.1, 9.9.9.9"},
            "names 9.9.9.9",
            id="remote-server",
        ),
        pytest.param(
            {"TLSBOT_DNSSEC": "resolver", "TLSBOT_DNS_SERVERS": "[2001:db8::53]:53"},
            "names 2001:db8::53",
            id="remote-ipv6",
        ),
    ],
)
def test_a_bad_dnssec_setting_is_one_line_naming_the_variable(
    env: dict[str, str], says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    assert message.startswith("TLSBOT_DNSSEC")
    assert says in message
    assert "\n" not in message
