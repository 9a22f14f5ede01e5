"""The knobs of the probe, as one frozen value (built by ``bot.config`` from the environment)."""

from __future__ import annotations

import enum
import socket
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

Network = IPv4Network | IPv6Network


class AddressFamilies(enum.StrEnum):
    """``TLSBOT_PROBE_ADDRESS_FAMILIES``: which addresses of a host are probed, as an MTA's
    ``inet_protocols`` decides which it delivers to."""

    AUTO = "auto"  # the families this host has a route for (see bot.probe.families)
    IPV4 = "ipv4"
    IPV6 = "ipv6"
    ALL = "all"  # every address, reachable or not


class DnssecMode(enum.StrEnum):
    """``TLSBOT_DNSSEC``: whose DNSSEC validation the probe trusts.

    tlsbot does not validate DNSSEC itself. ``resolver`` trusts the AD bit of the
    ``TLSBOT_DNS_SERVERS``, which must then be validating resolvers reached over
    loopback (Postfix's own rule for ``smtp_dns_support_level = dnssec``).
    """

    OFF = "off"  # no DNSSEC status: TLSA records are listed, not checked
    RESOLVER = "resolver"


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    dns_servers: tuple[tuple[str, int], ...] = ()  # empty: the system resolver
    smtp_port: int = 25
    ca_file: Path | None = None
    timeout: float = 20.0  # overall deadline per host, seconds
    concurrency: int = 50  # host probes in flight at once
    per_address: int = 1  # connections at once to any one address: never two
    allow_networks: tuple[Network, ...] = ()  # external domains may reach these
    route_allow_networks: tuple[Network, ...] = ()  # inbound routes may reach these
    ehlo_name: str = field(default_factory=socket.getfqdn)
    dns_timeout: float = 5.0
    mta_sts_timeout: float = 5.0
    mta_sts_port: int = 443  # HTTPS port of mta-sts.<domain>; tests serve on a high port
    address_families: AddressFamilies = AddressFamilies.AUTO
    # once one address of a host is fully tested, another still connecting gets this long
    sibling_grace: float = 2.0
    dnssec: DnssecMode = DnssecMode.OFF
