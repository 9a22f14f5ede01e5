"""From published policies to Postfix table entries: pure functions.

Outbound (``smtp_tls_policy_maps``, looked up by next-hop domain), the strongest policy
that is valid for the partner (docs/enforcement.md, "Partner policies"):

* ``strict``, every MX host DANE-verified → ``dane-only protocols=>=TLSv1.2 ciphers=high``
  (never MTA-STS over DANE; needs ``smtp_dns_support_level = dnssec``)
* ``strict``  → ``secure match=<mx1>:<mx2> protocols=>=TLSv1.2 ciphers=high`` (the MX
  names tlsbot validated)
* ``strict`` without validated names, the partner's MTA-STS policy in ``enforce`` mode →
  ``secure match=<its mx: patterns>`` (``*.example.com`` as Postfix's ``.example.com``)
* ``relaxed`` → ``encrypt protocols=>=TLSv1.2 ciphers=high``

Inbound (an access table consulted by ``check_sender_access``, looked up by the
envelope sender's domain): every domain with Secure Receipt →
``reject_plaintext_session``.

The values come from :func:`bot.export.names.enforcement`, which has validated
every domain and MX name (and reported what it dropped). Since a surviving name
contains only ``[a-z0-9.-]``, no value can add a line, a whitespace- or
comma-separated option, a ``:``-separated match pattern or a second entry.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.export.model import Level, MapName, PublishedPolicy
from bot.export.names import (
    Enforced,
    Enforcement,
    Rejection,
    check_domain,
    check_mx_host,
    enforcement,
)

__all__ = [
    "Rejection",
    "Tables",
    "build_tables",
    "check_domain",
    "check_mx_host",
    "outbound_value",
    "render",
    "tables_of",
]

PROTOCOLS = "protocols=>=TLSv1.2"
CIPHERS = "ciphers=high"
INBOUND_ACTION = "reject_plaintext_session"


@dataclass(frozen=True)
class Tables:
    """Both tables, key → value, plus what was dropped on the way."""

    tls_policy: Mapping[str, str] = field(default_factory=dict)
    tls_inbound: Mapping[str, str] = field(default_factory=dict)
    rejected: tuple[Rejection, ...] = ()
    needs_dnssec: bool = False  # a dane-only entry: main.cf needs smtp_dns_support_level

    def table(self, name: MapName) -> Mapping[str, str]:
        return self.tls_policy if name is MapName.TLS_POLICY else self.tls_inbound


def build_tables(policies: Iterable[PublishedPolicy]) -> Tables:
    """Map the policies to both tables, keeping only values that validate."""
    return tables_of(enforcement(policies))


def tables_of(view: Enforcement) -> Tables:
    """Both Postfix tables of an already validated :class:`Enforcement`."""
    outbound: dict[str, str] = {}
    inbound: dict[str, str] = {}
    for policy in view.policies:  # sorted by domain already
        if policy.delivery:
            outbound[policy.domain] = _outbound(policy)
        if policy.receipt:
            inbound[policy.domain] = INBOUND_ACTION
    return Tables(
        tls_policy=outbound,
        tls_inbound=inbound,
        rejected=view.rejected,
        needs_dnssec=view.needs_dnssec,
    )


@functools.lru_cache(maxsize=200_000)
def _outbound(policy: Enforced) -> str:
    """Cached: the socketmap rebuilds both tables from every policy on each change."""
    return outbound_value(policy.level, policy.mx_hosts, dane=policy.dane, sts_mx=policy.sts_mx)


def outbound_value(
    level: Level,
    mx_hosts: tuple[str, ...] = (),
    *,
    dane: bool = False,
    sts_mx: tuple[str, ...] = (),
) -> str:
    """The ``smtp_tls_policy_maps`` value for a level, its validated MX names and what the
    partner publishes: ``dane-only`` over our ``secure match=`` over MTA-STS's patterns."""
    if level is Level.RELAXED:
        return f"encrypt {PROTOCOLS} {CIPHERS}"
    if dane:
        return f"dane-only {PROTOCOLS} {CIPHERS}"
    names = mx_hosts or tuple(_postfix_pattern(p) for p in sts_mx)
    match = f" match={':'.join(names)}" if names else ""
    return f"secure{match} {PROTOCOLS} {CIPHERS}"


def _postfix_pattern(pattern: str) -> str:
    """An MTA-STS ``*.example.com`` as Postfix's ``.example.com`` (any name below it: a
    little wider than MTA-STS's one label, as postfix-mta-sts-resolver publishes it)."""
    return "." + pattern[2:] if pattern.startswith("*.") else pattern


def render(entries: Mapping[str, str], header: Iterable[str] = ()) -> str:
    """A Postfix table source file: ``#`` header lines, then ``key<TAB>value`` sorted."""
    lines = [f"# {' '.join(line.split())}" for line in header]
    lines += [f"{key}\t{entries[key]}" for key in sorted(entries)]
    return "".join(f"{line}\n" for line in lines)
