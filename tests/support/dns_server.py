"""A real DNS server on loopback, for tests and benchmarks.

It answers dnspython (and any stub resolver) over UDP and TCP on one free port
of 127.0.0.1, and of ::1 when this machine has IPv6 loopback. It behaves like a
recursive resolver that knows only its own records: CNAME chains are followed
and returned whole, unknown names are NXDOMAIN, a known name without the asked
type (or a name with names below it) is NOERROR with no answer.

Usage (asyncio)::

    from tests.support.dns_server import Behaviour, DnsServer

    async with DnsServer({
        "example.test": {"MX": ["10 mx1.example.test.", "20 mx2.example.test."]},
        "mx1.example.test": {"A": "127.0.0.1", "AAAA": "::1"},
        "www.example.test": {"CNAME": "mx1.example.test."},
        "_mta-sts.example.test": {"TXT": "v=STSv1; id=20240101"},
    }) as server:
        settings = ProbeSettings(dns_servers=server.servers)
        server.set("mx2.example.test", "A", "127.0.0.2")    # change while running
        server.behave("broken.test", Behaviour.SERVFAIL)    # or TIMEOUT, REFUSED, ...

Usage (synchronous tests): ``with DnsServer(...) as server:`` runs the same
server on its own event loop in a background thread.

API (small on purpose):

- ``DnsServer(records=None, *, origin=None, delay=0.0, ipv6=True)``:
  ``records`` is ``{name: {type: value or [values]}}`` with values in zone-file
  syntax (TXT values may be given unquoted: each is one string), or zone-file
  text (then ``origin`` names the zone, default the root). ``delay`` seconds are
  waited before each answer (mutable attribute; models a round trip).
- ``servers``: ``((ip, port), ...)`` for ``ProbeSettings.dns_servers``;
  ``address``: the IPv4 ``(ip, port)``; ``port``.
- ``set(name, type, *values)`` replaces a record set (no values removes it);
  ``add(name, type, *values)`` adds to it; ``remove(name)`` drops a name.
- ``behave(name, Behaviour.X)`` makes one name misbehave (``None`` restores):
  SERVFAIL, REFUSED, NXDOMAIN, TIMEOUT (never answer), TRUNCATE (UDP answers
  carry TC with no records, so the client must retry over TCP).
- ``queries``: every question received, as :class:`Query` (name, type, transport).
- ``sign(origin, bogus=())`` signs every record at or below ``origin`` with DNSSEC
  (:mod:`tests.support.signed_zone`: RRSIGs, NSEC, a DNSKEY at the apex, SOA and NS
  added when missing) and returns the zone's DS as a resolver's trust anchor; queries
  with the DO bit then get the signed answers and denial proofs. ``bogus`` names get
  corrupted signatures. Changing a record re-signs the zone at the next query.

All names are absolute; a trailing dot is optional. TTL is 0 so that nothing
caches across a change.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import struct
import threading
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Self, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

from tests.support.signed_zone import SignedZone, wants_dnssec

Records = Mapping[str, Mapping[str, str | Iterable[str]]]
MAX_CHAIN = 8


class Behaviour(enum.StrEnum):
    SERVFAIL = "servfail"
    REFUSED = "refused"
    NXDOMAIN = "nxdomain"
    TIMEOUT = "timeout"  # the question is dropped; the client times out
    TRUNCATE = "truncate"  # over UDP: TC set, no records


@dataclass(frozen=True, slots=True)
class Query:
    name: str  # as asked, lower case, no trailing dot
    rdtype: str  # "MX", "A", ...
    transport: str  # "udp" or "tcp"


class DnsServer:
    """See the module docstring."""

    def __init__(
        self,
        records: Records | str | None = None,
        *,
        origin: str | None = None,
        delay: float = 0.0,
        ipv6: bool = True,
    ) -> None:
        self.delay = delay
        self.queries: list[Query] = []
        self._want_ipv6 = ipv6
        self._lock = threading.Lock()
        self._data: dict[dns.name.Name, dict[dns.rdatatype.RdataType, dns.rrset.RRset]] = {}
        self._behaviours: dict[dns.name.Name, Behaviour] = {}
        # signed origins: their bogus names, and the signed zone (None: to be rebuilt)
        self._signed: dict[dns.name.Name, tuple[set[dns.name.Name], SignedZone | None]] = {}
        self._closers: list[asyncio.BaseTransport | asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._servers: tuple[tuple[str, int], ...] = ()
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        if isinstance(records, str):
            self.load_zone(records, origin or ".")
        elif records:
            self.load(records)

    # -- where clients find it ---------------------------------------------

    @property
    def servers(self) -> tuple[tuple[str, int], ...]:
        if not self._servers:
            raise RuntimeError("the DNS server is not running")
        return self._servers

    @property
    def address(self) -> tuple[str, int]:
        return self.servers[0]

    @property
    def port(self) -> int:
        return self.servers[0][1]

    # -- records -----------------------------------------------------------

    def load(self, records: Records) -> None:
        for name, types in records.items():
            for rdtype, values in types.items():
                self.set(name, rdtype, *([values] if isinstance(values, str) else values))

    def load_zone(self, text: str, origin: str = ".") -> None:
        zone = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=False)
        with self._lock:
            for name, rdataset in zone.iterate_rdatasets():
                rrset = dns.rrset.from_rdata_list(name, rdataset.ttl, list(rdataset))
                self._data.setdefault(name, {})[rdataset.rdtype] = rrset
                self._dirty(name)

    def sign(self, origin: str, *, bogus: Iterable[str] = ()) -> str:
        """Sign ``origin`` (see the module docstring); its DS record, as a trust anchor."""
        zone = _name(origin)
        with self._lock:
            self._signed[zone] = ({_name(b) for b in bogus}, None)
            return self._zone(zone).trust_anchor

    def _dirty(self, name: dns.name.Name) -> None:
        for origin, (bogus, _) in self._signed.items():
            if name.is_subdomain(origin):
                self._signed[origin] = (bogus, None)

    def _zone(self, origin: dns.name.Name) -> SignedZone:
        bogus, zone = self._signed[origin]
        if zone is None:
            rrsets = [
                rrset
                for name, node in self._data.items()
                if name.is_subdomain(origin)
                for rrset in node.values()
            ]
            zone = SignedZone(origin, rrsets, bogus=bogus)
            self._signed[origin] = (bogus, zone)
        return zone

    def _signed_origin(self, name: dns.name.Name) -> dns.name.Name | None:
        under = [o for o in self._signed if name.is_subdomain(o)]
        return max(under, key=len) if under else None

    def set(self, name: str, rdtype: str, *values: str) -> None:
        qname, kind = _name(name), dns.rdatatype.from_text(rdtype)
        with self._lock:
            self._dirty(qname)
            node = self._data.setdefault(qname, {})
            if values:
                node[kind] = _rrset(qname, kind, values)
            else:
                node.pop(kind, None)
                if not node:
                    del self._data[qname]

    def add(self, name: str, rdtype: str, *values: str) -> None:
        qname, kind = _name(name), dns.rdatatype.from_text(rdtype)
        with self._lock:
            self._dirty(qname)
            node = self._data.setdefault(qname, {})
            old = [r.to_text() for r in node[kind]] if kind in node else []
            node[kind] = _rrset(qname, kind, [*old, *values])

    def remove(self, name: str) -> None:
        with self._lock:
            self._dirty(_name(name))
            self._data.pop(_name(name), None)

    def behave(self, name: str, behaviour: Behaviour | None) -> None:
        with self._lock:
            if behaviour is None:
                self._behaviours.pop(_name(name), None)
            else:
                self._behaviours[_name(name)] = behaviour

    # -- life cycle ----------------------------------------------------------

    async def start(self) -> None:
        ipv6 = self._want_ipv6 and _ipv6_loopback()
        for _ in range(50):
            try:
                await self._bind(ipv6)
                return
            except OSError:
                await self._close()
        raise OSError("could not bind UDP and TCP on one free loopback port")

    async def stop(self) -> None:
        """Stop listening, then end every answer and TCP connection in progress."""
        closers, self._closers = self._closers, []
        for item in closers:
            item.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for item in closers:
            if isinstance(item, asyncio.Server):
                await item.wait_closed()
        self._servers = ()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __enter__(self) -> Self:
        loop = asyncio.new_event_loop()
        self._thread_loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="dns-server", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout=10)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        loop, thread = self._thread_loop, self._thread
        assert loop is not None
        assert thread is not None
        asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        self._thread = self._thread_loop = None

    async def _bind(self, ipv6: bool) -> None:
        loop = asyncio.get_running_loop()
        udp, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self), local_addr=("127.0.0.1", 0)
        )
        self._closers.append(udp)
        port = udp.get_extra_info("sockname")[1]
        self._closers.append(await asyncio.start_server(self._serve_tcp, "127.0.0.1", port))
        servers = [("127.0.0.1", port)]
        if ipv6:
            udp6, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=("::1", port)
            )
            self._closers.append(udp6)
            self._closers.append(await asyncio.start_server(self._serve_tcp, "::1", port))
            servers.append(("::1", port))
        self._servers = tuple(servers)

    async def _close(self) -> None:
        closers, self._closers = self._closers, []
        for item in closers:
            item.close()
        for item in closers:
            if isinstance(item, asyncio.Server):
                await item.wait_closed()

    # -- answering -----------------------------------------------------------

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reply_udp(
        self, data: bytes, peer: tuple[str, int], transport: asyncio.DatagramTransport
    ) -> None:
        wire = await self._reply(data, "udp")
        if wire is not None and not transport.is_closing():
            transport.sendto(wire, peer)

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:  # so that stop() can end an idle or delayed connection
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                wire = await self._reply(await reader.readexactly(length), "tcp")
                if wire is not None:
                    writer.write(struct.pack("!H", len(wire)) + wire)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _reply(self, data: bytes, transport: str) -> bytes | None:
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return None
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        response = self._answer(query, transport)
        if response is None:
            return None
        if transport == "tcp":
            return response.to_wire(max_size=65535)
        limit = max(query.payload, 512) if query.edns >= 0 else 512
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            return _truncated(query).to_wire()

    def _answer(self, query: dns.message.Message, transport: str) -> dns.message.Message | None:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA | dns.flags.RA
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        name, rdtype = question.name, question.rdtype
        self.queries.append(
            Query(
                name.to_text(omit_final_dot=True).lower(),
                dns.rdatatype.to_text(rdtype),
                transport,
            )
        )
        dnssec = wants_dnssec(query)
        if dnssec:
            response.ednsflags |= dns.flags.DO
        with self._lock:
            for _ in range(MAX_CHAIN):
                behaviour = self._behaviours.get(name)
                if behaviour is Behaviour.TIMEOUT:
                    return None
                if behaviour is Behaviour.TRUNCATE and transport == "udp":
                    return _truncated(query)
                if behaviour in _RCODES:
                    response.set_rcode(_RCODES[behaviour])
                    return response
                origin = self._signed_origin(name) if dnssec else None
                if origin is not None:
                    target = self._zone(origin).answer(response, name, rdtype)
                    if target is None:
                        return response
                    name = target
                    continue
                node = self._data.get(name, {})
                if rdtype in node:
                    response.answer.append(node[rdtype])
                    return response
                cname = node.get(dns.rdatatype.CNAME)
                if cname is not None and rdtype != dns.rdatatype.CNAME:
                    response.answer.append(cname)
                    name = cname[0].target
                    continue
                if not node and not self._has_children(name):
                    response.set_rcode(dns.rcode.NXDOMAIN)
                return response
        response.set_rcode(dns.rcode.SERVFAIL)  # CNAME loop or chain too long
        return response

    def _has_children(self, name: dns.name.Name) -> bool:
        return any(other.is_subdomain(name) and other != name for other in self._data)


_RCODES = {
    Behaviour.SERVFAIL: dns.rcode.SERVFAIL,
    Behaviour.REFUSED: dns.rcode.REFUSED,
    Behaviour.NXDOMAIN: dns.rcode.NXDOMAIN,
}


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None:
            self.server._spawn(self.server._reply_udp(data, addr, self.transport))


def _truncated(query: dns.message.Message) -> dns.message.Message:
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA | dns.flags.RA | dns.flags.TC
    return response


def _name(text: str) -> dns.name.Name:
    return dns.name.from_text(text.strip())


def _rrset(
    name: dns.name.Name, rdtype: dns.rdatatype.RdataType, values: Iterable[str]
) -> dns.rrset.RRset:
    texts = [_quote_txt(v) if rdtype == dns.rdatatype.TXT else v for v in values]
    return dns.rrset.from_text_list(
        name, 0, dns.rdataclass.IN, rdtype, texts, origin=dns.name.root, relativize=False
    )


def _quote_txt(value: str) -> str:
    """One TXT string per value, split in 255-byte pieces as the wire requires."""
    if value.startswith('"'):
        return value
    raw = value.encode()
    pieces = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
    return " ".join(
        '"' + p.decode("utf-8", "replace").replace("\\", "\\\\").replace('"', '\\"') + '"'
        for p in pieces
    )


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True
