"""Typed settings, read once at start-up from the environment.

``Settings.from_env()`` checks every variable of SPEC.md; a missing or malformed
one raises :class:`ConfigError` whose message is one line naming the variable.
Nothing is read at import time.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

from bot.export.gateway import GatewayName, parse_names
from bot.probe.settings import AddressFamilies, DnssecMode, Network, ProbeSettings


class ConfigError(ValueError):
    """A setting is missing or malformed; ``str()`` is one line naming it."""


class Secret(str):
    """A string that does not show itself in logs or reprs."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('**********')"

    def get_secret_value(self) -> str:
        return str.__str__(self)


_USER_OR_GROUP = re.compile(r"^[US][A-Z0-9]{2,}$")
_GROUP_ID = re.compile(r"^[A-Za-z0-9_=-]{1,200}$")


@dataclass(frozen=True)
class MimecastSettings:
    """The Mimecast API 2.0 application and the three profile groups it keeps in sync."""

    base_url: str
    client_id: str
    client_secret: Secret
    strict_group: str
    relaxed_group: str
    inbound_group: str

    @classmethod
    def from_env(cls, e: _Env, *, required: bool) -> MimecastSettings | None:
        names = (
            "MIMECAST_BASE_URL",
            "MIMECAST_CLIENT_ID",
            "MIMECAST_CLIENT_SECRET",
            "MIMECAST_STRICT_GROUP_ID",
            "MIMECAST_RELAXED_GROUP_ID",
            "MIMECAST_INBOUND_GROUP_ID",
        )
        if not required and not any(e.text(n) for n in names):
            return None
        for name in names:
            if e.text(name) is None:
                raise ConfigError(f"{name} is not set (needed for the Mimecast gateway)")
        base = e.url("MIMECAST_BASE_URL")
        secret = e.secret("MIMECAST_CLIENT_SECRET")
        assert base is not None
        assert secret is not None
        groups = [e.one_id(n, _GROUP_ID, "a Mimecast group ID") or "" for n in names[3:]]
        return cls(base.rstrip("/"), e.text("MIMECAST_CLIENT_ID") or "", secret, *groups)


_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")
# ASCII only, written out: int() and float() also take "٣", "1_0", " +5" and "1e3"
_WHOLE = re.compile(r"[0-9]{1,9}")
_DECIMAL = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?|\.[0-9]{1,9}")


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///tlsbot.db"
    db_pool_size: int = 10  # PostgreSQL connections one process may hold (docs/scale.md)
    slack_bot_token: Secret | None = None
    slack_signing_secret: Secret | None = None
    slack_app_token: Secret | None = None
    slack_api_url: str | None = None
    port: int = 3000
    approvers: tuple[str, ...] = ()
    approval_channel: str | None = None
    alert_channel: str | None = None
    required_approvals: int = 1
    request_ttl_hours: float = 72.0
    revalidate_hours: float = 24.0
    expiry_warn_days: int = 14
    relaxed_days: int = 90
    observe_days: int = 7
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    gateways: tuple[GatewayName, ...] = (GatewayName.POSTFIX,)
    gateway_admins: tuple[str, ...] = ()  # empty: the approvers
    apply_remind_hours: float = 24.0
    mimecast: MimecastSettings | None = None

    @property
    def admins(self) -> tuple[str, ...]:
        """Who applies hand-overs and clicks *Mark applied* (default: the approvers)."""
        return self.gateway_admins or self.approvers

    @property
    def alerts_to(self) -> str | None:
        return self.alert_channel or self.approval_channel

    @property
    def approver_users(self) -> frozenset[str]:
        return frozenset(a for a in self.approvers if a.startswith("U"))

    @property
    def approver_groups(self) -> frozenset[str]:
        return frozenset(a for a in self.approvers if a.startswith("S"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = _Env(os.environ if env is None else env)
        dns_servers = e.servers("TLSBOT_DNS_SERVERS")
        probe = ProbeSettings(
            dns_servers=dns_servers,
            smtp_port=e.integer("TLSBOT_SMTP_PORT", 25, low=1, high=65535),
            ca_file=e.ca_file("TLSBOT_CA_FILE"),
            timeout=e.number("TLSBOT_PROBE_TIMEOUT", 20.0, low=0.1, high=600),
            concurrency=e.integer("TLSBOT_PROBE_CONCURRENCY", 50, low=1, high=1000),
            allow_networks=e.networks("TLSBOT_PROBE_ALLOW_NETWORKS"),
            route_allow_networks=e.networks("TLSBOT_ROUTE_ALLOW_NETWORKS"),
            ehlo_name=e.ehlo_name("TLSBOT_EHLO_NAME"),
            address_families=e.choice("TLSBOT_PROBE_ADDRESS_FAMILIES", AddressFamilies.AUTO),
            dnssec=e.dnssec("TLSBOT_DNSSEC", dns_servers),
        )
        gateways = e.gateways("TLSBOT_GATEWAYS")
        return cls(
            database_url=e.text("DATABASE_URL") or "sqlite:///tlsbot.db",
            db_pool_size=e.integer("TLSBOT_DB_POOL_SIZE", 10, low=1, high=1000),
            slack_bot_token=e.secret("SLACK_BOT_TOKEN", prefix="xoxb-"),
            slack_signing_secret=e.secret("SLACK_SIGNING_SECRET"),
            slack_app_token=e.secret("SLACK_APP_TOKEN", prefix="xapp-"),
            slack_api_url=e.url("SLACK_API_URL"),
            port=e.integer("PORT", 3000, low=1, high=65535),
            approvers=e.ids("TLSBOT_APPROVERS", _USER_OR_GROUP, "user (U…) or user-group (S…) IDs"),
            approval_channel=e.one_id("TLSBOT_APPROVAL_CHANNEL", _CHANNEL, "a channel ID (C…)"),
            alert_channel=e.one_id("TLSBOT_ALERT_CHANNEL", _CHANNEL, "a channel ID (C…)"),
            required_approvals=e.integer("TLSBOT_REQUIRED_APPROVALS", 1, low=1, high=10),
            request_ttl_hours=e.number("TLSBOT_REQUEST_TTL_HOURS", 72.0, low=0.01, high=24 * 365),
            revalidate_hours=e.number("TLSBOT_REVALIDATE_HOURS", 24.0, low=0.001, high=24 * 365),
            expiry_warn_days=e.integer("TLSBOT_EXPIRY_WARN_DAYS", 14, low=0, high=3650),
            relaxed_days=e.integer("TLSBOT_RELAXED_DAYS", 90, low=1, high=3650),
            observe_days=e.integer("TLSBOT_OBSERVE_DAYS", 7, low=0, high=3650),
            probe=probe,
            gateways=gateways,
            gateway_admins=e.ids(
                "TLSBOT_GATEWAY_ADMINS", _USER_OR_GROUP, "user (U…) or user-group (S…) IDs"
            ),
            apply_remind_hours=e.number(
                "TLSBOT_APPLY_REMIND_HOURS", 24.0, low=0.001, high=24 * 365
            ),
            mimecast=MimecastSettings.from_env(e, required=GatewayName.MIMECAST in gateways),
        )


class _Env:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        if not _WHOLE.fullmatch(raw):
            raise ConfigError(f"{name}={raw!r} is not a whole number (digits 0-9 only)")
        value = int(raw)
        if not low <= value <= high:
            raise ConfigError(f"{name}={value} is out of range ({low} to {high})")
        return value

    def number(self, name: str, default: float, *, low: float, high: float) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        if not _DECIMAL.fullmatch(raw):
            raise ConfigError(f"{name}={raw!r} is not a number (digits 0-9 and one '.')")
        value = float(raw)
        if not low <= value <= high:
            raise ConfigError(f"{name}={value} is out of range ({low} to {high})")
        return value

    def choice(self, name: str, default: AddressFamilies) -> AddressFamilies:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            return AddressFamilies(raw.lower())
        except ValueError:
            allowed = ", ".join(f.value for f in AddressFamilies)
            raise ConfigError(f"{name}={raw!r} is not one of {allowed}") from None

    def dnssec(self, name: str, servers: tuple[tuple[str, int], ...]) -> DnssecMode:
        """``off`` or ``resolver``; ``resolver`` trusts the AD bit, so only of loopback servers."""
        raw = self.text(name)
        if raw is None:
            return DnssecMode.OFF
        try:
            mode = DnssecMode(raw.lower())
        except ValueError:
            allowed = ", ".join(m.value for m in DnssecMode)
            raise ConfigError(f"{name}={raw!r} is not one of {allowed}") from None
        if mode is DnssecMode.OFF:
            return mode
        if not servers:
            raise ConfigError(
                f"{name}=resolver needs TLSBOT_DNS_SERVERS to name the local validating "
                "resolver (a loopback address, e.g. 127.0.0.1:53)"
            )
        for ip, _ in servers:
            address = ipaddress.ip_address(ip)
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped
            if not address.is_loopback:
                raise ConfigError(
                    f"{name}=resolver trusts the AD bit only from a resolver on loopback; "
                    f"TLSBOT_DNS_SERVERS names {ip}, whose answers could be forged on the way"
                )
        return mode

    def secret(self, name: str, prefix: str = "") -> Secret | None:
        raw = self.text(name)
        if raw is None:
            return None
        if prefix and not raw.startswith(prefix):
            raise ConfigError(f"{name} must start with {prefix!r}")
        return Secret(raw)

    def url(self, name: str) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        if not re.match(r"^https?://[^\s/]+(/\S*)?$", raw):
            raise ConfigError(f"{name}={raw!r} is not an http(s) URL")
        try:
            parts = urlsplit(raw)
            port = parts.port  # raises on a port that is not 0-65535 in ASCII digits
        except ValueError as exc:
            raise ConfigError(f"{name}={raw!r} is not a valid URL: {exc}") from None
        if not parts.hostname:
            raise ConfigError(f"{name}={raw!r} has no host")
        if port == 0 or (parts.netloc.endswith(":") and port is None):
            raise ConfigError(f"{name}={raw!r} has an invalid port")
        return raw if raw.endswith("/") else raw + "/"

    def ids(self, name: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
        raw = self.text(name)
        if raw is None:
            return ()
        items = tuple(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))
        for item in items:
            if not pattern.match(item):
                raise ConfigError(f"{name}: {item!r} is not one of {what}")
        return items

    def one_id(self, name: str, pattern: re.Pattern[str], what: str) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        if not pattern.match(raw):
            raise ConfigError(f"{name}={raw!r} is not {what}")
        return raw

    def ca_file(self, name: str) -> Path | None:
        """A readable file of one or more PEM certificates, each of which parses."""
        raw = self.text(name)
        if raw is None:
            return None
        path = Path(raw)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{name}={raw!r} cannot be read: {exc.strerror}") from None
        try:
            with warnings.catch_warnings():
                # old roots with non-positive serials: the probe trusts them too (probe/certs.py)
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                x509.load_pem_x509_certificates(data)
        except ValueError:
            raise ConfigError(
                f"{name}={raw!r} does not hold PEM certificates "
                "(-----BEGIN CERTIFICATE----- blocks, each one whole)"
            ) from None
        return path

    def networks(self, name: str) -> tuple[Network, ...]:
        raw = self.text(name)
        if raw is None:
            return ()
        nets: list[Network] = []
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            try:
                nets.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ConfigError(f"{name}: {part!r} is not a CIDR network") from None
        return tuple(nets)

    def servers(self, name: str) -> tuple[tuple[str, int], ...]:
        raw = self.text(name)
        if raw is None:
            return ()
        servers: list[tuple[str, int]] = []
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            servers.append(_server(name, part))
        return tuple(servers)

    def gateways(self, name: str) -> tuple[GatewayName, ...]:
        raw = self.text(name)
        if raw is None:
            return (GatewayName.POSTFIX,)
        try:
            names = parse_names(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None
        if not names:
            raise ConfigError(f"{name} names no gateway")
        return names

    def ehlo_name(self, name: str) -> str:
        raw = self.text(name) or socket.getfqdn() or "localhost"
        if not re.match(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$", raw):
            raise ConfigError(f"{name}={raw!r} is not a host name")
        return raw


def _server(name: str, part: str) -> tuple[str, int]:
    """``ip``, ``ip:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address (port 53).

    An IPv6 address with a port must be in brackets: ``::1:5353`` is itself an IPv6
    address, so without them the port would silently become part of the address.
    """
    host, port_text = part, None
    if part.startswith("["):
        host, bracket, rest = part[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ConfigError(f"{name}: {part!r} is not ip[:port] or [ipv6][:port]")
        port_text = rest[1:] if rest else None
        if not isinstance(_address(name, part, host), ipaddress.IPv6Address):
            raise ConfigError(f"{name}: {part!r}: brackets are for IPv6 addresses only")
    elif part.count(":") == 1:
        host, port_text = part.split(":")
        if not isinstance(_address(name, part, host), ipaddress.IPv4Address):
            raise ConfigError(f"{name}: {part!r} is not ip[:port]")
    elif ":" in part and _looks_like_v6_with_port(part):
        raise ConfigError(f"{name}: {part!r}: write an IPv6 address with a port as [ipv6]:port")
    address = _address(name, part, host)
    port = 53
    if port_text is not None:
        if not _WHOLE.fullmatch(port_text) or not 0 < int(port_text) < 65536:
            raise ConfigError(f"{name}: {part!r} has an invalid port (1-65535)")
        port = int(port_text)
    return str(address), port


def _address(name: str, part: str, host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(f"{name}: {part!r} is not ip[:port]") from None


def _looks_like_v6_with_port(part: str) -> bool:
    """An unbracketed value that is no address but would be one without its last ``:digits``."""
    try:
        ipaddress.ip_address(part)
    except ValueError:
        host, _, tail = part.rpartition(":")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return tail.isascii() and tail.isdigit()
    return False
