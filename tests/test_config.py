"""Settings are read once from the environment; a bad value is one line naming the variable."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings


def test_defaults_match_the_spec() -> None:
    s = Settings.from_env({})
    assert s.database_url == "sqlite:///tlsbot.db"
    assert s.port == 3000
    assert s.required_approvals == 1
    assert s.request_ttl_hours == 72
    assert s.revalidate_hours == 24
    assert s.expiry_warn_days == 14
    assert s.relaxed_days == 90
    assert s.observe_days == 7
    assert s.probe.smtp_port == 25
    assert s.probe.timeout == 20
    assert s.probe.concurrency == 50
    assert s.probe.dns_servers == ()
    assert s.probe.allow_networks == ()
    assert s.slack_bot_token is None


def test_values_are_parsed() -> None:
    s = Settings.from_env(
        {
            "TLSBOT_DNS_SERVERS": "127.0.0.1:5353, [::1]:5300, ::1",
            "TLSBOT_APPROVERS": "U01ABC, S02DEF,U01ABC",
            "TLSBOT_APPROVAL_CHANNEL": "C123",
            "TLSBOT_PROBE_ALLOW_NETWORKS": "127.0.0.0/8,::1/128",
            "TLSBOT_REVALIDATE_HOURS": "0.5",
            "SLACK_BOT_TOKEN": "xoxb-secret",
            "SLACK_API_URL": "http://127.0.0.1:8888/api",
        }
    )
    assert s.probe.dns_servers == (("127.0.0.1", 5353), ("::1", 5300), ("::1", 53))
    assert s.approvers == ("U01ABC", "S02DEF")
    assert s.approver_users == {"U01ABC"}
    assert s.approver_groups == {"S02DEF"}
    assert s.alerts_to == "C123"
    assert s.probe.allow_networks == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    assert s.revalidate_hours == 0.5
    assert s.slack_api_url == "http://127.0.0.1:8888/api/"
    assert "xoxb-secret" not in repr(s)
    assert s.slack_bot_token is not None
    assert s.slack_bot_token.get_secret_value() == "xoxb-secret"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"TLSBOT_SMTP_PORT": "0"}, "TLSBOT_SMTP_PORT"),
        ({"TLSBOT_PROBE_TIMEOUT": "soon"}, "TLSBOT_PROBE_TIMEOUT"),
        ({"TLSBOT_APPROVERS": "alice"}, "TLSBOT_APPROVERS"),
        ({"TLSBOT_APPROVAL_CHANNEL": "#mail"}, "TLSBOT_APPROVAL_CHANNEL"),
        ({"TLSBOT_DNS_SERVERS": "dns.example"}, "TLSBOT_DNS_SERVERS"),
        ({"TLSBOT_DNS_SERVERS": "127.0.0.1:99999"}, "TLSBOT_DNS_SERVERS"),
        ({"TLSBOT_PROBE_ALLOW_NETWORKS": "10.0.0.0/33"}, "TLSBOT_PROBE_ALLOW_NETWORKS"),
        ({"TLSBOT_CA_FILE": "/nonexistent/ca.pem"}, "TLSBOT_CA_FILE"),
        ({"SLACK_BOT_TOKEN": "xapp-wrong-kind"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_APP_TOKEN": "xoxb-wrong-kind"}, "SLACK_APP_TOKEN"),
        ({"SLACK_API_URL": "ftp://x"}, "SLACK_API_URL"),
        ({"TLSBOT_REQUIRED_APPROVALS": "0"}, "TLSBOT_REQUIRED_APPROVALS"),
        ({"TLSBOT_EHLO_NAME": "bad name"}, "TLSBOT_EHLO_NAME"),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else str(v),
)
def test_a_bad_value_is_one_line_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    message = str(info.value)
    assert named in message
    assert "\n" not in message


def test_ca_file_is_read_at_start_up(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert Settings.from_env({"TLSBOT_CA_FILE": str(ca)}).probe.ca_file == ca
