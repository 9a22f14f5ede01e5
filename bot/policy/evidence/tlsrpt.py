"""TLS-RPT reports (RFC 8460): from bytes to a validated :class:`Report`, or one refusal.

Pure, no I/O. Three ways in:

- :func:`from_http` — an HTTPS POST body (§5.3) with its media type,
  ``application/tlsrpt+json`` or ``application/tlsrpt+gzip``;
- :func:`from_message` — an RFC 5322 message (§5.3: ``multipart/report;
  report-type=tlsrpt``, or a message that is the report) parsed with the standard
  library's :mod:`email`; the first ``application/tlsrpt+json`` / ``+gzip`` part is
  the report (a part named ``*.json`` / ``*.json.gz`` of a generic type is taken
  too when its type is generic, ``application/gzip`` or ``octet-stream``);
- :func:`from_file` — a bare ``.json`` / ``.json.gz`` file, or a message.

Every refusal is a :class:`ReportRefused` naming what is wrong, with the HTTP
status it maps to: not JSON, the wrong media type (415), a decompressed size over
:data:`MAX_REPORT_BYTES` (413: gzip is inflated with ``zlib.decompressobj`` and
``max_length``, so a bomb is refused after at most that many bytes, never held
whole), a missing or mistyped field (named by its path,
``policies[0].summary.total-failure-session-count``), a date range ending in the
future (judged at the caller's ``now``; ``FUTURE_SLACK`` of clock skew allowed).

Schema (RFC 8460 §4.4): ``organization-name``, ``date-range`` {``start-datetime``,
``end-datetime``}, ``report-id`` and ``policies`` are required; each policy needs
``policy`` {``policy-type`` ∈ tlsa/sts/no-policy-found, ``policy-domain``; optional
``policy-string`` [str], ``mx-host`` [str] (a single string, as the RFC's example
had before erratum 6241, is accepted)} and ``summary`` (the two session counts;
one left out is 0); ``failure-details`` entries need ``result-type`` and
``failed-session-count``, and may carry ``sending-mta-ip``,
``receiving-mx-hostname``, ``receiving-ip``, ``receiving-mx-helo``,
``additional-information``, ``failure-reason-code``. Date-times are RFC 3339;
one without a zone (Microsoft sends ``2023-01-10T00:00:00``) is taken as UTC.
"""

from __future__ import annotations

import email
import email.policy
import ipaddress
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from bot.policy.errors import PolicyError

JSON_TYPE = "application/tlsrpt+json"
GZIP_TYPE = "application/tlsrpt+gzip"
MAX_REPORT_BYTES = 10 * 1024 * 1024
MAX_MESSAGE_BYTES = 20 * 1024 * 1024  # a message with a base64 attachment of a big report
FUTURE_SLACK = timedelta(hours=1)
POLICY_TYPES = frozenset({"tlsa", "sts", "no-policy-found"})
_GZIP_MAGIC = b"\x1f\x8b"
_GENERIC_GZIP = frozenset({"application/gzip", "application/x-gzip", "application/octet-stream"})
_GENERIC_JSON = frozenset({"application/json", "application/octet-stream"})


class ReportRefused(PolicyError):
    """A report that is not stored; ``str()`` names what is wrong, ``status`` the HTTP code."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Failure:
    result_type: str
    sessions: int
    sending_ip: str | None = None
    mx_host: str | None = None  # receiving-mx-hostname, lower case, no trailing dot
    receiving_ip: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyResult:
    policy_type: str
    policy_domain: str
    mx_hosts: tuple[str, ...]
    successful: int
    failed: int
    failures: tuple[Failure, ...] = ()


@dataclass(frozen=True, slots=True)
class Report:
    report_id: str
    organization: str
    contact_info: str | None
    start: datetime
    end: datetime
    policies: tuple[PolicyResult, ...]
    raw: Mapping[str, Any]

    @property
    def successful(self) -> int:
        return sum(p.successful for p in self.policies)

    @property
    def failed(self) -> int:
        return sum(p.failed for p in self.policies)


# -- ways in --------------------------------------------------------------------------


def media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def from_http(body: bytes, content_type: str | None, *, now: datetime) -> Report:
    kind = media_type(content_type)
    if kind == GZIP_TYPE:
        return parse(gunzip(body), now=now)
    if kind == JSON_TYPE:
        return parse(body, now=now)
    raise ReportRefused(
        f"media type {kind or '(none)'!r} is not {JSON_TYPE} or {GZIP_TYPE} (RFC 8460 §5.3)",
        status=415,
    )


def from_file(data: bytes, *, now: datetime) -> Report:
    """A bare report (JSON, or gzip by its magic bytes) or an RFC 5322 message carrying one."""
    if data.startswith(_GZIP_MAGIC):
        return parse(gunzip(data), now=now)
    if data.lstrip()[:1] in (b"{", b"["):
        return parse(data, now=now)
    return from_message(data, now=now)


def from_message(data: bytes, *, now: datetime) -> Report:
    if len(data) > MAX_MESSAGE_BYTES:
        raise ReportRefused(f"the message is larger than {MAX_MESSAGE_BYTES // 2**20} MiB", 413)
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise ReportRefused("not JSON, gzip or a mail message")
    if message.get_content_type() == "multipart/report":
        report_type = str(message.get_param("report-type") or "").lower()
        if report_type != "tlsrpt":
            raise ReportRefused(f"a multipart/report of type {report_type!r}, not tlsrpt", 415)
    for part in message.walk():
        kind = part.get_content_type()
        name = (part.get_filename() or "").lower()
        if kind == GZIP_TYPE or (kind in _GENERIC_GZIP and name.endswith(".json.gz")):
            return parse(gunzip(_payload(part)), now=now)
        if kind == JSON_TYPE or (kind in _GENERIC_JSON and name.endswith(".json")):
            return parse(_payload(part), now=now)
    raise ReportRefused(f"the message has no {JSON_TYPE} or {GZIP_TYPE} part", 415)


def _payload(part: Any) -> bytes:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raise ReportRefused("the report part of the message is empty")
    return payload


def gunzip(data: bytes, limit: int = MAX_REPORT_BYTES) -> bytes:
    """Inflate gzip, refusing (after at most ``limit`` bytes of output) anything larger."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = bytearray()
    pending = data
    try:
        while pending and not inflater.eof:
            out += inflater.decompress(pending, limit + 1 - len(out))
            if len(out) > limit:
                raise ReportRefused(f"the report inflates to more than {limit // 2**20} MiB", 413)
            pending = inflater.unconsumed_tail
        if not inflater.eof:
            raise ReportRefused("the gzip data is truncated")
    except zlib.error as exc:
        raise ReportRefused(f"not gzip data ({exc})") from None
    return bytes(out)


# -- the schema -------------------------------------------------------------------------


def parse(data: bytes, *, now: datetime) -> Report:
    if len(data) > MAX_REPORT_BYTES:
        raise ReportRefused(f"the report is larger than {MAX_REPORT_BYTES // 2**20} MiB", 413)
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReportRefused(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ReportRefused("not a TLS report: the JSON is not an object")
    return validate(document, now=now)


def validate(doc: Mapping[str, Any], *, now: datetime) -> Report:
    organization = _text(doc, "organization-name", "")
    report_id = _text(doc, "report-id", "")
    if len(report_id) > 500:
        raise ReportRefused("report-id is longer than 500 characters")
    contact = _text(doc, "contact-info", "", required=False)
    span = _object(doc, "date-range", "")
    start = _datetime(span, "start-datetime", "date-range.")
    end = _datetime(span, "end-datetime", "date-range.")
    if start > end:
        raise ReportRefused("date-range: start-datetime is after end-datetime")
    if end > now + FUTURE_SLACK:
        raise ReportRefused(
            f"date-range ends in the future ({end:%Y-%m-%d %H:%M} UTC, now {now:%Y-%m-%d %H:%M})"
        )
    policies = doc.get("policies")
    if not isinstance(policies, list) or not policies:
        raise ReportRefused("policies is missing or not a non-empty list")
    results = tuple(_policy(entry, f"policies[{i}].") for i, entry in enumerate(policies))
    return Report(report_id, organization, contact or None, start, end, results, dict(doc))


def _policy(entry: Any, at: str) -> PolicyResult:
    if not isinstance(entry, dict):
        raise ReportRefused(f"{at[:-1]} is not an object")
    policy = _object(entry, "policy", at)
    kind = _text(policy, "policy-type", f"{at}policy.")
    if kind not in POLICY_TYPES:
        raise ReportRefused(f"{at}policy.policy-type {kind!r} is not tlsa, sts or no-policy-found")
    domain = _text(policy, "policy-domain", f"{at}policy.").rstrip(".").lower()
    _strings(policy, "policy-string", f"{at}policy.")
    mx_hosts = _strings(policy, "mx-host", f"{at}policy.")
    summary = _object(entry, "summary", at)
    if not {"total-successful-session-count", "total-failure-session-count"} & summary.keys():
        raise ReportRefused(f"{at}summary has neither session count")
    ok = _count(summary, "total-successful-session-count", f"{at}summary.", required=False)
    failed = _count(summary, "total-failure-session-count", f"{at}summary.", required=False)
    details = entry.get("failure-details", [])
    if not isinstance(details, list):
        raise ReportRefused(f"{at}failure-details is not a list")
    failures = tuple(_failure(d, f"{at}failure-details[{j}].") for j, d in enumerate(details))
    return PolicyResult(kind, domain, mx_hosts, ok, failed, failures)


def _failure(entry: Any, at: str) -> Failure:
    if not isinstance(entry, dict):
        raise ReportRefused(f"{at[:-1]} is not an object")
    result_type = _text(entry, "result-type", at)
    sessions = _count(entry, "failed-session-count", at)
    for name in ("receiving-mx-helo", "additional-information", "failure-reason-code"):
        _text(entry, name, at, required=False)
    mx = _text(entry, "receiving-mx-hostname", at, required=False).rstrip(".").lower()
    return Failure(
        result_type=result_type,
        sessions=sessions,
        sending_ip=_ip(entry, "sending-mta-ip", at),
        mx_host=mx or None,
        receiving_ip=_ip(entry, "receiving-ip", at),
    )


def _object(doc: Mapping[str, Any], name: str, at: str) -> Mapping[str, Any]:
    value = doc.get(name)
    if not isinstance(value, dict):
        raise ReportRefused(f"{at}{name} is missing or not an object")
    return value


def _text(doc: Mapping[str, Any], name: str, at: str, *, required: bool = True) -> str:
    value = doc.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ReportRefused(f"{at}{name} is missing or not a string")
    return value.strip()


def _strings(doc: Mapping[str, Any], name: str, at: str) -> tuple[str, ...]:
    value = doc.get(name)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ReportRefused(f"{at}{name} is not a list of strings")
    return tuple(v.strip() for v in value)


def _count(doc: Mapping[str, Any], name: str, at: str, *, required: bool = True) -> int:
    value = doc.get(name)
    if value is None and not required:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ReportRefused(f"{at}{name} is missing or not a whole number ≥ 0")
    return value


def _ip(doc: Mapping[str, Any], name: str, at: str) -> str | None:
    value = _text(doc, name, at, required=False)
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ReportRefused(f"{at}{name} {value[:60]!r} is not an IP address") from None


def _datetime(doc: Mapping[str, Any], name: str, at: str) -> datetime:
    text = _text(doc, name, at)
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ReportRefused(f"{at}{name} {text[:40]!r} is not an RFC 3339 date-time") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
