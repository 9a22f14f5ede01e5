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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.probe.settings import Network, ProbeSettings


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
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")


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
        probe = ProbeSettings(
            dns_servers=e.servers("TLSBOT_DNS_SERVERS"),
            smtp_port=e.integer("TLSBOT_SMTP_PORT", 25, low=1, high=65535),
            ca_file=e.readable_file("TLSBOT_CA_FILE"),
            timeout=e.number("TLSBOT_PROBE_TIMEOUT", 20.0, low=0.1, high=600),
            concurrency=e.integer("TLSBOT_PROBE_CONCURRENCY", 50, low=1, high=1000),
            allow_networks=e.networks("TLSBOT_PROBE_ALLOW_NETWORKS"),
            route_allow_networks=e.networks("TLSBOT_ROUTE_ALLOW_NETWORKS"),
            ehlo_name=e.ehlo_name("TLSBOT_EHLO_NAME"),
        )
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
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a whole number") from None
        if not low <= value <= high:
            raise ConfigError(f"{name}={value} is out of range ({low} to {high})")
        return value

    def number(self, name: str, default: float, *, low: float, high: float) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a number") from None
        if not low <= value <= high:
            raise ConfigError(f"{name}={value} is out of range ({low} to {high})")
        return value

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

    def readable_file(self, name: str) -> Path | None:
        raw = self.text(name)
        if raw is None:
            return None
        path = Path(raw)
        try:
            path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{name}={raw!r} cannot be read: {exc.strerror}") from None
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

    def ehlo_name(self, name: str) -> str:
        raw = self.text(name) or socket.getfqdn() or "localhost"
        if not re.match(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$", raw):
            raise ConfigError(f"{name}={raw!r} is not a host name")
        return raw


def _server(name: str, part: str) -> tuple[str, int]:
    """``ip``, ``ip:port``, ``[v6]:port`` or a bare IPv6 address."""
    host, port = part, 53
    if part.startswith("["):
        host, _, rest = part[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ConfigError(f"{name}: {part!r} is not ip[:port]")
            port = int(rest[1:])
    elif part.count(":") == 1:
        host, port_text = part.split(":")
        if not port_text.isdigit():
            raise ConfigError(f"{name}: {part!r} is not ip[:port]")
        port = int(port_text)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(f"{name}: {part!r} is not ip[:port]") from None
    if not 0 < port < 65536:
        raise ConfigError(f"{name}: {part!r} has an invalid port")
    return str(address), port
