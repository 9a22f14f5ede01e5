"""Extra facts about a mail domain; they are reported and never change a verdict.

- MTA-STS (RFC 8461): the ``_mta-sts.<domain>`` TXT record, then the policy
  fetched over HTTPS (see :mod:`bot.probe.mta_sts`): its id, mode, mx patterns and
  max_age. A policy in ``enforce`` or ``testing`` mode that does not cover one of the
  domain's MX hosts is reported as ``validation-failure``. With a
  :class:`~bot.probe.sts_cache.StsCache`, a policy cached under the TXT record's
  current ``id`` and not past its ``max_age`` is used instead of fetching again.
- DANE (RFC 7672): the TLSA records at ``_<port>._tcp.<mx>`` of every MX host,
  as text (each host's DANE result, when DNSSEC is checked, is on its probe:
  :mod:`bot.probe.dane`).
- TLS-RPT (RFC 8460): the ``_smtp._tls.<domain>`` TXT record (``v=TLSRPTv1``).

All lookups run concurrently through the shared :class:`~bot.probe.dns.Resolver`
(which caps queries in flight); the policy fetch starts once the TXT record
says there is a policy. Each of the three is guarded on its own: one that fails
unexpectedly (whatever a server sent) is a ``probe-error`` in ``errors`` and the
other two are still reported.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

from bot.clock import Clock
from bot.probe.dns import RecordsResult, Resolver
from bot.probe.model import Code, DomainExtras, Reason
from bot.probe.mta_sts import StsPolicy, StsTxt, fetch_policy, parse_sts_txt
from bot.probe.settings import ProbeSettings
from bot.probe.sts_cache import CachedPolicy, StsCache

log = logging.getLogger("tlsbot.probe")
T = TypeVar("T")
TlsaLookup = Callable[[str], Awaitable[RecordsResult]]


async def gather_extras(
    domain: str,
    mx_hosts: Sequence[str],
    *,
    resolver: Resolver,
    settings: ProbeSettings,
    port: int,
    tlsa_lookup: TlsaLookup | None = None,
    sts_cache: StsCache | None = None,
    clock: Clock | None = None,
) -> DomainExtras:
    """MTA-STS, TLSA and TLS-RPT facts of ``domain`` (already normalised).

    ``tlsa_lookup`` answers ``_<port>._tcp.<mx>`` (default ``resolver.tlsa``); a batch
    passes one that asks each name once, as many domains share their MX hosts.
    ``sts_cache`` (with the ``clock`` that says when a cached policy expires) saves
    fetching a policy that has not changed.
    """
    hosts = tuple(dict.fromkeys(h.lower().rstrip(".") for h in mx_hosts))
    errors: list[Reason] = []
    nothing: tuple[StsTxt, StsPolicy | None, Reason | None] = (StsTxt(), None, None)
    sts, tlsa, tls_rpt = await asyncio.gather(
        _guard(
            "MTA-STS",
            nothing,
            errors,
            _mta_sts(
                domain,
                hosts,
                resolver=resolver,
                settings=settings,
                cache=sts_cache if clock is not None else None,
                now=clock() if clock is not None else None,
            ),
        ),
        _guard("DANE TLSA", (), errors, _tlsa(hosts, port, tlsa_lookup or resolver.tlsa)),
        _guard("TLS-RPT", None, errors, _tls_rpt(domain, resolver)),
    )
    txt, policy, error = sts
    return DomainExtras(
        mta_sts_txt=txt.record,
        mta_sts_mode=policy.mode if policy else None,
        mta_sts_mx=policy.mx if policy else (),
        mta_sts_error=error,
        mta_sts_id=txt.id,
        mta_sts_max_age=policy.max_age if policy else None,
        mta_sts_warnings=txt.warnings + (policy.warnings if policy else ()),
        tlsa=tlsa,
        tls_rpt=tls_rpt,
        errors=tuple(errors),
    )


async def _guard(what: str, empty: T, errors: list[Reason], work: Awaitable[T]) -> T:
    """One lookup; an unexpected exception becomes a reason and ``empty`` its answer."""
    try:
        return await work
    except Exception as exc:
        log.exception("%s lookup failed", what)
        errors.append(
            Reason(Code.PROBE_ERROR, f"the {what} check failed: {type(exc).__name__}: {exc}")
        )
        return empty


async def _mta_sts(
    domain: str,
    hosts: tuple[str, ...],
    *,
    resolver: Resolver,
    settings: ProbeSettings,
    cache: StsCache | None = None,
    now: datetime | None = None,
) -> tuple[StsTxt, StsPolicy | None, Reason | None]:
    name = f"_mta-sts.{domain}"
    found = await resolver.txt(name)
    if found.error is not None:
        return StsTxt(), None, Reason(found.error.code, f"MTA-STS record: {found.error.message}")
    txt = parse_sts_txt(found.records)
    if txt.record is None or txt.error is not None:
        return txt, None, txt.error
    cached = await _cached(cache, domain) if cache is not None and now is not None else None
    if cached is not None and now is not None and cached.usable(txt.id, now):
        policy: StsPolicy | Reason = cached.policy
    else:
        policy = await fetch_policy(domain, resolver=resolver, settings=settings)
        if isinstance(policy, StsPolicy) and cache is not None and now is not None and txt.id:
            await _store(cache, domain, CachedPolicy(txt.id, policy, now))
    if isinstance(policy, Reason):
        if cached is not None and now is not None and now < cached.expires_at:
            policy = Reason(
                policy.code,
                f"{policy.message}; senders that cached its policy (id {cached.policy_id}, "
                f"mode {cached.policy.mode}) keep applying it until "
                f"{cached.expires_at:%Y-%m-%d %H:%M} UTC",
            )
        return txt, None, policy
    uncovered = [h for h in hosts if not policy.matches(h)]
    if policy.mode != "none" and uncovered:
        return txt, policy, Reason(Code.VALIDATION_FAILURE, _uncovered(domain, uncovered, policy))
    return txt, policy, None


async def _cached(cache: StsCache, domain: str) -> CachedPolicy | None:
    """The cache's entry; a cache that fails is no cache (the policy is fetched)."""
    try:
        return await cache.get(domain)
    except Exception:  # an injected store: whatever it raises costs only the cache
        log.exception("MTA-STS cache lookup of %s failed", domain)
        return None


async def _store(cache: StsCache, domain: str, entry: CachedPolicy) -> None:
    try:
        await cache.put(domain, entry)
    except Exception:  # an injected store: whatever it raises costs only the cache
        log.exception("MTA-STS cache update of %s failed", domain)


def _uncovered(domain: str, uncovered: list[str], policy: StsPolicy) -> str:
    """The sentence for MX hosts outside the policy's ``mx:`` lines, by what senders then do."""
    them = "it" if len(uncovered) == 1 else "them"
    head = (
        f"MX {', '.join(uncovered)} not covered by the MTA-STS policy of {domain} "
        f"(mode {policy.mode}, mx: {', '.join(policy.mx)})"
    )
    if policy.mode == "enforce":
        effect = f"senders that honour MTA-STS will not deliver to {them}"
    else:
        effect = f"senders that honour MTA-STS report a failure for {them} (and still deliver)"
    return (
        f"{head}: {effect}; ask {domain} to add {them} to the policy's mx: lines "
        f"or to remove {them} from its MX records"
    )


async def _tlsa(hosts: tuple[str, ...], port: int, lookup: TlsaLookup) -> tuple[str, ...]:
    names = [f"_{port}._tcp.{host}" for host in hosts]
    results = await asyncio.gather(*(lookup(name) for name in names))
    return tuple(f"{r.name}. {record}" for r in results for record in sorted(r.records))


async def _tls_rpt(domain: str, resolver: Resolver) -> str | None:
    found = await resolver.txt(f"_smtp._tls.{domain}")
    records = sorted(r for r in found.records if re.match(r"^v=TLSRPTv1\s*(;|$)", r))
    return records[0] if records else None
