"""What every gateway enforces: the published policies, validated, one per domain.

Pure functions that know nothing of any gateway. Nothing read from the store is
trusted: each domain must already be in the normal form of
:func:`bot.probe.names.normalise_domain` and each MX name must be a strictly LDH
host name of two labels or more. Anything else is dropped and reported as a
:class:`Rejection`, never handed to a gateway's renderer. A surviving name
contains only ``[a-z0-9.-]``, so it cannot end a quoted string, start a new
line, or add an option in any gateway's syntax.

:func:`enforcement` gives an :class:`Enforcement`: one :class:`Enforced` per
domain (a domain listed twice keeps the stricter level), sorted by domain, and
every rejection on the way. Each gateway's renderer maps it to its own syntax
(:mod:`bot.export.tables` for Postfix, :mod:`bot.export.exchange`,
:mod:`bot.export.google`, :mod:`bot.export.mimecast_sync`).
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.export.model import Level, PublishedPolicy
from bot.probe.names import InvalidName, is_host_name, normalise_domain


@dataclass(frozen=True)
class Rejection:
    """A value from the store that was not published, and why."""

    domain: str
    field: str  # "domain", "mx_hosts", "sts_mx", "level", "duplicate"
    value: str
    reason: str

    def __str__(self) -> str:
        shown = f"{_show(self.domain)}: {self.field} {_show(self.value)}"
        return f"{shown}: {self.reason}"


@dataclass(frozen=True)
class Enforced:
    """One domain's policy, every value validated."""

    domain: str
    level: Level
    mx_hosts: tuple[str, ...] = ()  # sorted, no repeats
    delivery: bool = True  # Secure Delivery (outbound)
    receipt: bool = True  # Secure Receipt (inbound)
    dane: bool = False  # strict, and every MX host DANE-verified: dane-only
    sts_mx: tuple[str, ...] = ()  # the partner's MTA-STS enforce patterns, validated, sorted


@dataclass(frozen=True)
class Enforcement:
    """Every domain's validated policy (sorted by domain) and what was dropped."""

    policies: tuple[Enforced, ...] = ()
    rejected: tuple[Rejection, ...] = ()

    def outbound(self, level: Level) -> tuple[str, ...]:
        """The domains whose outbound mail needs TLS at ``level``, sorted."""
        return tuple(p.domain for p in self.policies if p.delivery and p.level is level)

    def inbound(self) -> tuple[str, ...]:
        """The domains whose inbound mail must arrive over TLS, sorted."""
        return tuple(p.domain for p in self.policies if p.receipt)

    @property
    def needs_dnssec(self) -> bool:
        """Some outbound entry is ``dane-only``: the gateway must look up DNS with DNSSEC."""
        return any(p.delivery and p.dane for p in self.policies)

    def lists(self) -> dict[ListName, tuple[str, ...]]:
        """The three domain lists every gateway keeps: strict and relaxed outbound, inbound."""
        return {
            ListName.STRICT: self.outbound(Level.STRICT),
            ListName.RELAXED: self.outbound(Level.RELAXED),
            ListName.INBOUND: self.inbound(),
        }


class ListName(enum.StrEnum):
    """The three lists: strict and relaxed Secure Delivery (outbound), Secure Receipt (inbound)."""

    STRICT = "strict"
    RELAXED = "relaxed"
    INBOUND = "inbound"


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
    if not is_host_name(value):
        raise InvalidName("not a lower-case LDH host name of two labels or more")
    return value


def check_sts_pattern(value: object) -> str:
    """An MTA-STS mx pattern (``mx.example.com`` or ``*.example.com``) of two labels or
    more, lower-case LDH; :class:`InvalidName` otherwise."""
    if not isinstance(value, str):
        raise InvalidName(f"not a string ({type(value).__name__})")
    if not is_host_name(value.removeprefix("*.")):
        raise InvalidName("not an MTA-STS mx pattern of two labels or more ('*.' only in front)")
    return value


def enforcement(policies: Iterable[PublishedPolicy]) -> Enforcement:
    """Validate every policy; one per domain (the stricter kept), sorted by domain."""
    kept: dict[str, Enforced] = {}
    rejected: list[Rejection] = []
    for policy in policies:
        enforced, problems = validate_policy(policy)
        rejected.extend(problems)
        if enforced is None:
            continue
        earlier = kept.get(enforced.domain)
        if earlier is not None:
            rejected.append(
                Rejection(
                    enforced.domain,
                    "duplicate",
                    str(enforced.level),
                    "domain listed twice; stricter kept",
                )
            )
            if earlier.level is Level.STRICT or enforced.level is Level.RELAXED:
                continue
        kept[enforced.domain] = enforced
    return Enforcement(tuple(kept[d] for d in sorted(kept)), tuple(rejected))


def validate_policy(policy: PublishedPolicy) -> tuple[Enforced | None, tuple[Rejection, ...]]:
    """One policy validated (``None`` when it is dropped) and its rejections; cached."""
    try:
        return _cached(policy)
    except TypeError:  # an unhashable value planted in the store: compute it uncached
        return _validate(policy)


def _validate(policy: PublishedPolicy) -> tuple[Enforced | None, tuple[Rejection, ...]]:
    shown = policy.domain if isinstance(policy.domain, str) else repr(policy.domain)
    try:
        domain = check_domain(policy.domain)
    except InvalidName as exc:
        return None, (Rejection(shown, "domain", shown, str(exc)),)
    try:
        level = Level(policy.level)
    except ValueError:
        return None, (Rejection(domain, "level", str(policy.level), "unknown level"),)
    hosts: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    rejected: list[Rejection] = []
    if policy.delivery:  # MX names matter only to outbound delivery
        hosts, rejected = _valid_hosts(domain, policy.mx_hosts)
        patterns, bad = _valid_names(domain, "sts_mx", policy.sts_mx, check_sts_pattern)
        rejected += bad
    if policy.delivery and level is Level.STRICT and not hosts and policy.mx_hosts:
        rejected.append(
            Rejection(
                domain,
                "mx_hosts",
                "",
                "no valid MX name left; published as strict without MX names (Postfix "
                "then matches the next-hop domain, which fails closed)",
            )
        )
    dane = policy.dane is True and level is Level.STRICT  # DANE-verified hosts are strict
    enforced = Enforced(
        domain, level, hosts, bool(policy.delivery), bool(policy.receipt), dane, patterns
    )
    return enforced, tuple(rejected)


_cached = functools.lru_cache(maxsize=200_000)(_validate)


def _valid_hosts(domain: str, values: Iterable[object]) -> tuple[tuple[str, ...], list[Rejection]]:
    return _valid_names(domain, "mx_hosts", values, check_mx_host)


def _valid_names(
    domain: str, field: str, values: Iterable[object], check: Callable[[object], str]
) -> tuple[tuple[str, ...], list[Rejection]]:
    names: list[str] = []
    bad: list[Rejection] = []
    for value in values:
        try:
            name = check(value)
        except InvalidName as exc:
            bad.append(Rejection(domain, field, str(value), str(exc)))
            continue
        if name not in names:
            names.append(name)
    return tuple(sorted(names)), bad


def _show(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")
