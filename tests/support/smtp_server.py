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


def server_context(behaviour: Behaviour, cert: ServedCert) -> ssl.SSLContext:
    if behaviour is Behaviour.TLS10_ONLY:
        ctx = _legacy_server_context()
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if behaviour is Behaviour.AES128_ONLY:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA256")
    ctx.load_cert_chain(cert.cert_file, cert.key_file)
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

    def __post_init__(self) -> None:
        self.connections = 0
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
        task = asyncio.get_running_loop().create_task(self._session(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._dialogue(reader, writer)
        except (OSError, ssl.SSLError, SSL.Error, asyncio.IncompleteReadError, ValueError):
            pass  # the client went away or the handshake failed: that is what tests provoke
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _reply(self, writer: asyncio.StreamWriter, *lines: str) -> None:
        """One reply (of one or more lines), after ``reply_delay``."""
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)
        writer.write(b"".join(line.encode() + b"\r\n" for line in lines))
        await writer.drain()

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
            for byte in f"220 {self.name} ESMTP slowly\r\n".encode():
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(self.drip_interval)
        elif b is Behaviour.GREETING_421:
            await self._reply(writer, f"421 {self.name} too busy, try later")
            return
        elif b is Behaviour.GARBAGE:
            await self._reply(writer, "HTTP/1.1 400 Bad Request")
            await asyncio.sleep(3600)
            return
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
                await self._reply(
                    writer,
                    *(
                        f"250{' ' if i == len(lines) - 1 else '-'}{text}"
                        for i, text in enumerate(lines)
                    ),
                )
            elif verb == "STARTTLS" and not tls:
                if b is Behaviour.STARTTLS_454:
                    await self._reply(writer, "454 4.7.0 TLS not available due to local problem")
                elif b is Behaviour.STARTTLS_502 or (self._tls is None and self._openssl is None):
                    await self._reply(writer, "502 5.5.1 command not implemented")
                else:
                    await self._reply(writer, "220 2.0.0 Ready to start TLS")
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
