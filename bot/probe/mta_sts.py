"""MTA-STS (RFC 8461): the ``_mta-sts`` TXT record and the HTTPS policy.

The parsers are pure functions. :func:`fetch_policy` is the one piece of I/O:
it resolves ``mta-sts.<domain>`` once with our resolver, vets every address with
the address guard (``allow_networks``, the external-domain allow list), and
has :mod:`bot.probe.sts_http` GET the policy from those vetted IP literals
only, with the name as SNI and as the ``Host`` header. Redirects are never
followed (RFC 8461 §3.3), the body is capped at :data:`MAX_POLICY_BYTES`, and
the whole fetch ends within ``ProbeSettings.mta_sts_timeout`` seconds.

Outcomes are values: :class:`StsPolicy` or a :class:`~bot.probe.model.Reason`:

- transport errors (certificate, timeout, connection) -> as translated by
  :func:`bot.probe.sts_http.get`, its one seam (``sts-webpki-invalid``,
  ``sts-policy-fetch-error``)
- a 3xx, a non-200 status, an oversized body -> ``sts-policy-fetch-error``
- a body that is not a valid policy          -> ``sts-policy-invalid``

aiohttp is imported (by :mod:`bot.probe.sts_http`) only when a domain publishes an
MTA-STS record, so ``tlsbot probe`` starts without it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

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
    from bot.probe import sts_http  # aiohttp: loaded only for domains that publish MTA-STS

    fetched = await sts_http.get(url, host, vetted, settings, max_bytes=MAX_POLICY_BYTES)
    if isinstance(fetched, Reason):
        return fetched
    status, location, body = fetched
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


def _fetch_error(message: str) -> Reason:
    return Reason(Code.STS_POLICY_FETCH_ERROR, message)


def _invalid(message: str) -> Reason:
    return Reason(Code.STS_POLICY_INVALID, message)
