"""An asyncio SMTP server with STARTTLS for tests, on a loopback address of your choice.

    async with SmtpServer("127.0.0.2", port, Behaviour.STARTTLS, cert=served) as server:
        ...                      # probe 127.0.0.2:port
        server.connections       # TCP connections accepted so far

Synchronous tests (the CLI runs its own event loop) use :class:`SmtpFleet`, which runs
several servers on an event loop in a background thread.

Every host gets its own loopback address (127.0.0.2, 127.0.0.3, … all route to ``lo`` on
Linux) on one shared port (:func:`free_port`), so ``TLSBOT_SMTP_PORT`` stays one value.
The server never accepts DATA (it answers 554) unless made a mail sink (``accept_data``).
Behaviours cover each row of the verdict
table; ``reply_delay`` delays every reply (the benchmark models a 50 ms round trip).

Connection limits of real MTAs (Postfix anvil), each counted: ``one_at_a_time`` greets a
second concurrent connection with ``421`` (``smtpd_client_connection_count_limit = 1``),
``min_interval`` does so for a connection less than that many seconds after the previous
one (a connection rate limit), ``max_accepts`` stops listening after that many connections
(later ones are refused by the kernel). ``peak_active`` is the most connections open at
once, ``turned_away`` how many got the ``421``. :class:`BlackHole` is an address whose
connections never complete (the SYN is dropped), as behind a firewall that drops.

TLS 1.0 needs ``@SECLEVEL=0`` on both sides with OpenSSL 3; :func:`tls10_available` says
whether the local OpenSSL can still negotiate it.

Server-side suites and versions as an admin sets them (TLS 1.3 suites included): pass
``tls=TlsOptions(...)`` (``tests.support.openssl_server``); the server then speaks TLS
through pyOpenSSL. Either way ``handshakes`` lists ``(version, cipher)`` of every TLS
session the server completed, and ``failed_handshakes`` counts the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import ssl
import struct
import threading
import warnings
from collections.abc import Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from OpenSSL import SSL

from tests.support.certs import ServedCert
from tests.support.openssl_server import TlsOptions, TlsStream


class Behaviour(enum.StrEnum):
    STARTTLS = "starttls"  # STARTTLS advertised and served with the given chain
    NO_STARTTLS = "no-starttls"  # EHLO does not advertise STARTTLS
    STARTTLS_454 = "starttls-454"  # advertised, answered 454 (temporary)
    STARTTLS_502 = "starttls-502"  # advertised, answered 502 (refused)
    TLS10_ONLY = "tls10-only"  # STARTTLS served at TLS 1.0 only
    AES128_ONLY = "aes128-only"  # TLS 1.2 at most, AES-128 suites only
    GREETING_421 = "greeting-421"  # "421 busy" instead of a greeting, then close
    EHLO_550 = "ehlo-550"  # greets, then refuses EHLO
    TARPIT = "tarpit"  # accepts the connection and never says a word
    HUGE_BANNER = "huge-banner"  # a 1 MB greeting line
    DRIP = "drip"  # the greeting one byte per ``drip_interval`` seconds
    GARBAGE = "garbage"  # a greeting that is not SMTP
    EARLY_TALKER = "early-talker"  # the greeting and, unprompted, a 250 reply in one write
    HANDSHAKE_CLOSE = "handshake-close"  # "220 go ahead" to STARTTLS, then closes mid-handshake
    HANDSHAKE_RESET = "handshake-reset"  # the same, with a TCP reset
    TLS_EHLO_DRIP = "tls-ehlo-drip"  # the EHLO reply inside TLS one byte per ``drip_interval``
    TLS_GARBAGE = "tls-garbage"  # answers EHLO inside TLS with garbage
    PREFER_AES128 = "prefer-aes128"  # TLS 1.2 at most; prefers AES-128, accepts AES-256


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (used for every loopback address of a test)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tls10_available() -> bool:
    """Can this OpenSSL still serve and speak TLS 1.0 (with ``@SECLEVEL=0``)?"""
    try:
        ctx = _legacy_server_context()
        return ctx.maximum_version == ssl.TLSVersion.TLSv1
    except (ssl.SSLError, ValueError):
        return False


def _legacy_server_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    return ctx


class _AlertingSSLObject(ssl.SSLObject):
    """asyncio's SSL protocol drops the alert of a failed server handshake (it does not
    flush what OpenSSL wrote before the error), so the client would only see the
    connection close. Every real server sends the alert: so does this one, by letting
    asyncio flush first and raising the error on the next call."""

    def do_handshake(self) -> None:
        failed: ssl.SSLError | None = getattr(self, "_failed", None)
        if failed is not None:
            raise failed
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise
        except ssl.SSLError as exc:
            self._failed = exc
            raise ssl.SSLWantReadError("the alert goes out first") from exc


def server_context(behaviour: Behaviour, cert: ServedCert) -> ssl.SSLContext:
    if behaviour is Behaviour.TLS10_ONLY:
        ctx = _legacy_server_context()
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if behaviour is Behaviour.AES128_ONLY:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA256")
        elif behaviour is Behaviour.PREFER_AES128:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
            ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384")
    ctx.load_cert_chain(cert.cert_file, cert.key_file)
    ctx.sslobject_class = _AlertingSSLObject
    return ctx


@dataclass
class SmtpServer:
    address: str
    port: int
    behaviour: Behaviour = Behaviour.STARTTLS
    cert: ServedCert | None = None
    reply_delay: float = 0.0
    accept_rcpt: bool = True
    drip_interval: float = 1.0
    name: str = "mx.example.test"
    accept_data: bool = False  # only a mail sink for a real MTA's deliveries accepts DATA
    tls: TlsOptions | None = None  # suites and versions through pyOpenSSL (STARTTLS only)
    one_at_a_time: bool = False  # 421 to a connection while another is open
    min_interval: float = 0.0  # 421 to a connection this soon after the previous one
    max_accepts: int | None = None  # stop listening after this many connections

    def __post_init__(self) -> None:
        self.connections = 0
        self.active = 0
        self.peak_active = 0
        self.turned_away = 0
        self._last_accept: float | None = None
        self.commands: list[str] = []
        self.messages: list[bytes] = []
        self.handshakes: list[tuple[str, str | None]] = []
        self.failed_handshakes = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._tls: ssl.SSLContext | None = None
        self._openssl: SSL.Context | None = None
        if self.cert is not None and self.tls is not None:
            self._openssl = self.tls.context(self.cert)
        elif self.cert is not None:
            self._tls = server_context(self.behaviour, self.cert)

    async def __aenter__(self) -> SmtpServer:
        self._server = await asyncio.start_server(
            self._accept, self.address, self.port, reuse_address=True, limit=8192
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        await self._server.wait_closed()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.max_accepts is not None and self.connections >= self.max_accepts:
            assert self._server is not None
            self._server.close()  # later connections are refused by the kernel
        loop = asyncio.get_running_loop()
        now, last = loop.time(), self._last_accept
        self._last_accept = now
        busy = self.one_at_a_time and self.active > 0
        too_soon = last is not None and now - last < self.min_interval
        if busy or too_soon:
            self.turned_away += 1
            coro: Coroutine[object, object, None] = self._turn_away(writer)
        else:
            coro = self._session(reader, writer)
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _turn_away(self, writer: asyncio.StreamWriter) -> None:
        """What Postfix's anvil limits answer: 421, then close."""
        with contextlib.suppress(OSError):
            writer.write(b"421 4.7.0 " + self.name.encode() + b" Error: too many connections\r\n")
            await writer.drain()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.active += 1
        self.peak_active = max(self.peak_active, self.active)
        try:
            await self._dialogue(reader, writer)
        except (OSError, ssl.SSLError, SSL.Error, asyncio.IncompleteReadError, ValueError):
            pass  # the client went away or the handshake failed: that is what tests provoke
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self.active -= 1

    async def _reply(self, writer: asyncio.StreamWriter, *lines: str) -> None:
        """One reply (of one or more lines), after ``reply_delay``."""
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)
        writer.write(b"".join(line.encode() + b"\r\n" for line in lines))
        await writer.drain()

    async def _drip(self, writer: Any, text: str) -> None:
        for byte in text.encode():
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(self.drip_interval)

    async def _dialogue(self, reader: Any, writer: Any) -> None:
        b = self.behaviour
        if b is Behaviour.TARPIT:
            await asyncio.sleep(3600)
            return
        if b is Behaviour.HUGE_BANNER:
            writer.write(b"220 " + b"x" * (1024 * 1024) + b"\r\n")
            await writer.drain()
            await asyncio.sleep(3600)
            return
        if b is Behaviour.DRIP:
            await self._drip(writer, f"220 {self.name} ESMTP slowly\r\n")
        elif b is Behaviour.GREETING_421:
            await self._reply(writer, f"421 {self.name} too busy, try later")
            return
        elif b is Behaviour.GARBAGE:
            await self._reply(writer, "HTTP/1.1 400 Bad Request")
            await asyncio.sleep(3600)
            return
        elif b is Behaviour.EARLY_TALKER:
            await self._reply(writer, f"220 {self.name} ESMTP", "250 nobody asked for this")
        else:
            await self._reply(writer, f"220-{self.name} ESMTP tlsbot test server", "220 no UCE")
        tls = False
        while True:
            line = await reader.readline()
            if not line:
                return
            command = line.decode("ascii", "replace").strip()
            self.commands.append(command)
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                if b is Behaviour.EHLO_550:
                    await self._reply(writer, "550 go away")
                    continue
                lines = [self.name, "PIPELINING", "SIZE 10240000"]
                if not tls and b is not Behaviour.NO_STARTTLS:
                    lines.append("STARTTLS")
                lines.append("8BITMIME")
                last = len(lines) - 1
                reply = [f"250{' ' if i == last else '-'}{text}" for i, text in enumerate(lines)]
                if tls and b is Behaviour.TLS_EHLO_DRIP:
                    await self._drip(writer, "\r\n".join(reply) + "\r\n")
                elif tls and b is Behaviour.TLS_GARBAGE:
                    await self._reply(writer, "HTTP/1.1 400 Bad Request")
                else:
                    await self._reply(writer, *reply)
            elif verb == "STARTTLS" and not tls:
                if b is Behaviour.STARTTLS_454:
                    await self._reply(writer, "454 4.7.0 TLS not available due to local problem")
                elif b is Behaviour.STARTTLS_502 or (self._tls is None and self._openssl is None):
                    await self._reply(writer, "502 5.5.1 command not implemented")
                else:
                    await self._reply(writer, "220 2.0.0 Ready to start TLS")
                    if b in (Behaviour.HANDSHAKE_CLOSE, Behaviour.HANDSHAKE_RESET):
                        await reader.read(16)  # the start of the ClientHello
                        _hang_up(writer, reset=b is Behaviour.HANDSHAKE_RESET)
                        return
                    reader, writer = await self._start_tls(reader, writer)
                    tls = True
            elif verb == "MAIL":
                await self._reply(writer, "250 2.1.0 Ok")
            elif verb == "RCPT":
                if self.accept_rcpt:
                    await self._reply(writer, "250 2.1.5 Ok")
                else:
                    await self._reply(writer, "550 5.1.1 no such user here")
            elif verb == "DATA" and self.accept_data:
                await self._reply(writer, "354 End data with <CR><LF>.<CR><LF>")
                self.messages.append(await _read_message(reader))
                await self._reply(writer, "250 2.0.0 Ok: queued")
            elif verb == "DATA":
                await self._reply(writer, "554 5.5.1 this test server never accepts DATA")
            elif verb in ("RSET", "NOOP"):
                await self._reply(writer, "250 2.0.0 Ok")
            elif verb == "QUIT":
                await self._reply(writer, "221 2.0.0 Bye")
                return
            else:
                await self._reply(writer, "502 5.5.2 command not recognised")

    async def _start_tls(self, reader: Any, writer: Any) -> tuple[Any, Any]:
        """The server's TLS handshake; the streams the dialogue goes on with."""
        try:
            if self._openssl is not None:
                stream = TlsStream(self._openssl, reader, writer)
                self.handshakes.append(await stream.handshake())
                return stream, stream
            assert self._tls is not None
            await writer.start_tls(self._tls)
        except BaseException:
            self.failed_handshakes += 1
            raise
        cipher = writer.get_extra_info("cipher")
        self.handshakes.append((writer.get_extra_info("ssl_object").version(), cipher[0]))
        return reader, writer


def _hang_up(writer: asyncio.StreamWriter, *, reset: bool) -> None:
    """Close now; with ``reset``, a TCP RST instead of a FIN (SO_LINGER 0)."""
    if reset:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    else:
        writer.close()


class BlackHole:
    """A loopback address and port where TCP connections never complete.

    A listening socket with a backlog of 0 that never accepts, its queue filled by its own
    connections: the kernel drops every further SYN, so a client's connect() waits until
    its own deadline, as behind a firewall that drops.
    """

    def __init__(self, address: str, port: int) -> None:
        self.address, self.port = address, port
        self._sockets: list[socket.socket] = []

    def __enter__(self) -> BlackHole:
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.address, self.port))
        listener.listen(0)
        self.port = int(listener.getsockname()[1])
        self._sockets.append(listener)
        for _ in range(2):
            filler = socket.socket(family, socket.SOCK_STREAM)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect((self.address, self.port))
            self._sockets.append(filler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()

    async def __aenter__(self) -> BlackHole:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__()


async def _read_message(reader: asyncio.StreamReader, limit: int = 1 << 20) -> bytes:
    """The message after DATA up to the lone ``.`` line, at most ``limit`` bytes kept."""
    body: list[bytes] = []
    size = 0
    while (line := await reader.readline()) not in (b".\r\n", b".\n", b""):
        size += len(line)
        if size <= limit:
            body.append(line)
    return b"".join(body)


class SmtpFleet:
    """Several :class:`SmtpServer` on one event loop in a background thread, for synchronous
    tests (the CLI runs its own event loop with ``asyncio.run``)::

        with SmtpFleet([SmtpServer("127.0.0.2", port, cert=...), ...]) as fleet:
            main(["probe", ...])
            fleet.servers[0].connections
    """

    def __init__(self, servers: list[SmtpServer]) -> None:
        self.servers = servers
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> SmtpFleet:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._call(self._stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    def _call(self, coro: Coroutine[object, object, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    async def _start(self) -> None:
        for server in self.servers:
            await server.__aenter__()

    async def _stop(self) -> None:
        for server in self.servers:
            await server.__aexit__(None, None, None)

    def by_address(self, address: str) -> SmtpServer:
        return next(s for s in self.servers if s.address == address)
