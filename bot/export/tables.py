"""From published policies to Postfix table entries: pure functions.

Outbound (``smtp_tls_policy_maps``, looked up by next-hop domain):

* ``strict``  → ``secure match=<mx1>:<mx2> protocols=>=TLSv1.2 ciphers=high``
* ``relaxed`` → ``encrypt protocols=>=TLSv1.2 ciphers=high``

Inbound (an access table consulted by ``check_sender_access``, looked up by the
envelope sender's domain): every domain with Secure Receipt →
``reject_plaintext_session``.

Nothing read from the store is trusted. Each domain must already be in the normal
form of :func:`bot.probe.names.normalise_domain` and each MX name must be a
strictly LDH host name; anything else is dropped and reported as a
:class:`Rejection`, never written. Since a surviving name contains only
``[a-z0-9.-]``, no value can add a line, a whitespace- or comma-separated
option, a ``:``-separated match pattern or a second entry.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.export.model import Level, MapName, PublishedPolicy
from bot.probe.names import InvalidName, normalise_domain

PROTOCOLS = "protocols=>=TLSv1.2"
CIPHERS = "ciphers=high"
INBOUND_ACTION = "reject_plaintext_session"

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LDH_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})+\Z")
_MAX_HOST = 253


@dataclass(frozen=True)
class Rejection:
    """A value from the store that was not published, and why."""

    domain: str
    field: str  # "domain", "mx_hosts", "level", "duplicate"
    value: str
    reason: str

    def __str__(self) -> str:
        shown = f"{_show(self.domain)}: {self.field} {_show(self.value)}"
        return f"{shown}: {self.reason}"


@dataclass(frozen=True)
class Tables:
    """Both tables, key → value, plus what was dropped on the way."""

    tls_policy: Mapping[str, str] = field(default_factory=dict)
    tls_inbound: Mapping[str, str] = field(default_factory=dict)
    rejected: tuple[Rejection, ...] = ()

    def table(self, name: MapName) -> Mapping[str, str]:
        return self.tls_policy if name is MapName.TLS_POLICY else self.tls_inbound


def check_domain(value: object) -> str:
    """The domain if it is already normalised; :class:`InvalidName` otherwise."""
    if not isinstance(value, str):
        raise InvalidName(f"not a string ({type(value).__name__})")
    problem = _domain_problem(value)
    if problem is not None:
        raise InvalidName(problem)
    return value


@functools.lru_cache(maxsize=200_000)
def _domain_problem(value: str) -> str | None:
    """Why ``value`` is not a normalised domain, or ``None``; cached (IDNA checks are slow
    and the socketmap re-validates every row on every reload)."""
    try:
        normal = normalise_domain(value)
    except InvalidName as exc:
        return str(exc)
    if normal != value:
        return "not in normal form (lower case A-labels, no trailing dot)"
    return None


def check_mx_host(value: object) -> str:
    """The MX name if it is a lower-case LDH host name; :class:`InvalidName` otherwise."""
    if not isinstance(value, str):
        raise InvalidName(f"not a string ({type(value).__name__})")
    if len(value) > _MAX_HOST or not _LDH_HOST.match(value):
        raise InvalidName("not a lower-case LDH host name of two labels or more")
    return value


def build_tables(policies: Iterable[PublishedPolicy]) -> Tables:
    """Map the policies to both tables, keeping only values that validate."""
    outbound: dict[str, str] = {}
    inbound: dict[str, str] = {}
    rejected: list[Rejection] = []
    seen: dict[str, Level] = {}
    for policy in policies:
        entry = _entry(policy)
        rejected.extend(entry.rejected)
        domain, level = entry.domain, entry.level
        if domain is None or level is None:
            continue
        if domain in seen:
            rejected.append(
                Rejection(domain, "duplicate", str(level), "domain listed twice; stricter kept")
            )
            if seen[domain] is Level.STRICT or level is Level.RELAXED:
                continue
        seen[domain] = level
        if entry.outbound is not None:
            outbound[domain] = entry.outbound
        else:
            outbound.pop(domain, None)
        if entry.inbound is not None:
            inbound[domain] = entry.inbound
        else:
            inbound.pop(domain, None)
    return Tables(
        tls_policy=dict(sorted(outbound.items())),
        tls_inbound=dict(sorted(inbound.items())),
        rejected=tuple(rejected),
    )


@dataclass(frozen=True)
class _Entry:
    """One policy's table values; ``domain`` is ``None`` when the policy is dropped."""

    domain: str | None
    level: Level | None
    outbound: str | None
    inbound: str | None
    rejected: tuple[Rejection, ...]


def _entry(policy: PublishedPolicy) -> _Entry:
    """Cached: the socketmap rebuilds both tables from every policy on each change."""
    try:
        return _cached_entry(policy)
    except TypeError:  # an unhashable value planted in the store: compute it uncached
        return _compute_entry(policy)


def _compute_entry(policy: PublishedPolicy) -> _Entry:
    shown = policy.domain if isinstance(policy.domain, str) else repr(policy.domain)
    try:
        domain = check_domain(policy.domain)
    except InvalidName as exc:
        return _Entry(None, None, None, None, (Rejection(shown, "domain", shown, str(exc)),))
    try:
        level = Level(policy.level)
    except ValueError:
        bad = Rejection(domain, "level", str(policy.level), "unknown level")
        return _Entry(None, None, None, None, (bad,))
    rejected: list[Rejection] = []
    outbound = None
    if policy.delivery:
        hosts, rejected = _valid_hosts(domain, policy.mx_hosts)
        if level is Level.STRICT and not hosts and policy.mx_hosts:
            rejected.append(
                Rejection(
                    domain,
                    "mx_hosts",
                    "",
                    "no valid MX name left; published as secure without match "
                    "(Postfix's default: the next-hop domain), which fails closed",
                )
            )
        outbound = outbound_value(level, hosts)
    inbound = INBOUND_ACTION if policy.receipt else None
    return _Entry(domain, level, outbound, inbound, tuple(rejected))


_cached_entry = functools.lru_cache(maxsize=200_000)(_compute_entry)


def outbound_value(level: Level, mx_hosts: tuple[str, ...] = ()) -> str:
    """The ``smtp_tls_policy_maps`` value for a level and its validated MX names."""
    if level is Level.RELAXED:
        return f"encrypt {PROTOCOLS} {CIPHERS}"
    match = f" match={':'.join(mx_hosts)}" if mx_hosts else ""
    return f"secure{match} {PROTOCOLS} {CIPHERS}"


def render(entries: Mapping[str, str], header: Iterable[str] = ()) -> str:
    """A Postfix table source file: ``#`` header lines, then ``key<TAB>value`` sorted."""
    lines = [f"# {' '.join(line.split())}" for line in header]
    lines += [f"{key}\t{entries[key]}" for key in sorted(entries)]
    return "".join(f"{line}\n" for line in lines)


def _valid_hosts(domain: str, values: Iterable[object]) -> tuple[tuple[str, ...], list[Rejection]]:
    hosts: list[str] = []
    bad: list[Rejection] = []
    for value in values:
        try:
            host = check_mx_host(value)
        except InvalidName as exc:
            bad.append(Rejection(domain, "mx_hosts", str(value), str(exc)))
            continue
        if host not in hosts:
            hosts.append(host)
    return tuple(sorted(hosts)), bad


def _show(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")
