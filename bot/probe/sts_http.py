"""One HTTPS GET of an MTA-STS policy, to vetted IP literals only (for :mod:`bot.probe.mta_sts`).

aiohttp connects only to the addresses the guard vetted (a pinned resolver), with
the name as SNI and as the ``Host`` header; the certificate is checked against the
system store plus ``ProbeSettings.ca_file``; redirects are not followed; the body
is read up to ``max_bytes + 1`` bytes; the whole GET ends within
``ProbeSettings.mta_sts_timeout`` seconds.

This module is imported only when a domain publishes an MTA-STS record, so the
probe (and ``tlsbot probe``) starts without aiohttp. Errors become reasons at one
seam, :func:`get`, most specific first:

- ``aiohttp.ClientConnectorCertificateError`` -> ``sts-webpki-invalid``
- ``TimeoutError``                            -> ``sts-policy-fetch-error`` (timed out)
- ``aiohttp.ClientError``, ``OSError``,
  ``ssl.SSLError``                            -> ``sts-policy-fetch-error``
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Sequence

import aiohttp
import aiohttp.abc

from bot.probe.model import Code, Reason
from bot.probe.settings import ProbeSettings

_HEADERS = {"User-Agent": "tlsbot", "Accept": "text/plain", "Accept-Encoding": "identity"}

# status, Location, Content-Type, body (None: over the cap)
Fetched = tuple[int, str | None, str | None, bytes | None]


async def get(
    url: str, host: str, addresses: Sequence[str], settings: ProbeSettings, *, max_bytes: int
) -> Fetched | Reason:
    """Status, Location, Content-Type and body of one GET, or why there is none."""
    try:
        async with asyncio.timeout(settings.mta_sts_timeout):
            return await _get(url, host, addresses, settings, max_bytes)
    except aiohttp.ClientConnectorCertificateError as exc:
        return Reason(
            Code.STS_WEBPKI_INVALID,
            f"the certificate of {host} is not valid: {exc.certificate_error}",
        )
    except TimeoutError:
        return Reason(
            Code.STS_POLICY_FETCH_ERROR,
            f"{url} did not answer within {settings.mta_sts_timeout:g} s",
        )
    except (aiohttp.ClientError, ssl.SSLError, OSError) as exc:
        return Reason(Code.STS_POLICY_FETCH_ERROR, f"cannot fetch {url}: {exc}")


async def _get(
    url: str, host: str, addresses: Sequence[str], settings: ProbeSettings, max_bytes: int
) -> Fetched:
    context = ssl.create_default_context()
    if settings.ca_file is not None:
        context.load_verify_locations(cafile=str(settings.ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    connector = aiohttp.TCPConnector(
        resolver=_PinnedResolver(host, addresses), ssl=context, use_dns_cache=False, limit=1
    )
    async with (
        aiohttp.ClientSession(
            connector=connector, trust_env=False, auto_decompress=False
        ) as session,
        session.get(url, allow_redirects=False, headers=_HEADERS) as response,
    ):
        location = response.headers.get("Location")
        kind = response.headers.get("Content-Type")
        if response.status != 200:
            return response.status, location, kind, b""
        if (response.content_length or 0) > max_bytes:
            return response.status, location, kind, None
        body = bytearray()
        while len(body) <= max_bytes:
            chunk = await response.content.read(max_bytes + 1 - len(body))
            if not chunk:
                break
            body += chunk
        if len(body) > max_bytes:
            return response.status, location, kind, None
        return response.status, location, kind, bytes(body)


class _PinnedResolver(aiohttp.abc.AbstractResolver):
    """Answers only for the one host, with the addresses the guard vetted."""

    def __init__(self, host: str, addresses: Sequence[str]) -> None:
        self._host = host
        self._addresses = tuple(addresses)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        if host != self._host:
            raise OSError(f"refusing to resolve {host!r} (only {self._host!r} is pinned)")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self._addresses
        ]

    async def close(self) -> None:
        return None
