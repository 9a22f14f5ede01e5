"""The probe, composed: DNS → address guard → host probes in parallel → one verdict per target.

``Prober(settings, clock=...)`` loads the trust store and builds its TLS contexts, resolver and
limits once; its methods answer one target each (``probe_domain``, ``probe_email``,
``probe_route``) or a batch (``probe_many``), always as
:class:`~bot.probe.model.TargetResult` values:

- MX hosts by preference (implicit MX when there is none; Null MX and DNS errors are
  target-level reasons); each host name is resolved once per batch, both families;
- every address is vetted by the guard (``allow_networks`` for domains and email
  addresses, ``route_allow_networks`` for inbound routes) and the probe connects to
  that IP literal, the name going only into SNI;
- host probes run in parallel under the global and per-address limits; the target's
  verdict is the worst over its hosts; extra facts are gathered concurrently.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from bot.clock import Clock
from bot.probe.certs import TrustStore
from bot.probe.dns import AddressResult, MxResult, Resolver
from bot.probe.extras import gather_extras
from bot.probe.guard import DEFAULT_ALLOW_VARIABLE, ROUTE_ALLOW_VARIABLE, Network, vet_address
from bot.probe.host import probe_host
from bot.probe.limits import Limits
from bot.probe.model import (
    Code,
    DomainExtras,
    HostResult,
    Reason,
    TargetKind,
    TargetResult,
    Verdict,
)
from bot.probe.names import InvalidName, normalise_domain, parse_email, parse_route
from bot.probe.settings import ProbeSettings
from bot.probe.tls import TlsContexts


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
    ) -> None:
        self.settings = settings
        self.clock = clock  # "now" for certificate validity; from the edge
        self.extras = extras  # False: skip MTA-STS/TLSA/TLS-RPT (re-validation, benchmarks)
        self.trust = trust if trust is not None else TrustStore.load(settings.ca_file)
        self.contexts = TlsContexts.create()
        self.resolver = Resolver(settings)
        self.limits = Limits(settings.concurrency, settings.per_address)

    async def probe_domain(self, domain: str, *, email: str | None = None) -> TargetResult:
        return await _Batch(self).domain(domain, email=email)

    async def probe_email(self, address: str) -> TargetResult:
        return await _Batch(self).email(address)

    async def probe_route(
        self, host: str, port: int | None = None, *, email: str | None = None
    ) -> TargetResult:
        """An inbound route; with ``email``, also whether it accepts that recipient."""
        return await _Batch(self).route(host, port, email=email)

    async def probe_many(
        self, targets: Sequence[Target | str], on_progress: Progress | None = None
    ) -> list[TargetResult]:
        """Every target at once (under the limits); results in the order of ``targets``.

        A plain string is a domain, or an email address when it has an ``@``.
        ``on_progress(done, total, result)`` is called as each target finishes.
        """
        batch = _Batch(self)
        done = 0

        async def one(item: Target | str) -> TargetResult:
            target = Target.guess(item) if isinstance(item, str) else item
            nonlocal done
            result = await batch.target(target)
            done += 1
            if on_progress is not None:
                on_progress(done, len(targets), result)
            return result

        return list(await asyncio.gather(*(one(t) for t in targets)))


class _Batch:
    """One run: shares address lookups so that each name is resolved once."""

    def __init__(self, prober: Prober) -> None:
        self.prober = prober
        self.settings = prober.settings
        self._lookups: dict[str, asyncio.Task[AddressResult]] = {}

    async def target(self, target: Target) -> TargetResult:
        if target.kind is TargetKind.ROUTE:
            return await self.route(target.text, target.port)
        if target.kind is TargetKind.EMAIL:
            return await self.email(target.text)
        return await self.domain(target.text)

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
        mx: MxResult = await self.prober.resolver.mx(domain)
        if mx.error is not None:
            return TargetResult(
                target=shown,
                kind=kind,
                domain=domain,
                verdict=Verdict.UNREACHABLE,
                reasons=(mx.error,),
                elapsed_ms=_ms(started),
            )
        port = self.settings.smtp_port
        # Addresses first: they are on the critical path, the extras' lookups are not, and
        # they share the resolver's cap on queries in flight.
        await asyncio.gather(*(self._addresses(name) for name in mx.names))
        extras, groups = await asyncio.gather(
            self._extras(domain, mx.names, port),
            asyncio.gather(
                *(
                    self._host(
                        name, port, self.settings.allow_networks, DEFAULT_ALLOW_VARIABLE, email
                    )
                    for name in mx.names
                )
            ),
        )
        hosts = tuple(h for group in groups for h in group)
        return TargetResult(
            target=shown,
            kind=kind,
            domain=domain,
            verdict=Verdict.worst([h.verdict for h in hosts]),
            hosts=hosts,
            mx=mx.names,
            implicit_mx=mx.implicit,
            extras=extras,
            elapsed_ms=_ms(started),
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
        hosts = await self._host(
            host, port, self.settings.route_allow_networks, ROUTE_ALLOW_VARIABLE, email
        )
        return TargetResult(
            target=text,
            kind=TargetKind.ROUTE,
            domain=host,
            verdict=Verdict.worst([h.verdict for h in hosts]),
            hosts=hosts,
            mx=(host,),
            elapsed_ms=_ms(started),
        )

    async def _host(
        self,
        name: str,
        port: int,
        allowed: Sequence[Network],
        allow_variable: str,
        email: str | None,
    ) -> tuple[HostResult, ...]:
        """Every address of one host name, vetted and probed in parallel."""
        found = await self._addresses(name)
        if found.error is not None or not found.addresses:
            reason = found.error or Reason(Code.NO_ADDRESS, f"{name} has no address")
            return (HostResult(name, None, port, Verdict.UNREACHABLE, (reason,)),)
        probes: list[Awaitable[HostResult]] = []
        for address in found.addresses:
            refusal = vet_address(address, allowed, allow_variable=allow_variable)
            if refusal is not None:
                refused = HostResult(name, address, port, Verdict.UNREACHABLE, (refusal,))
                probes.append(_value(refused))
            else:
                probes.append(
                    probe_host(
                        name,
                        address,
                        port,
                        settings=self.settings,
                        trust=self.prober.trust,
                        clock=self.prober.clock,
                        email=email,
                        contexts=self.prober.contexts,
                        limits=self.prober.limits,
                    )
                )
        return tuple(await asyncio.gather(*probes))

    async def _extras(self, domain: str, mx: Sequence[str], port: int) -> DomainExtras:
        if not self.prober.extras:
            return DomainExtras()
        return await gather_extras(
            domain, mx, resolver=self.prober.resolver, settings=self.settings, port=port
        )

    async def _addresses(self, name: str) -> AddressResult:
        task = self._lookups.get(name)
        if task is None:
            task = asyncio.ensure_future(self.prober.resolver.addresses(name))
            self._lookups[name] = task
        return await task


async def _value(result: HostResult) -> HostResult:
    return result


def _refused(text: str, kind: TargetKind, reason: Reason) -> TargetResult:
    return TargetResult(
        target=text, kind=kind, domain="", verdict=Verdict.UNREACHABLE, reasons=(reason,)
    )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def targets_from(texts: Iterable[str]) -> list[Target]:
    return [Target.guess(t) for t in texts]
