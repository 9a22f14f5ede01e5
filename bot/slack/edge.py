"""What the HTTP edge checks before Bolt sees a request, and the mark it leaves.

Order, cheapest and least trusting first (docs/slack.md, "What the edge refuses"):

1. the body is what Slack sends: ``application/x-www-form-urlencoded`` (ASCII,
   well-formed %-escapes of UTF-8, a ``payload`` field that is a JSON object) or
   ``application/json`` (UTF-8, a JSON object); otherwise **400**;
2. ``X-Slack-Request-Timestamp`` is one value of ASCII digits within five minutes of
   the caller's clock, and ``X-Slack-Signature`` is ``v0=`` and 64 hex digits that
   :class:`slack_sdk.signature.SignatureVerifier` accepts; otherwise **401**.
   (The verifier itself calls ``int()`` on the timestamp, which takes ``٣``, ``1_0``
   or `` 12`` and raises on ``abc``: it only ever sees a timestamp checked here.)

Each refusal is a :class:`Refused` with a status, a short public text and one line
for the log. A request that passed is handled inside :func:`verified`, which marks
the current context: :func:`is_verified` is how the error path knows it may answer
anyone (:mod:`bot.slack.errors`). The mark is a context variable, so it reaches every
task Bolt and the listeners start for that request, and nothing else.

Slack's rules: https://docs.slack.dev/authentication/verifying-requests-from-slack/
"""

from __future__ import annotations

import contextvars
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from slack_sdk.signature import Clock as _SdkClock
from slack_sdk.signature import SignatureVerifier

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MAX_SKEW = 5 * 60  # seconds, Slack's own window
MAX_FIELDS = 100  # Slack's forms have about a dozen

_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII only; re's [0-9] is not \d
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class Refused(Exception):
    """The edge answers ``status`` with ``text``; ``reason`` is the log line."""

    def __init__(self, status: int, text: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.text, self.reason = status, text, reason


def malformed(reason: str) -> Refused:
    return Refused(400, "malformed request", reason)


def unverified(reason: str) -> Refused:
    return Refused(401, "invalid request", reason)


# ---- 1. the body


def read_body(raw: bytes, content_type: str) -> tuple[str, dict[str, Any]]:
    """The body as text Bolt can parse without raising, and what Bolt will make of it.

    Bolt parses a body as JSON when its type is ``application/json`` or it starts
    with ``{``, else as a form whose ``payload`` field (if any) is JSON
    (slack_bolt ``request/internals.py`` ``parse_body``); each of those parses is
    done here first, strictly, or the body is :class:`Refused` (400).
    """
    if not raw:
        raise malformed("empty body")
    if content_type == JSON:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise malformed("JSON body is not UTF-8") from None
        # stripped: Bolt takes a body for JSON by its first character whatever its type
        return text.strip(), _json_object(text, "JSON body")
    if content_type != FORM:
        raise malformed(f"content type {content_type or 'none'!r} is not one Slack sends")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise malformed("form body is not ASCII") from None
    if text.startswith("{"):
        raise malformed("form body is JSON")
    if _BAD_ESCAPE.search(text):
        raise malformed("form body has a bad %-escape")
    try:
        fields = dict(
            parse_qsl(
                text,
                keep_blank_values=True,
                strict_parsing=True,
                encoding="utf-8",
                errors="strict",
                max_num_fields=MAX_FIELDS,
            )
        )
    except UnicodeDecodeError:
        raise malformed("form body escapes bytes that are not UTF-8") from None
    except ValueError:
        raise malformed("form body is not name=value pairs") from None
    if "payload" not in text:
        return text, fields
    if "payload" not in fields:
        # Bolt takes any body containing the word for an interactive payload and, finding
        # no such field, reads it as {}: "/tls check payload.example" would go unanswered.
        # %70 is "p": the fields decode the same, and the word is gone from the text.
        return text.replace("payload", "%70ayload"), fields
    return text, _json_object(fields["payload"], "payload field")


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # bad JSON, digits past int's limit, deep nesting
        raise malformed(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise malformed(f"{what} is JSON but not an object")
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800"): no Slack text has one
        raise malformed(f"{what} holds a string that is not Unicode text") from None
    return value


# ---- 2. who sent it


def verify(secret: str, headers: Mapping[str, Any], raw: bytes, *, now: datetime) -> None:
    """Refuse (401) unless the timestamp is fresh and the signature is Slack's, over the
    bytes as received (which :func:`read_body` has found to be UTF-8)."""
    timestamp = _one(headers, "X-Slack-Request-Timestamp")
    if timestamp is None or not _TIMESTAMP.fullmatch(timestamp):
        raise unverified("X-Slack-Request-Timestamp is missing or not ASCII digits")
    skew = now.timestamp() - int(timestamp)
    if abs(skew) > MAX_SKEW:
        raise unverified(f"X-Slack-Request-Timestamp is {int(skew)} s off the clock")
    signature = _one(headers, "X-Slack-Signature")
    if signature is None or not _SIGNATURE.fullmatch(signature):
        raise unverified("X-Slack-Signature is missing or not v0=<64 hex digits>")
    verifier = SignatureVerifier(secret, clock=_At(now))
    if not verifier.is_valid(body=raw, timestamp=timestamp, signature=signature):
        raise unverified("X-Slack-Signature does not match the body")


def _one(headers: Mapping[str, Any], name: str) -> str | None:
    """The header's only value; a repeated header counts as missing."""
    getall = getattr(headers, "getall", None)
    values = list(getall(name, ())) if getall is not None else [headers.get(name)]
    values = [v for v in values if v is not None]
    return str(values[0]) if len(values) == 1 else None


class _At(_SdkClock):
    """slack_sdk's clock interface, fixed at the instant the edge took from its clock."""

    def __init__(self, now: datetime) -> None:
        self._now = now.timestamp()

    def now(self) -> float:
        return self._now


# ---- the mark

_VERIFIED: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tlsbot_verified_request", default=None
)


@contextmanager
def verified(how: str) -> Iterator[None]:
    """Handle a request that passed the edge (``how``: "signature", "socket mode")."""
    token = _VERIFIED.set(how)
    try:
        yield
    finally:
        _VERIFIED.reset(token)


def is_verified() -> bool:
    return _VERIFIED.get() is not None
