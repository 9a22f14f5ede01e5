"""The knobs of the probe, as one frozen value (built by ``bot.config`` from the environment)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

Network = IPv4Network | IPv6Network


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    dns_servers: tuple[tuple[str, int], ...] = ()  # empty: the system resolver
    smtp_port: int = 25
    ca_file: Path | None = None
    timeout: float = 20.0  # overall deadline per host, seconds
    concurrency: int = 50  # host probes in flight at once
    per_address: int = 2  # connections at once to any one address
    allow_networks: tuple[Network, ...] = ()  # external domains may reach these
    route_allow_networks: tuple[Network, ...] = ()  # inbound routes may reach these
    ehlo_name: str = field(default_factory=socket.getfqdn)
    dns_timeout: float = 5.0
    mta_sts_timeout: float = 5.0
    mta_sts_port: int = 443  # HTTPS port of mta-sts.<domain>; tests serve on a high port
