"""MTA-STS (RFC 8461) parsers: the ``_mta-sts`` TXT record (§3.1) and the policy file (§3.2).

Pure functions of text; nothing here raises on any input: every failure is a
:class:`~bot.probe.model.Reason` (``sts-policy-invalid``). They follow the RFC's ABNF,
as the strict implementations do (mox, and go-mtasts where it is strict):

TXT record::

    sts-text-record = sts-version 1*(sts-sep sts-field) [sts-sep]
    sts-sep         = *WSP ";" *WSP
    sts-id          = "id=" 1*32(ALPHA / DIGIT)
    sts-extension   = sts-ext-name "=" sts-ext-value
    sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
    sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)

Policy: ``key ":" *WSP value *WSP`` lines ended by LF or CRLF (never by U+2028,
U+0085 or a lone CR: :meth:`str.splitlines` would split on those), ``version:
STSv1``, ``mode``, ``max_age`` (1 to 10 ASCII digits, at most 31557600) and, for
``enforce`` and ``testing``, ``mx`` patterns ``["*."] Domain`` (RFC 5321 LDH labels,
A-labels only; a single label is a valid Domain). Extension fields must have a valid
name and a value of visible characters; of a repeated field other than ``mx`` the
first counts.

Where strict and lenient senders disagree -- an empty field (``;;``) in the TXT
record, blank or indented policy lines, a space before a policy line's ``:`` -- the
record or policy is taken (as the lenient ones do) with a ``sts-policy-nonstandard``
warning that names the senders that will ignore it (:data:`LENIENCY`). Who does what
was read from each implementation's parser and tests (the vectors are in
``tests/probe/data/mta_sts_vectors.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.probe.model import Code, Reason

MAX_AGE_LIMIT = 31_557_600  # one year, RFC 8461 §3.2
MODES = ("enforce", "testing", "none")

_WSP = " \t"
_STS_RECORD = re.compile(r"v=STSv1[ \t]*(?:;|\Z)")
_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_TXT_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+")
_POLICY_VALUE = re.compile(r"[^\x00-\x20\x7f](?:[^\x00-\x1f\x7f]*[^\x00-\x20\x7f])?")
_MAX_AGE = re.compile(r"[0-9]{1,10}")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True, slots=True)
class Leniency:
    """One construct the RFC's grammar refuses and some senders accept."""

    what: str
    ignored_by: str  # senders that treat the record or policy as invalid
    applied_by: str  # senders that accept it


LENIENCY = {
    "txt-empty-field": Leniency(
        "has an empty field (';;')",
        "mox",
        "postfix-mta-sts-resolver, go-mtasts (maddy), chasquid and Mimecast's library",
    ),
    "policy-blank-line": Leniency(
        "has a blank line",
        "mox and go-mtasts (maddy)",
        "postfix-mta-sts-resolver, chasquid, Stalwart and Mimecast's library",
    ),
    "policy-indented": Leniency(
        "has a line that starts with white space",
        "mox, go-mtasts (maddy) and postfix-mta-sts-resolver",
        "chasquid, Stalwart and Mimecast's library",
    ),
    "policy-space-before-colon": Leniency(
        "has white space before a ':'",
        "mox, go-mtasts (maddy) and postfix-mta-sts-resolver",
        "chasquid, Stalwart and Mimecast's library",
    ),
}


@dataclass(frozen=True, slots=True)
class StsTxt:
    """The ``_mta-sts`` TXT lookup read: no record, a valid one (with its ``id``), or why not."""

    record: str | None = None  # the one v=STSv1 record (None: the domain publishes none)
    id: str | None = None  # set when the record is valid
    error: Reason | None = None
    warnings: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class StsPolicy:
    mode: str  # enforce / testing / none
    mx: tuple[str, ...]  # patterns in lower case, "mx.example.com" or "*.example.com"
    max_age: int
    warnings: tuple[Reason, ...] = field(default=(), compare=False)

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


def parse_sts_txt(records: Sequence[str]) -> StsTxt:
    """The one ``v=STSv1`` record among ``records`` and whether it is valid (RFC 8461 §3.1).

    Records that do not start ``v=STSv1`` (then blanks and ``;``, or the end) are not
    MTA-STS records and are ignored; more than one is invalid: senders then act as if
    there were no policy.
    """
    sts = [r for r in records if _STS_RECORD.match(r)]
    if not sts:
        return StsTxt()
    if len(sts) > 1:
        return StsTxt(
            sts[0],
            error=_invalid(
                f"{len(sts)} MTA-STS TXT records are published; exactly one is allowed, "
                "so senders act as if there were no policy"
            ),
        )
    record = sts[0]
    fields = record[len("v=STSv1") :].split(";")[1:]
    if fields and not fields[-1].strip(_WSP):
        fields.pop()  # one trailing ";" is allowed
    warnings: list[Reason] = []
    ident: str | None = None
    for part in fields:
        text = part.strip(_WSP)
        if not text:
            if not warnings:
                warnings.append(_lenient("txt-empty-field", "MTA-STS TXT record"))
            continue
        name, sep, value = text.partition("=")
        if not sep:
            return StsTxt(record, error=_invalid(f"MTA-STS TXT field {_show(text)} has no '='"))
        if not _NAME.fullmatch(name):
            return StsTxt(
                record, error=_invalid(f"MTA-STS TXT field name {_show(name)} is not valid")
            )
        if name == "id":
            if not _ID.fullmatch(value):
                return StsTxt(
                    record,
                    error=_invalid(
                        f"MTA-STS TXT record {_show(record)} has id={_show(value)}; the id "
                        "must be 1 to 32 letters or digits"
                    ),
                )
            ident = ident or value  # a repeated id: the first counts
        elif not _TXT_VALUE.fullmatch(value):
            return StsTxt(
                record,
                error=_invalid(
                    f"MTA-STS TXT field {_show(name)} has the value {_show(value)}, which is "
                    "empty or holds a space, ';', '=' or a control character"
                ),
            )
    if ident is None:
        return StsTxt(
            record, error=_invalid(f"MTA-STS TXT record {_show(record)} has no id= field")
        )
    return StsTxt(record, ident, warnings=tuple(warnings))


def parse_policy(text: str) -> StsPolicy | Reason:
    """The policy file of RFC 8461 §3.2, or why it is invalid."""
    first: dict[str, str] = {}
    mx: list[str] = []
    seen: set[str] = set()
    warnings: list[Reason] = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the last line's terminator
    if not lines:
        return _invalid("the policy is empty")
    for number, raw in enumerate(lines, start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip(_WSP):
            _warn_once(warnings, "policy-blank-line")
            continue
        if line[0] in _WSP:
            _warn_once(warnings, "policy-indented")
            line = line.lstrip(_WSP)
        key, sep, value = line.partition(":")
        if not sep:
            return _invalid(f"line {number} of the policy is not 'key: value'")
        if key != key.rstrip(_WSP):
            _warn_once(warnings, "policy-space-before-colon")
            key = key.rstrip(_WSP)
        value = value.strip(_WSP)
        if not _NAME.fullmatch(key):
            return _invalid(f"line {number} of the policy has an invalid field name {_show(key)}")
        if not _POLICY_VALUE.fullmatch(value):
            return _invalid(
                f"line {number} of the policy ({key}) has an empty value or a control character"
            )
        if key == "mx":
            problem = mx_pattern_problem(value)
            if problem is not None:
                return _invalid(f"mx {_show(value)} in the policy {problem}")
            mx.append(value.lower())
        elif key not in seen:  # a repeated field other than mx: the first counts
            first[key] = value
        seen.add(key)
    return _policy(first, tuple(mx), tuple(warnings))


def _policy(
    fields: dict[str, str], mx: tuple[str, ...], warnings: tuple[Reason, ...]
) -> StsPolicy | Reason:
    version = fields.get("version")
    if version != "STSv1":
        return _invalid(f"policy version is {_show(version)}, not 'STSv1'")
    mode = fields.get("mode")
    if mode not in MODES:
        return _invalid(f"policy mode is {_show(mode)}, not one of {', '.join(MODES)}")
    age = fields.get("max_age")
    if age is None or not _MAX_AGE.fullmatch(age) or int(age) > MAX_AGE_LIMIT:
        return _invalid(
            f"policy max_age {_show(age)} is not a number of seconds (ASCII digits) "
            f"up to {MAX_AGE_LIMIT}"
        )
    if mode != "none" and not mx:
        return _invalid(f"policy in mode {mode!r} lists no mx")
    return StsPolicy(mode=mode, mx=tuple(dict.fromkeys(mx)), max_age=int(age), warnings=warnings)


def mx_pattern_problem(value: str) -> str | None:
    """Why ``value`` is not ``["*."] Domain`` with LDH labels, or ``None``."""
    name = value[2:] if value.startswith("*.") else value
    if not name:
        return "names no domain"
    if len(name) > 253:
        return "is longer than 253 characters"
    for label in name.lower().split("."):
        if not _LABEL.fullmatch(label):
            return (
                "is not a host name pattern (letters, digits and inner hyphens per label, "
                "A-labels only, '*.' only in front)"
            )
    return None


def _warn_once(warnings: list[Reason], key: str) -> None:
    reason = _lenient(key, "MTA-STS policy")
    if reason not in warnings:
        warnings.append(reason)


def _lenient(key: str, what: str) -> Reason:
    known = LENIENCY[key]
    return Reason(
        Code.STS_POLICY_NONSTANDARD,
        f"the {what} {known.what}, which RFC 8461's grammar does not allow: senders that "
        f"follow it ({known.ignored_by}) ignore the policy; lenient ones "
        f"({known.applied_by}) apply it",
    )


def _invalid(message: str) -> Reason:
    return Reason(Code.STS_POLICY_INVALID, message)


def _show(value: str | None) -> str:
    if value is None:
        return "missing"
    return repr(value if len(value) <= 60 else value[:57] + "...")
