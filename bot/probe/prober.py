"""The probe, composed: DNS → address guard → host probes → one verdict per target.

``Prober(settings, clock=...)`` loads the trust store and builds its TLS contexts, resolver and
limits once; its methods answer one target each (``probe_domain``, ``probe_email``,
``probe_route``) or a batch (``probe_many``), always as
:class:`~bot.probe.model.TargetResult` values. ``Prober.batch()`` hands out one
:class:`ProbeBatch` with the same methods, for a caller that probes many targets in
several calls (a monitoring round) and wants them to share:

- MX hosts by preference (implicit MX when there is none; Null MX, IP-literal MX targets
  and DNS errors are target-level reasons); each host name is resolved once per batch,
  both families (and each MX host's TLSA records once);
- every address is vetted by the guard (``allow_networks`` for domains and email
  addresses, ``route_allow_networks`` for inbound routes), then by its family
  (:mod:`bot.probe.families`), and the probe connects to that IP literal, the name going
  only into SNI;
- **one probe per (host, address, port) per batch**, shared by every target that uses
  the host; an email target asks its own ``RCPT TO`` on that probe's one TLS session;
- host probes run in parallel under the global and per-address limits; a host's verdict
  comes from its addresses that were fully tested, the target's is the worst over its
  hosts (:func:`~bot.probe.evaluate.judge_hosts`); once one address of a host is tested,
  an address of it still connecting gets ``sibling_grace`` seconds more, not the deadline;
- extra facts are gathered concurrently.

Nothing raises out of a batch: a host probe, a certificate judgment or an extras lookup
that fails unexpectedly becomes a ``probe-error`` reason on that host or target, and the
other targets go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from bot.clock import Clock
from bot.probe.certs import TrustStore
from bot.probe.dns import AddressResult, MxResult, RecordsResult, Resolver
from bot.probe.evaluate import judge_hosts, with_dane
from bot.probe.extras import gather_extras
from bot.probe.families import RouteCheck, family_refusal, system_route
from bot.probe.guard import DEFAULT_ALLOW_VARIABLE, ROUTE_ALLOW_VARIABLE, Network, vet_address
from bot.probe.host import HostProbe
from bot.probe.limits import Limits
from bot.probe.model import (
    Code,
    Dnssec,
    DomainExtras,
    Family,
    HostResult,
    Reason,
    TargetKind,
    TargetResult,
    Verdict,
)
from bot.probe.names import InvalidName, normalise_domain, parse_email, parse_route
from bot.probe.record import Recipients
from bot.probe.settings import DnssecMode, ProbeSettings
from bot.probe.sts_cache import StsCache
from bot.probe.tls import TlsContexts

log = logging.getLogger("tlsbot.probe")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Target:
    """One thing to probe: a domain, an email address or an inbound route ``HOST[:PORT]``."""

    kind: TargetKind
    text: str
    port: int | None = None  # routes only; None means the configured SMTP port

    @classmethod
    def guess(cls, text: str) -> Target:
        """A domain, or an email address when the text has an ``@``."""
        kind = TargetKind.EMAIL if "@" in text else TargetKind.DOMAIN
        return cls(kind, text.strip())


Progress = Callable[[int, int, TargetResult], None]


class Prober:
    def __init__(
        self,
        settings: ProbeSettings,
        *,
        clock: Clock,
        trust: TrustStore | None = None,
        extras: bool = True,
        routes: RouteCheck = system_route,
        sts_cache: StsCache | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock  # "now" for certificate validity; from the edge
        self.extras = extras  # False: skip MTA-STS/TLSA/TLS-RPT (re-validation, benchmarks)
        self.routes = routes  # has this machine a route to an address? (families=auto)
        self.sts_cache = sts_cache  # MTA-STS policies by id and max_age (shared by replicas)
        self.trust = trust if trust is not None else TrustStore.load(settings.ca_file)
        self.contexts = TlsContexts.create()
        self.resolver = Resolver(settings)
        self.limits = Limits(settings.concurrency, settings.per_address)

    def batch(self) -> ProbeBatch:
        """A batch whose targets share lookups and host probes across all its calls."""
        return ProbeBatch(self)

    async def probe_domain(self, domain: str, *, email: str | None = None) -> TargetResult:
        return await self.batch().probe_domain(domain, email=email)

    async def probe_email(self, address: str) -> TargetResult:
        return await self.batch().probe_email(address)

    async def probe_route(
        self, host: str, port: int | None = None, *, email: str | None = None
    ) -> TargetResult:
        """An inbound route; with ``email``, also whether it accepts that recipient."""
        return await self.batch().probe_route(host, port, email=email)

    async def probe_many(
        self, targets: Sequence[Target | str], on_progress: Progress | None = None
    ) -> list[TargetResult]:
        """Every target at once (under the limits); results in the order of ``targets``.

        A plain string is a domain, or an email address when it has an ``@``.
        ``on_progress(done, total, result)`` is called as each target finishes.
        """
        return await self.batch().probe_many(targets, on_progress)


@dataclass
class _Shared:
    """One probe of (host, address, port), shared by every target of the batch."""

    probe: HostProbe
    recipients: Recipients
    task: asyncio.Task[HostResult] | None = None


@dataclass
class _Group:
    """The shared probes of one (host, port): once one address is tested, the others
    still connecting need not wait for the deadline."""

    members: list[_Shared] = field(default_factory=list)
    settled_by: str | None = None  # where the first fully tested address was


class ProbeBatch:
    """One run: each name resolved once, each (host, address, port) probed once."""

    def __init__(self, prober: Prober) -> None:
        self.prober = prober
        self.settings = prober.settings
        self._lookups: dict[str, asyncio.Task[AddressResult]] = {}
        self._tlsa: dict[str, asyncio.Task[RecordsResult]] = {}
        self._probes: dict[tuple[str, str, int], _Shared] = {}
        self._groups: dict[tuple[str, int], _Group] = {}
        self._emails_resolving = 0  # email targets that may still name a shared host
        self._emails_idle = asyncio.Event()
        self._emails_idle.set()

    # -- the public calls ------------------------------------------------------

    async def probe_domain(self, domain: str, *, email: str | None = None) -> TargetResult:
        return await self._guarded(domain, TargetKind.DOMAIN, self.domain(domain, email=email))

    async def probe_email(self, address: str) -> TargetResult:
        return await self._guarded(address, TargetKind.EMAIL, self.email(address))

    async def probe_route(
        self, host: str, port: int | None = None, *, email: str | None = None
    ) -> TargetResult:
        return await self._guarded(host, TargetKind.ROUTE, self.route(host, port, email=email))

    async def probe_many(
        self, targets: Sequence[Target | str], on_progress: Progress | None = None
    ) -> list[TargetResult]:
        done = 0
        wanted = [Target.guess(t) if isinstance(t, str) else t for t in targets]

        async def one(target: Target) -> TargetResult:
            nonlocal done
            result = await self._guarded(target.text, target.kind, self.target(target))
            done += 1
            if on_progress is not None:
                on_progress(done, len(wanted), result)
            return result

        return list(await asyncio.gather(*(one(t) for t in wanted)))

    async def target(self, target: Target) -> TargetResult:
        if target.kind is TargetKind.ROUTE:
            return await self.route(target.text, target.port)
        if target.kind is TargetKind.EMAIL:
            return await self.email(target.text)
        return await self.domain(target.text)

    # -- targets ---------------------------------------------------------------

    async def email(self, text: str) -> TargetResult:
        try:
            address, domain = parse_email(text)
        except InvalidName as exc:
            return _refused(text, TargetKind.EMAIL, Reason(Code.INVALID_ADDRESS, str(exc)))
        return await self.domain(domain, email=address, target=text, kind=TargetKind.EMAIL)

    async def domain(
        self,
        text: str,
        *,
        email: str | None = None,
        target: str | None = None,
        kind: TargetKind = TargetKind.DOMAIN,
    ) -> TargetResult:
        started = time.monotonic()
        shown = target if target is not None else text
        try:
            domain = normalise_domain(text)
        except InvalidName as exc:
            return _refused(shown, kind, Reason(Code.INVALID_DOMAIN, str(exc)))
        port, allowed = self.settings.smtp_port, self.settings.allow_networks
        waits: list[Awaitable[tuple[HostResult, ...]]] = []
        async with self._resolving(email):
            mx: MxResult = await self.prober.resolver.mx(domain)
            if mx.error is not None:
                return TargetResult(
                    target=shown,
                    kind=kind,
                    domain=domain,
                    verdict=Verdict.UNREACHABLE,
                    reasons=(mx.error,),
                    elapsed_ms=_ms(started),
                    dnssec=mx.dnssec,
                )
            # Addresses first: they are on the critical path, the extras' lookups are not,
            # and they share the resolver's cap on queries in flight.
            await asyncio.gather(*(self._addresses(name) for name in mx.names))
            for name in mx.names:
                waits.append(await self._host(name, port, allowed, DEFAULT_ALLOW_VARIABLE, email))
        extras, groups = await asyncio.gather(
            self._extras(domain, mx.names, port), asyncio.gather(*waits)
        )
        seen = [with_dane(h, mx.dnssec, domain) for group in groups for h in group]
        verdict, hosts, warnings = judge_hosts(seen)
        literal_warnings = tuple(
            Reason(
                Code.MX_IP_LITERAL,
                f"the MX target {literal} is an IP address; mail servers ignore it",
            )
            for literal in mx.literals
        )
        return TargetResult(
            target=shown,
            kind=kind,
            domain=domain,
            verdict=verdict,
            hosts=hosts,
            mx=mx.names,
            implicit_mx=mx.implicit,
            extras=extras,
            elapsed_ms=_ms(started),
            warnings=literal_warnings + warnings,
            dnssec=mx.dnssec,
        )

    async def route(self, text: str, port: int | None, *, email: str | None = None) -> TargetResult:
        started = time.monotonic()
        try:
            host, parsed_port = parse_route(text, self.settings.smtp_port)
        except InvalidName as exc:
            return _refused(text, TargetKind.ROUTE, Reason(Code.INVALID_DOMAIN, str(exc)))
        port = port if port is not None else parsed_port
        if email is not None:
            try:
                email, _ = parse_email(email)
            except InvalidName as exc:
                return _refused(text, TargetKind.ROUTE, Reason(Code.INVALID_ADDRESS, str(exc)))
        async with self._resolving(email):
            wait = await self._host(
                host, port, self.settings.route_allow_networks, ROUTE_ALLOW_VARIABLE, email
            )
        # a route is its own mail host: DANE applies when its addresses are signed
        verdict, hosts, warnings = judge_hosts([with_dane(h, h.dnssec, host) for h in await wait])
        return TargetResult(
            target=text,
            kind=TargetKind.ROUTE,
            domain=host,
            verdict=verdict,
            hosts=hosts,
            mx=(host,),
            elapsed_ms=_ms(started),
            warnings=warnings,
        )

    # -- hosts -----------------------------------------------------------------

    async def _host(
        self,
        name: str,
        port: int,
        allowed: Sequence[Network],
        allow_variable: str,
        email: str | None,
    ) -> Awaitable[tuple[HostResult, ...]]:
        """Every address of one host name, vetted, its shared probe started and ``email``
        registered on it; the awaitable gives the results as this target sees them."""
        found = await self._addresses(name)
        if found.error is not None or not found.addresses:
            reason = found.error or Reason(Code.NO_ADDRESS, f"{name} has no address")
            failed = HostResult(name, None, port, Verdict.UNREACHABLE, (reason,))
            return _value((replace(failed, dnssec=found.dnssec),))
        waits: list[Awaitable[HostResult]] = []
        for address in found.addresses:
            refusal = vet_address(address, allowed, allow_variable=allow_variable)
            if refusal is None:
                refusal = family_refusal(
                    address, self.settings.address_families, self.prober.routes
                )
            if refusal is not None:
                family = Family.of(address)
                refused = HostResult(name, address, port, Verdict.UNREACHABLE, (refusal,))
                waits.append(_value(replace(refused, family=family)))
                continue
            shared = self._shared(name, address, port, found.dnssec)
            late = email is not None and not shared.recipients.add(email)
            waits.append(self._view(shared, email, late=late))
        return _all(waits)

    def _shared(self, name: str, address: str, port: int, dnssec: Dnssec | None) -> _Shared:
        key = (name, address, port)
        shared = self._probes.get(key)
        if shared is not None:
            return shared
        prober = self.prober
        recipients = Recipients(ready=self._emails_settled)
        tlsa: Callable[[], Awaitable[RecordsResult]] | None = None
        if self.settings.dnssec is DnssecMode.RESOLVER:
            owner = f"_{port}._tcp.{name}"
            self._tlsa_task(owner)  # asked now, in parallel with the SMTP dialogue

            def tlsa() -> Awaitable[RecordsResult]:
                return self._tlsa_records(owner)

        probe = HostProbe(
            name,
            address,
            port,
            settings=self.settings,
            trust=prober.trust,
            clock=prober.clock,
            contexts=prober.contexts,
            recipients=recipients,
            tlsa=tlsa,
            address_dnssec=dnssec,
        )
        shared = self._probes[key] = _Shared(probe, recipients)
        group = self._groups.setdefault((name, port), _Group())
        group.members.append(shared)
        if group.settled_by is not None:
            probe.sibling_settled(self.settings.sibling_grace, group.settled_by)
        shared.task = asyncio.ensure_future(probe.run(prober.limits))
        shared.task.add_done_callback(lambda task: self._settled(group, task))
        return shared

    def _settled(self, group: _Group, task: asyncio.Task[HostResult]) -> None:
        if task.cancelled() or task.exception() is not None or not task.result().tested:
            return
        result = task.result()
        where = f"[{result.address}]" if ":" in (result.address or "") else str(result.address)
        if group.settled_by is None:
            group.settled_by = where
        for member in group.members:
            member.probe.sibling_settled(self.settings.sibling_grace, where)

    async def _emails_settled(self) -> None:
        """Wait (a bounded while) until no email target is still finding its hosts: an email
        target's lookups are an MX query, then A and AAAA, each within ``dns_timeout``."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2 * self.settings.dns_timeout + 1):
                await self._emails_idle.wait()

    async def _view(self, shared: _Shared, email: str | None, *, late: bool) -> HostResult:
        assert shared.task is not None
        result = await asyncio.shield(shared.task)  # one target's cancellation stops no other
        return result.for_recipient(email, late=late)

    # -- everything else -------------------------------------------------------

    def _resolving(self, email: str | None) -> _EmailsResolving:
        return _EmailsResolving(self, email is not None)

    async def _extras(self, domain: str, mx: Sequence[str], port: int) -> DomainExtras:
        if not self.prober.extras:
            return DomainExtras()
        try:
            return await gather_extras(
                domain,
                mx,
                resolver=self.prober.resolver,
                settings=self.settings,
                port=port,
                tlsa_lookup=self._tlsa_records,
                sts_cache=self.prober.sts_cache,
                clock=self.prober.clock,
            )
        except Exception as exc:  # an extra fact never costs the verdict
            log.exception("extra facts of %s failed", domain)
            return DomainExtras(errors=(_probe_error(f"the extra facts of {domain}", exc),))

    async def _tlsa_records(self, name: str) -> RecordsResult:
        """TLSA of an MX host, asked once per batch however many domains share the host
        (their extra facts, and DANE on every probe of the host)."""
        return await asyncio.shield(self._tlsa_task(name))

    def _tlsa_task(self, name: str) -> asyncio.Task[RecordsResult]:
        task = self._tlsa.get(name)
        if task is None:
            task = asyncio.ensure_future(self.prober.resolver.tlsa(name))
            self._tlsa[name] = task
        return task

    async def _addresses(self, name: str) -> AddressResult:
        task = self._lookups.get(name)
        if task is None:
            task = asyncio.ensure_future(self.prober.resolver.addresses(name))
            self._lookups[name] = task
        return await asyncio.shield(task)

    async def _guarded(
        self, text: str, kind: TargetKind, work: Awaitable[TargetResult]
    ) -> TargetResult:
        """The last net: a target whose probe raised is a reason, and the batch goes on."""
        try:
            return await work
        except Exception as exc:
            log.exception("probe of %s failed", text)
            return _refused(text, kind, _probe_error(f"the probe of {text}", exc))


class _EmailsResolving:
    """While an email target resolves its hosts, shared sessions wait before their RCPTs,
    so that its recipient is asked on them rather than found too late."""

    def __init__(self, batch: ProbeBatch, active: bool) -> None:
        self.batch, self.active = batch, active

    async def __aenter__(self) -> None:
        if self.active:
            self.batch._emails_resolving += 1
            self.batch._emails_idle.clear()

    async def __aexit__(self, *exc: object) -> None:
        if self.active:
            self.batch._emails_resolving -= 1
            if self.batch._emails_resolving == 0:
                self.batch._emails_idle.set()


async def _all(waits: list[Awaitable[HostResult]]) -> tuple[HostResult, ...]:
    return tuple(await asyncio.gather(*waits))


async def _value(result: T) -> T:
    return result


def _probe_error(what: str, exc: Exception) -> Reason:
    return Reason(Code.PROBE_ERROR, f"{what} failed unexpectedly: {type(exc).__name__}: {exc}")


def _refused(text: str, kind: TargetKind, reason: Reason) -> TargetResult:
    return TargetResult(
        target=text, kind=kind, domain="", verdict=Verdict.UNREACHABLE, reasons=(reason,)
    )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
