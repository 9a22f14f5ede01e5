"""Which addresses of a host this machine can probe, the way an MTA decides which it delivers to.

Postfix delivers over the address families of ``inet_protocols`` and, with the default
``all``, only over those the host has an interface and a route for; a machine without an
IPv6 route (a Heroku dyno, Docker's default bridge, many VMs) delivers over IPv4 and never
notices the AAAA records. ``TLSBOT_PROBE_ADDRESS_FAMILIES``
(:class:`~bot.probe.settings.AddressFamilies`) does the same for the probe:

- ``auto`` (the default): an address is probed when this machine has a route to it. The
  question is put to the kernel by :func:`system_route`: ``connect()`` on a UDP socket picks
  a route (or fails with "network unreachable") and sends nothing at all;
- ``ipv4`` / ``ipv6``: only that family;
- ``all``: every address; one the machine cannot reach fails to connect and, like any
  address that could not be tested, is a warning when another address of the host was.

An address left out is listed with its reason (``no-route-ipv6``, ``no-route-ipv4``,
``family-not-probed``) and never lowers a verdict. The route check is a parameter
(:data:`RouteCheck`) so that tests create an unroutable family on purpose instead of
depending on the machine they run on.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable

from bot.probe.model import Code, Family, Reason
from bot.probe.settings import AddressFamilies

RouteCheck = Callable[[str], bool]  # an IP literal -> has this machine a route to it?

DISCARD_PORT = 9  # any port does: connect() on UDP sends no datagram
_NO_ROUTE = frozenset(
    {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT}
)
VARIABLE = "TLSBOT_PROBE_ADDRESS_FAMILIES"


def system_route(address: str) -> bool:
    """Whether the kernel has a route to ``address`` (a UDP ``connect()``, which sends nothing).

    Only "no route" answers say no; any other error is left for the probe to meet.
    """
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((address, DISCARD_PORT))
    except OSError as exc:
        return exc.errno not in _NO_ROUTE
    return True


def family_refusal(address: str, families: AddressFamilies, routes: RouteCheck) -> Reason | None:
    """``None`` when ``address`` is to be probed; otherwise why it is listed but not probed."""
    family = Family.of(address)
    shown = f"[{address}]" if family is Family.IPV6 else address
    name = "IPv6" if family is Family.IPV6 else "IPv4"
    if families is AddressFamilies.ALL:
        return None
    if families is not AddressFamilies.AUTO:
        if families.value == family.value:
            return None
        return Reason(
            Code.FAMILY_NOT_PROBED,
            f"{shown} is an {name} address; not probed ({VARIABLE}={families.value})",
        )
    if routes(address):
        return None
    code = Code.NO_ROUTE_IPV6 if family is Family.IPV6 else Code.NO_ROUTE_IPV4
    return Reason(
        code,
        f"this machine has no {name} route to {shown}; not probed, as a mail server here "
        f"would not deliver there either ({VARIABLE}=auto)",
    )
