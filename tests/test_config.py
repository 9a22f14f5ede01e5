"""Settings are read once from the environment; a bad value is one line naming the variable."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

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
    ca.write_bytes(trustme.CA().cert_pem.bytes() + trustme.CA().cert_pem.bytes())
    assert Settings.from_env({"TLSBOT_CA_FILE": str(ca)}).probe.ca_file == ca


_CERT = trustme.CA().cert_pem.bytes()
_BODY = b"".join(_CERT.splitlines(keepends=True)[1:-1])


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"-----BEGIN CERTIFICATE-----\n", id="a-header-alone"),
        pytest.param(b"not a certificate at all\n", id="text"),
        pytest.param(_CERT[:-40] + b"\n", id="cut-short"),
        pytest.param(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", id="not-der"
        ),
        pytest.param(
            _CERT
            + b"-----BEGIN CERTIFICATE-----\n"
            + _BODY[:64]
            + b"\n-----END CERTIFICATE-----\n",
            id="good-then-broken",
        ),
        pytest.param(x509.load_pem_x509_certificate(_CERT).public_bytes(Encoding.DER), id="der"),
    ],
)
def test_a_ca_file_without_pem_certificates_is_one_line_naming_it(
    tmp_path: Path, content: bytes
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"TLSBOT_CA_FILE": str(ca)})
    assert str(info.value).startswith("TLSBOT_CA_FILE=")
    assert "PEM certificates" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["PORT", "TLSBOT_SMTP_PORT", "TLSBOT_PROBE_CONCURRENCY"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("٣", id="arabic-indic-three"),
        pytest.param("１０", id="fullwidth-ten"),
        pytest.param("1_0", id="underscore"),
        pytest.param("+25", id="plus-sign"),
        pytest.param("0x19", id="hex"),
        pytest.param("²", id="superscript-two"),
    ],
)
def test_whole_numbers_are_ascii_digits_only(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: value})
    assert str(info.value).startswith(f"{name}=")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("value", ["٣", "1_0", "1e3", "inf", "nan", "٣.5", "2.", "0.5.1", "-1"])
def test_decimal_settings_are_ascii_digits_and_one_point(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"TLSBOT_REVALIDATE_HOURS": value})
    assert str(info.value).startswith("TLSBOT_REVALIDATE_HOURS=")


def test_decimal_settings_still_take_fractions() -> None:
    s = Settings.from_env({"TLSBOT_REVALIDATE_HOURS": ".25", "TLSBOT_PROBE_TIMEOUT": "2.5"})
    assert (s.revalidate_hours, s.probe.timeout) == (0.25, 2.5)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://127.0.0.1:99999/api", id="port-too-big"),
        pytest.param("http://127.0.0.1:0/api", id="port-zero"),
        pytest.param("http://127.0.0.1:abc/api", id="port-letters"),
        pytest.param("http://127.0.0.1:٣/api", id="port-arabic-indic"),
        pytest.param("http://127.0.0.1:/api", id="port-empty"),
        pytest.param("http://[::1/api", id="unclosed-bracket"),
        pytest.param("http://:8080/api", id="no-host"),
    ],
)
def test_the_slack_api_url_must_parse_with_a_valid_port(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"SLACK_API_URL": url})
    assert str(info.value).startswith("SLACK_API_URL=")
    assert "\n" not in str(info.value)


def test_the_slack_api_url_takes_ipv6_and_ports() -> None:
    s = Settings.from_env({"SLACK_API_URL": "http://[::1]:8080/api"})
    assert s.slack_api_url == "http://[::1]:8080/api/"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        pytest.param("[127.0.0.1]:53", "brackets are for IPv6", id="ipv4-in-brackets"),
        pytest.param("[::1", "is not ip[:port]", id="unclosed-bracket"),
        pytest.param("[::1]5300", "is not ip[:port]", id="no-colon-after-bracket"),
        pytest.param("::1:65535", "[ipv6]:port", id="ipv6-with-port-unbracketed"),
        pytest.param("[::1]:٣", "invalid port", id="port-arabic-indic"),
        pytest.param("[::1]:²", "invalid port", id="port-superscript"),
        pytest.param("127.0.0.1:²", "invalid port", id="ipv4-port-superscript"),
        pytest.param("[::1]:", "invalid port", id="port-empty"),
        pytest.param("127.0.0.1:0", "invalid port", id="port-zero"),
    ],
)
def test_dns_servers_need_ipv6_in_brackets_with_a_port(value: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"TLSBOT_DNS_SERVERS": value})
    message = str(info.value)
    assert message.startswith("TLSBOT_DNS_SERVERS: ")
    assert says in message
    assert "\n" not in message


def test_dns_servers_take_every_documented_form() -> None:
    s = Settings.from_env(
        {"TLSBOT_DNS_SERVERS": "127.0.0.1, 127.0.0.2:5353, ::1, [::1], [::1]:5300"}
    )
    assert s.probe.dns_servers == (
        ("127.0.0.1", 53),
        ("127.0.0.2", 5353),
        ("::1", 53),
        ("::1", 53),
        ("::1", 5300),
    )
