"""DNS lookups for the probe, answered as frozen values.

:class:`Resolver` wraps dnspython's asyncio resolver. It queries the servers of
``ProbeSettings.dns_servers`` (``(ip, port)`` pairs, IPv4 or IPv6) or, when that
is empty, the system resolver (``/etc/resolv.conf``); every lookup ends within
``ProbeSettings.dns_timeout`` seconds. Search domains are never applied: every
name is absolute.

Expected outcomes are values, never exceptions: each result carries either its
records or an ``error`` :class:`~bot.probe.model.Reason`. dnspython's exceptions
are translated at one seam, :meth:`Resolver._query`, most specific first:

- ``NXDOMAIN``                   -> ``dns-nxdomain``
- ``NoAnswer``                   -> an empty answer (never raised: ``raise_on_no_answer=False``)
- ``Timeout`` (``LifetimeTimeout``), our own deadline -> ``dns-timeout``
- ``NoNameservers`` with SERVFAIL -> ``dns-servfail`` (otherwise ``dns-error``)
- any other ``DNSException``, ``OSError`` -> ``dns-error``

Lookups:

- :meth:`Resolver.mx` -- MX hosts by preference, ties by name; no MX record
  means the domain itself (implicit MX, RFC 5321 §5.1); a lone ``MX 0 .`` is
  ``null-mx`` (RFC 7505). A null MX mixed with real ones is ignored and the real
  ones are used (the domain is misconfigured, but mail to it still flows).
  An MX target that is an IP address (``MX 10 192.0.2.1.``) is set apart in
  ``literals``: mail servers ignore it (Postfix logs "numeric domain name in resource
  data of MX record" and skips it); when no other target is left, that is the
  ``mx-ip-literal`` error.
- :meth:`Resolver.addresses` -- A and AAAA, queried together; CNAME chains are
  followed by the resolver; one family answering is enough; neither is
  ``no-address``. An IP literal is returned as it is, without a query.
- :meth:`Resolver.txt`, :meth:`Resolver.tlsa` -- records of optional facts.
  A missing name or type is simply no records (``error`` is ``None``); only a
  failure to get an answer is an error.

DNSSEC (``ProbeSettings.dnssec``): tlsbot does not validate signatures itself. With
``resolver`` every query asks for DNSSEC data (EDNS DO) and each answer carries the
status the validating resolver reported (:class:`~bot.probe.model.Dnssec`): the AD bit
is ``secure``, its absence ``insecure``. A SERVFAIL whose Extended DNS Error (RFC 8914)
is a DNSSEC one, or that the same resolver answers when asked again with CD (checking
disabled), is ``bogus``: the data fails validation, and the answer is the
``dnssec-invalid`` error, never the data. With ``off`` (the default) the status is
``None``: not checked.

Nothing is cached here: the caller resolves each name once per run and keeps
the answer (SPEC.md "Safety of the probe").

Parallelism: one :class:`Resolver` lets at most ``max_parallel`` (default 32)
queries be in flight at once, whatever number of probes share it; A and AAAA of
one name run together. Queries waiting for a place go in order, those furthest along
a probe's critical path first: A and AAAA (a host probe waits for them), then MX, then
the optional TXT and TLSA, so that in a batch the first host probe starts as soon as
one MX answer names its host, and one domain's extra facts never hold up another's. 32 queries at a
50 ms round trip is ~600 queries a second, far above what a batch of 50 domains
needs, and low enough that no public or company resolver rate-limits us.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import ipaddress
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import dns.asyncresolver
import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.rdata
import dns.rdatatype
import dns.resolver
from dns.rdtypes.ANY.MX import MX
from dns.rdtypes.ANY.TXT import TXT

from bot.probe.model import Code, Dnssec, Reason
from bot.probe.names import InvalidName, normalise_domain
from bot.probe.settings import DnssecMode, ProbeSettings

DEFAULT_MAX_PARALLEL = 32
EDNS_PAYLOAD = 1232  # the DNS Flag Day 2020 size; bigger answers come over TCP
# RFC 8914 Extended DNS Errors that mean "validation failed" (1-12: DNSSEC problems)
_DNSSEC_EDE = frozenset(range(1, 13))


@dataclass(frozen=True, slots=True)
class MxHost:
    preference: int
    name: str  # lower case A-labels, no trailing dot


@dataclass(frozen=True, slots=True)
class MxResult:
    """The mail hosts of a domain, by preference, or why there are none."""

    domain: str
    hosts: tuple[MxHost, ...] = ()
    implicit: bool = False  # no MX record: the domain is its own mail host
    error: Reason | None = None
    literals: tuple[str, ...] = ()  # MX targets that are IP addresses: ignored, as MTAs do
    dnssec: Dnssec | None = None  # of the MX answer (None: not checked)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.hosts)


@dataclass(frozen=True, slots=True)
class AddressResult:
    """The A and AAAA addresses of a name (IPv4 first, each family in numeric order)."""

    name: str
    addresses: tuple[str, ...] = ()
    canonical: str | None = None  # where a CNAME chain ended, when it differs from name
    error: Reason | None = None
    notes: tuple[Reason, ...] = ()  # one family failed while the other answered
    dnssec: Dnssec | None = None  # A and AAAA together: secure only if both are


@dataclass(frozen=True, slots=True)
class RecordsResult:
    """TXT strings (each record's strings joined) or TLSA records as text."""

    name: str
    records: tuple[str, ...] = ()
    error: Reason | None = None
    dnssec: Dnssec | None = None


@dataclass(frozen=True, slots=True)
class _Reply:
    answer: dns.resolver.Answer | None = None
    error: Reason | None = None
    dnssec: Dnssec | None = None


class Resolver:
    """Asynchronous DNS lookups with the servers and deadline of ``settings``."""

    def __init__(self, settings: ProbeSettings, *, max_parallel: int = DEFAULT_MAX_PARALLEL):
        self._limit = _Limiter(max_parallel)
        self._setup_error: Reason | None = None
        if settings.dns_servers:
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            self._resolver.nameservers = [
                dns.nameserver.Do53Nameserver(ip, port) for ip, port in settings.dns_servers
            ]
        else:
            try:
                self._resolver = dns.asyncresolver.Resolver(configure=True)
            except dns.exception.DNSException as exc:
                self._resolver = dns.asyncresolver.Resolver(configure=False)
                self._setup_error = Reason(
                    Code.DNS_ERROR, f"no system DNS resolver is configured ({exc})"
                )
        self._resolver.lifetime = settings.dns_timeout
        # Per try: leaves room for a retry (or the next server) within the lifetime.
        self._resolver.timeout = max(min(2.0, settings.dns_timeout / 2), 0.05)
        self._dnssec = settings.dnssec is DnssecMode.RESOLVER
        self._resolver.use_edns(0, dns.flags.DO if self._dnssec else 0, EDNS_PAYLOAD)
        self._resolver.cache = None
        # the same servers, checking disabled: tells a bogus answer from a broken server
        self._unchecked = dns.asyncresolver.Resolver(configure=False)
        self._unchecked.nameservers = self._resolver.nameservers
        self._unchecked.lifetime = self._resolver.lifetime
        self._unchecked.timeout = self._resolver.timeout
        self._unchecked.use_edns(0, dns.flags.DO, EDNS_PAYLOAD)
        self._unchecked.flags = dns.flags.RD | dns.flags.CD
        self._unchecked.cache = None

    async def mx(self, domain: str) -> MxResult:
        try:
            name = normalise_domain(domain)
        except InvalidName as exc:
            return MxResult(domain=domain, error=Reason(Code.INVALID_DOMAIN, str(exc)))
        reply = await self._query(name, dns.rdatatype.MX)
        if reply.error is not None:
            return MxResult(domain=name, error=reply.error, dnssec=reply.dnssec)
        secure = reply.dnssec
        records = [r for r in _rdatas(reply.answer) if isinstance(r, MX)]
        if not records:
            return MxResult(domain=name, hosts=(MxHost(0, name),), implicit=True, dnssec=secure)
        real = [r for r in records if r.exchange != dns.name.root]
        if not real:
            return MxResult(
                domain=name,
                error=Reason(
                    Code.NULL_MX,
                    f"{name} publishes a null MX (MX 0 .): it accepts no mail (RFC 7505)",
                ),
                dnssec=secure,
            )
        ranked = sorted((r.preference, _text(r.exchange)) for r in real)
        seen: dict[str, MxHost] = {}
        literals: dict[str, None] = {}
        for preference, host in ranked:
            if _ip_literal(host) is not None:
                literals[host] = None
            else:
                seen.setdefault(host, MxHost(preference, host))
        if not seen:
            shown = ", ".join(literals)
            return MxResult(
                domain=name,
                literals=tuple(literals),
                error=Reason(
                    Code.MX_IP_LITERAL,
                    f"the MX target of {name} is an IP address ({shown}); "
                    "mail servers ignore it, so the domain has no usable mail host",
                ),
                dnssec=secure,
            )
        return MxResult(
            domain=name, hosts=tuple(seen.values()), literals=tuple(literals), dnssec=secure
        )

    async def addresses(self, name: str) -> AddressResult:
        literal = _ip_literal(name)
        if literal is not None:
            return AddressResult(name=literal, addresses=(literal,))
        try:
            host = normalise_domain(name)
        except InvalidName as exc:
            return AddressResult(name=name, error=Reason(Code.INVALID_DOMAIN, str(exc)))
        four, six = await asyncio.gather(
            self._query(host, dns.rdatatype.A), self._query(host, dns.rdatatype.AAAA)
        )
        a, aaaa = four.answer, six.answer
        found = (*_sorted_ips(a), *_sorted_ips(aaaa))
        canonical = next((_text(ans.canonical_name) for ans in (a, aaaa) if ans is not None), host)
        canonical_or_none = canonical if canonical != host else None
        errors = tuple(e for e in (four.error, six.error) if e is not None)
        secure = Dnssec.combine([four.dnssec, six.dnssec])
        if found:
            return AddressResult(host, found, canonical_or_none, notes=errors, dnssec=secure)
        if errors:
            first = next(
                (e for e in errors if e.code in (Code.DNSSEC_INVALID, Code.DNS_NXDOMAIN)),
                errors[0],
            )
            return AddressResult(host, canonical=canonical_or_none, error=first, dnssec=secure)
        shown = host if canonical_or_none is None else f"{host} (alias of {canonical})"
        return AddressResult(
            host,
            canonical=canonical_or_none,
            error=Reason(Code.NO_ADDRESS, f"{shown} has no A or AAAA record"),
            dnssec=secure,
        )

    async def txt(self, name: str) -> RecordsResult:
        reply = await self._query(name, dns.rdatatype.TXT)
        texts = tuple(
            b"".join(r.strings).decode("utf-8", "replace")
            for r in _rdatas(reply.answer)
            if isinstance(r, TXT)
        )
        return _records(name, texts, reply)

    async def tlsa(self, name: str) -> RecordsResult:
        reply = await self._query(name, dns.rdatatype.TLSA)
        return _records(name, tuple(r.to_text() for r in _rdatas(reply.answer)), reply)

    async def _query(self, name: str, rdtype: dns.rdatatype.RdataType) -> _Reply:
        """The one seam where dnspython's exceptions become reasons."""
        kind = dns.rdatatype.to_text(rdtype)
        if self._setup_error is not None:
            return _Reply(error=self._setup_error)
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException as exc:
            return _Reply(error=Reason(Code.INVALID_DOMAIN, f"{name!r} is not a DNS name: {exc}"))
        async with self._limit.slot(_PRIORITY.get(rdtype, len(_PRIORITY))):
            try:
                # dnspython may overrun its lifetime by a back-off sleep; we do not.
                async with asyncio.timeout(self._resolver.lifetime):
                    answer = await self._resolver.resolve(
                        qname, rdtype, raise_on_no_answer=False, search=False
                    )
            except dns.resolver.NXDOMAIN as exc:
                return _Reply(
                    error=Reason(Code.DNS_NXDOMAIN, f"{name} does not exist (NXDOMAIN)"),
                    dnssec=self._status(_nxdomain_response(exc, qname)),
                )
            except (dns.exception.Timeout, TimeoutError):
                return _Reply(
                    error=Reason(
                        Code.DNS_TIMEOUT,
                        f"no DNS answer for {name} {kind} within {self._resolver.lifetime:g} s",
                    )
                )
            except dns.resolver.NoNameservers as exc:
                if "SERVFAIL" in str(exc):
                    if self._dnssec and await self._bogus(exc, qname, rdtype):
                        return _Reply(error=_bogus_reason(name, kind, exc), dnssec=Dnssec.BOGUS)
                    return _Reply(
                        error=Reason(
                            Code.DNS_SERVFAIL, f"the DNS server failed on {name} {kind} (SERVFAIL)"
                        )
                    )
                if "REFUSED" in str(exc):
                    return _Reply(
                        error=Reason(
                            Code.DNS_ERROR,
                            f"the DNS server refused to answer {name} {kind} (REFUSED)",
                        )
                    )
                return _Reply(
                    error=Reason(Code.DNS_ERROR, f"DNS lookup of {name} {kind} failed: {exc}")
                )
            except dns.exception.DNSException as exc:
                return _Reply(
                    error=Reason(Code.DNS_ERROR, f"DNS lookup of {name} {kind} failed: {exc}")
                )
            except OSError as exc:
                return _Reply(
                    error=Reason(
                        Code.DNS_ERROR, f"DNS lookup of {name} {kind} failed: {exc.strerror or exc}"
                    )
                )
        return _Reply(answer, dnssec=self._status(answer.response))

    def _status(self, response: dns.message.Message | None) -> Dnssec | None:
        """What the validating resolver said of an answer: AD set is secure (resolver mode)."""
        if not self._dnssec or response is None:
            return None
        return Dnssec.SECURE if response.flags & dns.flags.AD else Dnssec.INSECURE

    async def _bogus(
        self, exc: dns.resolver.NoNameservers, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType
    ) -> bool:
        """A SERVFAIL because validation failed: a DNSSEC Extended DNS Error says so, or the
        resolver answers the question when asked not to check (CD)."""
        if _dnssec_ede(exc):
            return True
        try:
            async with asyncio.timeout(self._unchecked.lifetime):
                await self._unchecked.resolve(qname, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return True
        except (dns.exception.DNSException, TimeoutError, OSError):
            return False
        return True


# Lower goes first: the further along a probe's critical path, the sooner.
_PRIORITY = {dns.rdatatype.A: 0, dns.rdatatype.AAAA: 0, dns.rdatatype.MX: 1}


class _Limiter:
    """At most ``size`` holders at once; waiters by priority (lower first), then in order."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @contextlib.asynccontextmanager
    async def slot(self, priority: int) -> AsyncIterator[None]:
        if self._free > 0 and not self._waiting:
            self._free -= 1
        else:
            granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiting, (priority, next(self._order), granted))
            try:
                await granted
            except asyncio.CancelledError:
                if granted.done() and not granted.cancelled():
                    self._release()  # granted, then cancelled: the place goes on
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._waiting:
            _, _, granted = heapq.heappop(self._waiting)
            if not granted.done():
                granted.set_result(None)
                return
        self._free += 1


def _records(name: str, records: tuple[str, ...], reply: _Reply) -> RecordsResult:
    error = reply.error
    if error is not None and error.code is Code.DNS_NXDOMAIN:
        error = None  # an optional record that is not there
    return RecordsResult(name=name, records=records, error=error, dnssec=reply.dnssec)


def _nxdomain_response(
    exc: dns.resolver.NXDOMAIN, qname: dns.name.Name
) -> dns.message.Message | None:
    responses = exc.kwargs.get("responses") or {}
    response = responses.get(qname) or next(iter(responses.values()), None)
    return response if isinstance(response, dns.message.Message) else None


def _responses(exc: dns.resolver.NoNameservers) -> list[dns.message.Message]:
    errors = exc.kwargs.get("errors") or []
    return [e[4] for e in errors if len(e) > 4 and isinstance(e[4], dns.message.Message)]


def _dnssec_ede(exc: dns.resolver.NoNameservers) -> list[dns.edns.EDEOption]:
    return [
        ede
        for response in _responses(exc)
        for ede in response.extended_errors()
        if int(ede.code) in _DNSSEC_EDE
    ]


def _bogus_reason(name: str, kind: str, exc: dns.resolver.NoNameservers) -> Reason:
    said = "; ".join(
        f"{dns.edns.EDECode.to_text(ede.code)}" + (f": {ede.text}" if ede.text else "")
        for ede in _dnssec_ede(exc)
    )
    why = f" ({said})" if said else ""
    return Reason(
        Code.DNSSEC_INVALID,
        f"the DNS answer for {name} {kind} fails DNSSEC validation (bogus){why}; "
        "validating resolvers refuse it",
    )


def _rdatas(answer: dns.resolver.Answer | None) -> list[dns.rdata.Rdata]:
    if answer is None or answer.rrset is None:
        return []
    return list(answer.rrset)


def _sorted_ips(answer: dns.resolver.Answer | None) -> list[str]:
    """Addresses in numeric order, so that results (and probe order) are stable."""
    ips = {ipaddress.ip_address(r.to_text()) for r in _rdatas(answer)}
    return [str(ip) for ip in sorted(ips)]


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


def _ip_literal(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        return None
