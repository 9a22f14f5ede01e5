"""Postfix's socketmap protocol, served from a :class:`SnapshotCache`.

A request is the netstring ``<map> <key>``; the reply is one netstring:
``OK <value>``, ``NOTFOUND ``, ``TEMP <reason>`` or ``PERM <reason>``
(socketmap_table(5)). Maps: ``tls_policy`` and ``tls_inbound``.

:func:`answer` is the pure part. :class:`SocketmapProtocol` is a thin asyncio
driver: many requests per connection, pipelined requests answered in order.
Limits: a request longer than ``max_query`` bytes, or a framing error, gets a
``PERM`` reply and the connection is closed (only that connection); idle
connections are closed after ``idle_timeout``; a request must complete within
``request_timeout`` once begun; at most ``max_connections`` at once; replies are
never longer than Postfix's 100000-byte ``socketmap_max_reply_size``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.export.model import MapName
from bot.export.netstring import Decoder, NetstringError, encode
from bot.export.snapshot import SnapshotCache
from bot.export.tables import Tables

log = logging.getLogger(__name__)

DEFAULT_PORT = 8460
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"
MAX_REPLY = 100_000
NOTFOUND = encode(b"NOTFOUND ")
_MAPS = {m.value.encode(): m for m in MapName}
_PRINTABLE = re.compile(rb"[^!-~]")  # what may be echoed back: printable ASCII, no space


@dataclass(frozen=True)
class Limits:
    max_query: int = 10_000
    idle_timeout: float = 60.0
    request_timeout: float = 10.0
    max_connections: int = 1_000


def answer(tables: Tables | None, request: bytes) -> bytes:
    """The reply netstring for one request payload (without its framing)."""
    name, sep, key = request.partition(b" ")
    if not sep or not key:
        return encode(b"PERM malformed request: expected '<map> <key>'")
    table_name = _MAPS.get(name)
    if table_name is None:
        return encode(b"PERM unknown map " + _PRINTABLE.sub(b"?", name[:64]))
    if tables is None:
        return encode(b"TEMP policy store unavailable")
    try:
        text = key.decode("ascii").lower()
    except UnicodeDecodeError:
        return NOTFOUND
    table = tables.table(table_name)
    value = table.get(text)
    if value is None and table_name is MapName.TLS_INBOUND and "@" in text:
        value = _access_lookup(table, text)
    if value is None:
        return NOTFOUND
    reply = b"OK " + value.encode("ascii")
    if len(reply) > MAX_REPLY:
        return encode(b"PERM reply longer than 100000 bytes")
    return encode(reply)


def _access_lookup(table: Mapping[str, str], address: str) -> str | None:
    """The rest of access(5)'s search for ``user@domain``, which Postfix leaves to us.

    Postfix treats a socketmap as a pattern table and asks only for the full
    address; with a hash file it would go on with the domain and its parent
    domains (``smtpd_access_maps`` is in ``parent_domain_matches_subdomains``).
    Doing that search here makes the socketmap answer like the file.
    """
    domain = address.rpartition("@")[2]
    while domain:
        value = table.get(domain)
        if value is not None:
            return value
        domain = domain.partition(".")[2]
    return None


class SocketmapProtocol(asyncio.Protocol):
    def __init__(self, server: SocketmapServer) -> None:
        self._server = server
        self._decoder = Decoder(server.limits.max_query)
        self._transport: asyncio.Transport | None = None
        self.last_active = 0.0
        self.request_started: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if not self._server.admit(self):
            transport.abort()
            return
        self.last_active = self._server.loop.time()

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.forget(self)

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        assert transport is not None
        now = self._server.loop.time()
        self.last_active = now
        try:
            requests = self._decoder.feed(data)
        except NetstringError as exc:
            self._server.refused += 1
            log.info("closing socketmap connection: %s", exc)
            transport.write(encode(b"PERM " + str(exc).encode("ascii", "replace")[:200]))
            transport.close()
            return
        if requests:
            tables = self._server.cache.current()
            if len(requests) == 1:
                transport.write(answer(tables, requests[0]))
            else:
                transport.write(b"".join(answer(tables, r) for r in requests))
            self._server.lookups += len(requests)
        if not self._decoder.buffered:
            self.request_started = None
        elif requests or self.request_started is None:
            self.request_started = now  # a new request has begun: its clock starts now

    def pause_writing(self) -> None:  # the client is not reading its replies
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None:
            self._transport.resume_reading()

    def expire(self, now: float) -> bool:
        """Close the connection if idle or stuck mid-request; ``True`` if closed."""
        limits = self._server.limits
        stuck = self.request_started is not None and now - self.request_started > (
            limits.request_timeout
        )
        if (stuck or now - self.last_active > limits.idle_timeout) and self._transport:
            self._transport.close()
            return True
        return False


class SocketmapServer:
    """Owns the listening socket, the live connections and the refresh task."""

    def __init__(self, cache: SnapshotCache, limits: Limits | None = None) -> None:
        self.cache = cache
        self.limits = limits or Limits()
        self.loop = asyncio.get_running_loop()
        self._connections: set[SocketmapProtocol] = set()
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.lookups = 0
        self.refused = 0

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def admit(self, conn: SocketmapProtocol) -> bool:
        if len(self._connections) >= self.limits.max_connections:
            self.refused += 1
            return False
        self._connections.add(conn)
        return True

    def forget(self, conn: SocketmapProtocol) -> None:
        self._connections.discard(conn)

    async def start(self, host: str, port: int) -> None:
        """Load the tables once (lookups answer TEMP until then), then listen."""
        await asyncio.to_thread(self.cache.refresh)
        self._server = await self.loop.create_server(
            lambda: SocketmapProtocol(self), host, port, reuse_address=True, backlog=512
        )
        self._tasks = [
            asyncio.create_task(self.cache.run()),
            asyncio.create_task(self._sweep()),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            self._server.close()
            for conn in list(self._connections):
                conn.expire(float("inf"))
            await self._server.wait_closed()

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    async def _sweep(self) -> None:
        limits = self.limits
        interval = max(0.05, min(1.0, limits.idle_timeout / 4, limits.request_timeout / 4))
        while True:
            await asyncio.sleep(interval)
            now = self.loop.time()
            for conn in list(self._connections):
                conn.expire(now)
