"""An HTTPS server on a loopback address that serves one MTA-STS policy (RFC 8461 §3.3).

    async with PolicyServer("127.0.11.9", pki.serve(CertCase.TRUSTED, "mta-sts.x.test"),
                            POLICY) as server:
        settings = ProbeSettings(..., mta_sts_port=server.port)
        server.body = OTHER_POLICY          # change it while running
        server.status = "404 Not Found"

Every request is answered with ``status`` and ``body``; ``requests`` counts them.
"""

from __future__ import annotations

import asyncio
import ssl
from types import TracebackType

from tests.support.certs import ServedCert


class PolicyServer:
    def __init__(self, address: str, cert: ServedCert, body: str) -> None:
        self.address, self.body, self.status = address, body, "200 OK"
        self.port = 0
        self.requests = 0
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(cert.cert_file, cert.key_file)
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> PolicyServer:
        self._server = await asyncio.start_server(self._handle, self.address, 0, ssl=self._context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            self.requests += 1
            body = self.body.encode()
            head = (
                f"HTTP/1.1 {self.status}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError):
            pass
        finally:
            writer.close()
