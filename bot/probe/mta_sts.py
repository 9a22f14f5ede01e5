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

from bot.probe.dns import Resolver
from bot.probe.guard import vet_address
from bot.probe.model import Code, Reason
from bot.probe.settings import ProbeSettings
from bot.probe.sts_parse import (
    MAX_AGE_LIMIT,
    MODES,
    StsPolicy,
    StsTxt,
    parse_policy,
    parse_sts_txt,
)

MAX_POLICY_BYTES = 64 * 1024
POLICY_PATH = "/.well-known/mta-sts.txt"

__all__ = [
    "MAX_AGE_LIMIT",
    "MAX_POLICY_BYTES",
    "MODES",
    "StsPolicy",
    "StsTxt",
    "fetch_policy",
    "parse_policy",
    "parse_sts_txt",
]


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
    status, location, content_type, body = fetched
    if 300 <= status < 400:
        return _fetch_error(f"{url} redirects to {location or '?'}; redirects are not followed")
    if status != 200:
        return _fetch_error(f"{url} answered HTTP {status}")
    if not is_text_plain(content_type):
        shown = repr(content_type) if content_type else "no Content-Type"
        return _fetch_error(
            f"{url} was served with {shown}; RFC 8461 requires text/plain, "
            "and senders that check it ignore the policy"
        )
    if body is None:
        return _fetch_error(f"the policy at {url} is larger than {MAX_POLICY_BYTES // 1024} KiB")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _invalid(f"the policy at {url} is not UTF-8 text")
    return parse_policy(text)


def is_text_plain(content_type: str | None) -> bool:
    """``text/plain``, in any case, with or without parameters (``; charset=utf-8``)."""
    if not content_type:
        return False
    return content_type.partition(";")[0].strip(" \t").lower() == "text/plain"


def _fetch_error(message: str) -> Reason:
    return Reason(Code.STS_POLICY_FETCH_ERROR, message)


def _invalid(message: str) -> Reason:
    return Reason(Code.STS_POLICY_INVALID, message)
