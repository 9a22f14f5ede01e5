"""MTA-STS (RFC 8461): the ``_mta-sts`` TXT record and the HTTPS policy.

The parsers are pure functions. :func:`fetch_policy` is the one piece of I/O:
it resolves ``mta-sts.<domain>`` once with our resolver, vets every address with
the address guard (``allow_networks``, the external-domain allow list), and
lets aiohttp connect only to those vetted IP literals (a pinned resolver), with
the name as SNI and as the ``Host`` header. The certificate is checked against
the system store plus ``ProbeSettings.ca_file``. Redirects are never followed
(RFC 8461 §3.3), the body is capped at :data:`MAX_POLICY_BYTES`, and the whole
fetch ends within ``ProbeSettings.mta_sts_timeout`` seconds.

Outcomes are values: :class:`StsPolicy` or a :class:`~bot.probe.model.Reason`.
Errors are translated at one seam in :func:`fetch_policy`, most specific first:

- ``aiohttp.ClientConnectorCertificateError`` -> ``sts-webpki-invalid``
- ``TimeoutError``                            -> ``sts-policy-fetch-error`` (timed out)
- ``aiohttp.ClientError``, ``OSError``,
  ``ssl.SSLError``                            -> ``sts-policy-fetch-error``
- a 3xx, a non-200 status, an oversized body -> ``sts-policy-fetch-error``
- a body that is not a valid policy          -> ``sts-policy-invalid``
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
import aiohttp.abc

from bot.probe.dns import Resolver
from bot.probe.guard import vet_address
from bot.probe.model import Code, Reason
from bot.probe.settings import ProbeSettings

MAX_POLICY_BYTES = 64 * 1024
MAX_AGE_LIMIT = 31_557_600  # one year, RFC 8461 §3.2
POLICY_PATH = "/.well-known/mta-sts.txt"
_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_MX_PATTERN = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{1,63}$")
MODES = ("enforce", "testing", "none")
_HEADERS = {"User-Agent": "tlsbot", "Accept": "text/plain", "Accept-Encoding": "identity"}


@dataclass(frozen=True, slots=True)
class StsPolicy:
    mode: str  # enforce / testing / none
    mx: tuple[str, ...]  # patterns, "mx.example.com" or "*.example.com"
    max_age: int

    def matches(self, host: str) -> bool:
        """RFC 8461 §4.1: exact name, or ``*.`` standing for exactly one label."""
        name = host.lower().rstrip(".")
        for pattern in self.mx:
            if pattern.startswith("*."):
                head, _, tail = name.partition(".")
                if head and tail == pattern[2:]:
                    return True
            elif name == pattern:
                return True
        return False


def parse_sts_txt(records: Sequence[str]) -> tuple[str | None, Reason | None]:
    """The one ``v=STSv1`` record and whether it is valid (RFC 8461 §3.1).

    ``(None, None)``: no MTA-STS record. Records not starting ``v=STSv1`` are
    ignored; more than one STS record is invalid (senders treat it as none).
    """
    sts = [r for r in records if re.match(r"^v=STSv1\s*(;|$)", r)]
    if not sts:
        return None, None
    if len(sts) > 1:
        return sts[0], Reason(
            Code.STS_POLICY_INVALID,
            f"{len(sts)} MTA-STS TXT records are published; exactly one is allowed",
        )
    record = sts[0]
    fields: dict[str, str] = {}
    for part in record.split(";"):
        key, sep, value = part.strip().partition("=")
        if part.strip() and not sep:
            return record, Reason(Code.STS_POLICY_INVALID, f"MTA-STS TXT field {part!r} has no '='")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    ident = fields.get("id")
    if ident is None or not _ID.match(ident):
        return record, Reason(
            Code.STS_POLICY_INVALID,
            f"MTA-STS TXT record {record!r} needs id=1 to 32 letters or digits",
        )
    return record, None


def parse_policy(text: str) -> StsPolicy | Reason:
    """The policy file of RFC 8461 §3.2: ``key: value`` lines."""
    fields: dict[str, str] = {}
    mx: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            return _invalid(f"line {number} of the policy is not 'key: value'")
        key, value = key.strip(), value.strip()
        if key == "mx":
            if not _MX_PATTERN.match(value.lower()):
                return _invalid(f"mx {value!r} in the policy is not a host name pattern")
            mx.append(value.lower())
        else:
            fields.setdefault(key, value)
    if fields.get("version") != "STSv1":
        return _invalid(f"policy version is {fields.get('version')!r}, not 'STSv1'")
    mode = fields.get("mode")
    if mode not in MODES:
        return _invalid(f"policy mode is {mode!r}, not one of {', '.join(MODES)}")
    age = fields.get("max_age", "")
    if not age.isdigit() or len(age) > 10 or int(age) > MAX_AGE_LIMIT:
        return _invalid(f"policy max_age {age!r} is not a number of seconds up to {MAX_AGE_LIMIT}")
    if mode != "none" and not mx:
        return _invalid(f"policy in mode {mode!r} lists no mx")
    return StsPolicy(mode=mode, mx=tuple(mx), max_age=int(age))


async def fetch_policy(
    domain: str, *, resolver: Resolver, settings: ProbeSettings
) -> StsPolicy | Reason:
    """Fetch and parse ``https://mta-sts.<domain>/.well-known/mta-sts.txt``."""
    host = f"mta-sts.{domain}"
    found = await resolver.addresses(host)
    if found.error is not None:
        return _fetch_error(f"cannot resolve {host}: {found.error.message}")
    vetted = [a for a in found.addresses if vet_address(a, settings.allow_networks) is None]
    if not vetted:
        refused = vet_address(found.addresses[0], settings.allow_networks)
        why = refused.message if refused else "no address"
        return _fetch_error(f"not fetching the policy from {host}: {why}")
    url = f"https://{host}:{settings.mta_sts_port}{POLICY_PATH}"
    try:
        async with asyncio.timeout(settings.mta_sts_timeout):
            status, location, body = await _get(url, host, vetted, settings)
    except aiohttp.ClientConnectorCertificateError as exc:
        return Reason(
            Code.STS_WEBPKI_INVALID,
            f"the certificate of {host} is not valid: {exc.certificate_error}",
        )
    except TimeoutError:
        return _fetch_error(f"{url} did not answer within {settings.mta_sts_timeout:g} s")
    except (aiohttp.ClientError, ssl.SSLError, OSError) as exc:
        return _fetch_error(f"cannot fetch {url}: {exc}")
    if 300 <= status < 400:
        return _fetch_error(f"{url} redirects to {location or '?'}; redirects are not followed")
    if status != 200:
        return _fetch_error(f"{url} answered HTTP {status}")
    if body is None:
        return _fetch_error(f"the policy at {url} is larger than {MAX_POLICY_BYTES // 1024} KiB")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _invalid(f"the policy at {url} is not UTF-8 text")
    return parse_policy(text)


async def _get(
    url: str, host: str, addresses: Sequence[str], settings: ProbeSettings
) -> tuple[int, str | None, bytes | None]:
    """Status, Location and body (``None`` when over the cap) of one GET."""
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
        if response.status != 200:
            return response.status, location, b""
        if (response.content_length or 0) > MAX_POLICY_BYTES:
            return response.status, location, None
        body = bytearray()
        while len(body) <= MAX_POLICY_BYTES:
            chunk = await response.content.read(MAX_POLICY_BYTES + 1 - len(body))
            if not chunk:
                break
            body += chunk
        if len(body) > MAX_POLICY_BYTES:
            return response.status, location, None
        return response.status, location, bytes(body)


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


def _fetch_error(message: str) -> Reason:
    return Reason(Code.STS_POLICY_FETCH_ERROR, message)


def _invalid(message: str) -> Reason:
    return Reason(Code.STS_POLICY_INVALID, message)
