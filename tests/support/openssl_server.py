"""Server-side TLS chosen the way a mail host's admin chooses it, for the test SMTP server.

Python's ``ssl`` cannot pick a server's TLS 1.3 suites (nor their order), so a server with
:class:`TlsOptions` runs OpenSSL through pyOpenSSL: ``Context.set_tls13_ciphersuites`` for
TLS 1.3, ``set_cipher_list`` for TLS 1.2, ``OP_CIPHER_SERVER_PREFERENCE`` for a server
that prefers its own order (as Postfix's ``tls_preempt_cipherlist = yes`` does). The
handshake and the SMTP dialogue after it run over the server's asyncio streams through a
memory-BIO ``Connection(ctx, None)`` (:class:`TlsStream`).

    TlsOptions(tls13_suites="TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384",
               server_preference=True)           # prefers AES-128, accepts AES-256
    TlsOptions(max_version="TLSv1.2", ciphers="AES256-SHA")   # needs an RSA leaf
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from OpenSSL import SSL

from tests.support.certs import ServedCert

VERSIONS = {"TLSv1.2": SSL.TLS1_2_VERSION, "TLSv1.3": SSL.TLS1_3_VERSION}
CHUNK = 65536


@dataclass(frozen=True)
class TlsOptions:
    min_version: str = "TLSv1.2"
    max_version: str = "TLSv1.3"
    ciphers: str | None = None  # TLS 1.2 and below, OpenSSL cipher-list syntax
    tls13_suites: str | None = None  # TLS 1.3, in the server's order of preference
    server_preference: bool = False

    def context(self, cert: ServedCert) -> SSL.Context:
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        ctx.set_min_proto_version(VERSIONS[self.min_version])
        ctx.set_max_proto_version(VERSIONS[self.max_version])
        if self.ciphers is not None:
            ctx.set_cipher_list(self.ciphers.encode())  # before the key: @SECLEVEL applies
        if self.tls13_suites is not None:
            ctx.set_tls13_ciphersuites(self.tls13_suites.encode())
        if self.server_preference:
            ctx.set_options(SSL.OP_CIPHER_SERVER_PREFERENCE)
        ctx.use_certificate_chain_file(str(cert.cert_file))
        ctx.use_privatekey_file(str(cert.key_file))
        return ctx


class TlsStream:
    """The server's side of one TLS session over a StreamReader/StreamWriter pair, with the
    few stream methods the SMTP dialogue uses (``readline``, ``write``, ``drain``)."""

    def __init__(
        self, ctx: SSL.Context, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.conn = SSL.Connection(ctx, None)
        self.conn.set_accept_state()
        self.reader, self.writer = reader, writer
        self.buffer = b""

    async def handshake(self) -> tuple[str, str | None]:
        while True:
            try:
                self.conn.do_handshake()
                break
            except SSL.WantReadError:
                pass
            except SSL.Error:
                await self._flush()  # the alert, so the client learns why
                raise
            await self._flush()
            if not await self._feed():
                raise ConnectionResetError("the client went away during the handshake")
        await self._flush()
        return self.conn.get_protocol_version_name(), self.conn.get_cipher_name()

    async def readline(self) -> bytes:
        while b"\n" not in self.buffer:
            try:
                self.buffer += self.conn.recv(CHUNK)
                continue
            except SSL.WantReadError:
                pass
            except SSL.ZeroReturnError:  # close_notify
                break
            await self._flush()
            if not await self._feed():
                break
        line, sep, rest = self.buffer.partition(b"\n")
        self.buffer = rest
        return line + sep

    def write(self, data: bytes) -> None:
        self.conn.sendall(data)

    async def drain(self) -> None:
        await self._flush()

    async def _feed(self) -> bool:
        data = await self.reader.read(CHUNK)
        if data:
            self.conn.bio_write(data)
        return bool(data)

    async def _flush(self) -> None:
        out = b""
        while True:
            try:
                out += self.conn.bio_read(CHUNK)
            except SSL.WantReadError:
                break
        if out:
            self.writer.write(out)
            await self.writer.drain()
