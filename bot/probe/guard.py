"""The address guard: may the probe connect to this IP address?

SPEC.md "Safety of the probe": only globally routable unicast addresses are
probed, unless an allow list (``TLSBOT_PROBE_ALLOW_NETWORKS`` for external
domains, ``TLSBOT_ROUTE_ALLOW_NETWORKS`` for inbound routes) names them.

:func:`vet_address` is a pure function: it never resolves or connects. The
caller resolves a name once, vets each address, and connects to the vetted IP
literal (the name goes only into SNI), so DNS rebinding cannot move the probe.

Embedded IPv4 addresses are unwrapped before the test, so an IPv6 spelling
cannot smuggle a private IPv4 address past it:

- IPv4-mapped ``::ffff:a.b.c.d`` (the kernel connects to a.b.c.d itself);
- NAT64 well-known prefix ``64:ff9b::a.b.c.d`` (RFC 6052; a NAT64 gateway
  forwards to a.b.c.d);
- 6to4 ``2002:AABB:CCDD::/48`` (RFC 3056; relays forward to the embedded
  a.b.c.d).

The unwrapped address must be public (or allowed) for the wrapper to pass.
The deprecated IPv4-compatible form ``::a.b.c.d`` is refused outright as
reserved, and Teredo (``2001::/32``) is refused because it is not global.
The allow list is checked against both the unwrapped and the given address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from bot.probe.model import Code, Reason

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

_NAT64 = IPv6Network("64:ff9b::/96")
_SIXTOFOUR = IPv6Network("2002::/16")
_IPV4_COMPATIBLE = IPv6Network("::/96")
_METADATA = IPv4Address("169.254.169.254")

# Special-purpose blocks that ipaddress (3.11) does not flag on every patch
# release, named so the reason says what they are. Checked in this order.
_SPECIAL: tuple[tuple[Network, str], ...] = (
    (IPv4Network("100.64.0.0/10"), "in the carrier-grade NAT shared space (RFC 6598)"),
    (IPv4Network("192.0.2.0/24"), "a documentation address (RFC 5737)"),
    (IPv4Network("198.51.100.0/24"), "a documentation address (RFC 5737)"),
    (IPv4Network("203.0.113.0/24"), "a documentation address (RFC 5737)"),
    (IPv6Network("2001:db8::/32"), "a documentation address (RFC 3849)"),
    (IPv6Network("3fff::/20"), "a documentation address (RFC 9637)"),
    (IPv4Network("198.18.0.0/15"), "a benchmarking address (RFC 2544)"),
    (IPv6Network("2001:2::/48"), "a benchmarking address (RFC 5180)"),
    (IPv4Network("192.0.0.0/24"), "an IETF protocol assignment (RFC 6890)"),
    (IPv4Network("192.88.99.0/24"), "the deprecated 6to4 relay anycast block (RFC 7526)"),
    (IPv6Network("100::/64"), "a discard-only address (RFC 6666)"),
    (IPv6Network("2001::/32"), "a Teredo tunnel address (RFC 4380)"),
    (IPv4Network("255.255.255.255/32"), "the broadcast address"),
)

_PRIVATE = (
    IPv4Network("10.0.0.0/8"),
    IPv4Network("172.16.0.0/12"),
    IPv4Network("192.168.0.0/16"),
    IPv6Network("fc00::/7"),
)

DEFAULT_ALLOW_VARIABLE = "TLSBOT_PROBE_ALLOW_NETWORKS"
ROUTE_ALLOW_VARIABLE = "TLSBOT_ROUTE_ALLOW_NETWORKS"


def vet_address(
    address: str,
    allowed: Sequence[Network],
    *,
    allow_variable: str = DEFAULT_ALLOW_VARIABLE,
) -> Reason | None:
    """``None`` when the probe may connect to ``address``; otherwise why not.

    ``allow_variable`` only names the setting in the reason's sentence
    (``TLSBOT_ROUTE_ALLOW_NETWORKS`` when vetting inbound routes).
    """
    try:
        given = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except ValueError:
        return Reason(Code.ADDRESS_NOT_PUBLIC, f"{address!r} is not an IP address")
    inner, wrapper = unwrap(given)
    if _in_any(inner, allowed) or _in_any(given, allowed):
        return None
    why = describe(inner)
    if isinstance(given, IPv6Address) and given in _IPV4_COMPATIBLE and int(given) > 1:
        why = "a reserved address (the deprecated IPv4-compatible IPv6 form)"
    if why is None:
        return None
    text = address.strip()
    shown = text if wrapper is None else f"{text} ({wrapper} {inner})"
    return Reason(
        Code.ADDRESS_NOT_PUBLIC,
        f"{shown} is {why}; the probe reaches only public addresses "
        f"unless {allow_variable} lists them",
    )


def unwrap(ip: Address) -> tuple[Address, str | None]:
    """The IPv4 address an IPv6 form stands for, and the name of that form."""
    if isinstance(ip, IPv4Address):
        return ip, None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "IPv4-mapped"
    if ip in _NAT64:
        return IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64 for"
    if ip in _SIXTOFOUR and ip.sixtofour is not None:
        return ip.sixtofour, "6to4 for"
    return ip, None


def describe(ip: Address) -> str | None:
    """Why ``ip`` is not a public unicast address, or ``None`` when it is."""
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip == _METADATA:
        return "the cloud instance metadata address (link-local)"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    for network, why in _SPECIAL:
        if ip.version == network.version and ip in network:
            return why
    if ip.is_reserved:
        return "a reserved address"
    if isinstance(ip, IPv6Address) and ip.is_site_local:
        return "a site-local address (deprecated, RFC 3879)"
    if any(ip.version == net.version and ip in net for net in _PRIVATE):
        return "a private address (RFC 1918 / RFC 4193)"
    if not ip.is_global:
        return "not a globally routable address (a special-purpose block)"
    return None


def _in_any(ip: Address, networks: Sequence[Network]) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)
