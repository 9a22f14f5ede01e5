"""What a probe found, as frozen values.

A probe of one MX host or route yields a :class:`HostResult` with exactly one
:class:`Verdict` and the :class:`Reason` list behind it; a domain (or route, or
email address) yields a :class:`TargetResult` whose verdict is the worst over its
hosts. "Could we probe" and "what we found" are kept apart: ``HostResult.reached``
says whether a TLS conversation happened at all, ``verdict`` says what it showed.

A host's verdict comes from its addresses that were fully tested
(:func:`bot.probe.evaluate.judge_hosts`): an address of a family this host cannot reach
is listed with its reason and not probed, an address that could not be tested while
another of the same host was is a warning, and ``HostResult.counted`` says whether an
address entered its host's verdict.

Reason codes are stable; where one fits they are the TLS-RPT result types of
RFC 8460 §4.3, otherwise codes of our own (see :class:`Code`). Warnings are reasons too,
kept apart from the reasons of a verdict: they never change it.

What ``to_dict()`` writes (``--json``, and the evidence the policy store keeps) is read
back by ``TargetResult.from_dict()``, the one typed reader of stored results: it takes
every schema version written so far (:data:`SCHEMA`; a document without ``"schema"``
is version 1, as stored before the version was written), so no screen parses stored
JSON by its keys. :meth:`Verdict.parse` reads a stored verdict string.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import types
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from typing import Any, TypeVar

# the version of the document TargetResult.to_dict() writes; 2 added, with their
# defaults for older documents: "dnssec" (target and each host), each host's "dane", the
# target's "partner" (derived, never read back), and extras' mta_sts_id, mta_sts_max_age,
# mta_sts_warnings
SCHEMA = 2


class Verdict(enum.StrEnum):
    """The verdict of one host, or the worst verdict over a target's hosts."""

    STRICT = "strict"
    RELAXED = "relaxed"
    UNREACHABLE = "unreachable"
    UNSUPPORTED = "unsupported"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def ok(self) -> bool:
        """Strict or relaxed: TLS that a policy can enforce."""
        return self in (Verdict.STRICT, Verdict.RELAXED)

    @property
    def rank(self) -> int:
        """0 is best; the domain verdict is the host verdict of highest rank."""
        return _ORDER.index(self)

    @classmethod
    def parse(cls, value: object) -> Verdict | None:
        """A stored verdict (``"strict"``…) as a member; None for none or a value we do not know."""
        try:
            return cls(value) if isinstance(value, str) and value else None
        except ValueError:
            return None

    @classmethod
    def label_of(cls, value: object) -> str:
        """The label of a stored verdict string; "Not validated" for none."""
        verdict = cls.parse(value)
        return verdict.label if verdict is not None else NOT_VALIDATED

    @classmethod
    def ok_value(cls, value: object) -> bool:
        """A stored verdict string that is strict or relaxed."""
        verdict = cls.parse(value)
        return verdict is not None and verdict.ok

    @classmethod
    def worst(cls, verdicts: list[Verdict] | tuple[Verdict, ...]) -> Verdict:
        """strict > relaxed > unreachable > unsupported; empty means unreachable."""
        if not verdicts:
            return cls.UNREACHABLE
        return max(verdicts, key=lambda v: v.rank)


NOT_VALIDATED = "Not validated"
_ORDER = (Verdict.STRICT, Verdict.RELAXED, Verdict.UNREACHABLE, Verdict.UNSUPPORTED)
DANE_LABEL = "Strict - DANE verified"  # strict because a DNSSEC-validated TLSA record matched
_LABELS = {
    Verdict.STRICT: "Strict - Trusted Enforced",
    Verdict.RELAXED: "Relaxed Encryption Mode",
    Verdict.UNREACHABLE: "Could not test",
    Verdict.UNSUPPORTED: "TLS Not Supported",
}


class Code(enum.StrEnum):
    """Stable reason codes. RFC 8460 §4.3 result types first, then our own."""

    # RFC 8460 §4.3
    STARTTLS_NOT_SUPPORTED = "starttls-not-supported"
    CERTIFICATE_HOST_MISMATCH = "certificate-host-mismatch"
    CERTIFICATE_EXPIRED = "certificate-expired"
    CERTIFICATE_NOT_TRUSTED = "certificate-not-trusted"
    VALIDATION_FAILURE = "validation-failure"
    TLSA_INVALID = "tlsa-invalid"
    DNSSEC_INVALID = "dnssec-invalid"
    DANE_REQUIRED = "dane-required"
    STS_POLICY_FETCH_ERROR = "sts-policy-fetch-error"
    STS_POLICY_INVALID = "sts-policy-invalid"
    STS_WEBPKI_INVALID = "sts-webpki-invalid"
    # our own: TLS
    TLS_VERSION_TOO_OLD = "tls-version-too-old"
    NO_AES256_SUITE = "no-aes256-suite"
    HANDSHAKE_FAILED = "handshake-failed"
    STARTTLS_REFUSED = "starttls-refused"
    SELF_SIGNED = "self-signed"
    INCOMPLETE_CHAIN = "incomplete-chain"
    CERTIFICATE_NOT_YET_VALID = "certificate-not-yet-valid"
    # our own: reaching the host
    CONNECT_REFUSED = "connect-refused"
    CONNECT_FAILED = "connect-failed"
    TIMEOUT = "timeout"
    SMTP_GREETING_ERROR = "smtp-greeting-error"
    SMTP_REPLY_ERROR = "smtp-reply-error"
    SMTP_PROTOCOL_ERROR = "smtp-protocol-error"
    ADDRESS_NOT_PUBLIC = "address-not-public"
    NO_ROUTE_IPV4 = "no-route-ipv4"  # this host has no route to IPv4 addresses: not probed
    NO_ROUTE_IPV6 = "no-route-ipv6"  # this host has no route to IPv6 addresses: not probed
    FAMILY_NOT_PROBED = "family-not-probed"  # TLSBOT_PROBE_ADDRESS_FAMILIES leaves it out
    PROBE_ERROR = "probe-error"  # something nobody expected; the rest of the batch goes on
    # our own: DNS and input
    DNS_NXDOMAIN = "dns-nxdomain"
    DNS_SERVFAIL = "dns-servfail"
    DNS_TIMEOUT = "dns-timeout"
    DNS_ERROR = "dns-error"
    NO_ADDRESS = "no-address"
    NULL_MX = "null-mx"
    MX_IP_LITERAL = "mx-ip-literal"  # an MX target that is an IP address: MTAs ignore it
    INVALID_DOMAIN = "invalid-domain"
    INVALID_ADDRESS = "invalid-address"
    ADDRESS_DOMAIN_MISMATCH = "address-domain-mismatch"
    # our own: informational and warnings (never change the verdict)
    RECIPIENT_REJECTED = "recipient-rejected"
    RECIPIENT_NOT_CHECKED = "recipient-not-checked"
    ADDRESS_NOT_TESTED = "address-not-tested"  # while another address of the host was
    CHECK_INCOMPLETE = "check-incomplete"  # a follow-up connection could not check something
    # a policy that strict senders ignore and lenient ones apply (bot.probe.sts_parse)
    STS_POLICY_NONSTANDARD = "sts-policy-nonstandard"


# Target-level facts that are not a failure to test: their own label, not "Could not test".
TARGET_LABELS = {
    Code.NULL_MX: "Accepts no mail (null MX)",
    Code.MX_IP_LITERAL: "MX target is an IP address",
}
# Codes of addresses listed but never probed, because of this host's address families.
FAMILY_CODES = frozenset({Code.NO_ROUTE_IPV4, Code.NO_ROUTE_IPV6, Code.FAMILY_NOT_PROBED})


class Dnssec(enum.StrEnum):
    """The DNSSEC status of one answer, as the validating resolver reported it."""

    SECURE = "secure"  # the AD bit: signed, and the signatures validate
    INSECURE = "insecure"  # not signed (or outside any trust anchor)
    BOGUS = "bogus"  # signed, and validation failed: never trusted (dnssec-invalid)

    @classmethod
    def combine(cls, statuses: list[Dnssec | None]) -> Dnssec | None:
        """Bogus if any is, secure if all are, otherwise insecure; ``None`` when unchecked."""
        if cls.BOGUS in statuses:
            return cls.BOGUS
        if all(s is None for s in statuses):
            return None
        return cls.SECURE if all(s is cls.SECURE for s in statuses) else cls.INSECURE


class Family(enum.StrEnum):
    IPV4 = "ipv4"
    IPV6 = "ipv6"

    @classmethod
    def of(cls, address: str) -> Family:
        return cls.IPV6 if ipaddress.ip_address(address).version == 6 else cls.IPV4


class Purpose(enum.StrEnum):
    """Why a connection was made: the one that decides, or a follow-up check."""

    FIRST = "first"
    AES256 = "aes256"  # is an AES-256 suite negotiable? (the first handshake chose another)
    LEGACY = "legacy"  # does the server speak only TLS 1.0/1.1? (the first handshake failed)


class Phase(enum.StrEnum):
    """Where a connection spent its time: each phase ends when its reply arrived."""

    CONNECT = "connect"
    BANNER = "banner"
    EHLO = "ehlo"
    STARTTLS = "starttls"
    HANDSHAKE = "handshake"
    TLS_EHLO = "tls_ehlo"
    MAIL = "mail"
    RCPT = "rcpt"
    QUIT = "quit"


@dataclass(frozen=True, slots=True)
class Reason:
    """One stable code and one sentence for a person."""

    code: Code
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code.value, "message": self.message}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reason:
        """A stored reason; a code this version does not know reads as ``probe-error``."""
        try:
            code = Code(str(data.get("code")))
        except ValueError:
            code = Code.PROBE_ERROR
        return cls(code, str(data.get("message") or ""))


class DaneStatus(enum.StrEnum):
    """What DANE (RFC 7672) says of one probed address (decided by :func:`bot.probe.dane.check`)."""

    VALID = "dane-valid"
    TLSA_INVALID = "tlsa-invalid"
    REQUIRED = "dane-required"
    DNSSEC_INVALID = "dnssec-invalid"
    LOOKUP_FAILED = "tlsa-lookup-failed"
    UNUSABLE = "tlsa-unusable"
    NOT_SIGNED = "not-signed"
    NO_TLSA = "no-tlsa"
    NOT_TESTED = "not-tested"

    @property
    def problem(self) -> bool:
        """A status DANE senders act on by not delivering (or by delivering unauthenticated)."""
        return self in _PROBLEMS


_PROBLEMS = frozenset(
    {
        DaneStatus.TLSA_INVALID,
        DaneStatus.REQUIRED,
        DaneStatus.DNSSEC_INVALID,
        DaneStatus.LOOKUP_FAILED,
        DaneStatus.UNUSABLE,
    }
)


@dataclass(frozen=True, slots=True)
class DaneResult:
    """The DANE status of one probed address, in one sentence for a person."""

    status: DaneStatus
    message: str
    records: tuple[str, ...] = ()  # the TLSA records as published (presentation format)
    matched: str | None = None  # "3 1 1" of the record that matched
    dnssec: Dnssec | None = None  # of the TLSA answer

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "message": self.message,
            "records": list(self.records),
            "matched": self.matched,
            "dnssec": self.dnssec.value if self.dnssec else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DaneResult:
        dnssec = data.get("dnssec")
        return cls(
            status=DaneStatus(data["status"]),
            message=str(data["message"]),
            records=tuple(data.get("records") or ()),
            matched=data.get("matched"),
            dnssec=Dnssec(dnssec) if dnssec else None,
        )

    def reason(self) -> Reason | None:
        """A problem as a reason (its code is the RFC 8460 result type), or ``None``."""
        codes = {
            DaneStatus.TLSA_INVALID: Code.TLSA_INVALID,
            DaneStatus.REQUIRED: Code.DANE_REQUIRED,
            DaneStatus.DNSSEC_INVALID: Code.DNSSEC_INVALID,
            DaneStatus.LOOKUP_FAILED: Code.TLSA_INVALID,
            DaneStatus.UNUSABLE: Code.TLSA_INVALID,
        }
        code = codes.get(self.status)
        return Reason(code, self.message) if code is not None else None


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """Facts of the leaf certificate the server presented."""

    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    days_to_expiry: int
    sha256: str
    chain_length: int
    notes: tuple[str, ...] = ()  # e.g. a stale extra certificate the valid path does not use


@dataclass(frozen=True, slots=True)
class Attempt:
    """One TCP connection of a host probe: why, how it ended, where the time went."""

    purpose: Purpose
    outcome: str  # "ok", or the code of the reason that ended it
    phases_ms: tuple[tuple[Phase, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose.value,
            "outcome": self.outcome,
            "phases_ms": {phase.value: ms for phase, ms in self.phases_ms},
        }


@dataclass(frozen=True, slots=True)
class RecipientCheck:
    """The answer to one ``RCPT TO`` asked on the shared session of a host."""

    address: str
    accepted: bool | None  # True 2xx, False 5xx, None 4xx
    reply: str


@dataclass(frozen=True, slots=True)
class HostResult:
    """The probe of one address of one MX host (or route).

    ``reasons`` explain ``verdict``; ``warnings`` are checks that could not be made and
    never change it. ``counted`` is False for an address that did not enter its host's
    verdict (not probed for its family, or not tested while another address was).
    """

    host: str
    address: str | None
    port: int
    verdict: Verdict
    reasons: tuple[Reason, ...] = ()
    reached: bool = False  # an SMTP greeting was read
    starttls_offered: bool | None = None
    tls_version: str | None = None  # e.g. "TLSv1.3"
    cipher: str | None = None  # e.g. "TLS_AES_256_GCM_SHA384"
    aes256: bool | None = None  # an AES-256 suite is negotiable at TLS >= 1.2
    offered_versions: tuple[str, ...] = ()  # versions seen when detecting old TLS
    certificate: CertificateInfo | None = None
    recipient_accepted: bool | None = None  # RCPT TO inside TLS, when asked
    connections: int = 0
    elapsed_ms: int = 0
    family: Family | None = None
    counted: bool = True
    warnings: tuple[Reason, ...] = ()
    attempts: tuple[Attempt, ...] = ()
    recipients: tuple[RecipientCheck, ...] = ()  # every RCPT TO asked on the shared session
    dane: DaneResult | None = None  # RFC 7672, with TLSBOT_DNSSEC=resolver (None: not checked)
    dnssec: Dnssec | None = None  # of the host's address records

    @property
    def dane_verified(self) -> bool:
        return self.dane is not None and self.dane.status is DaneStatus.VALID

    @property
    def label(self) -> str:
        """The verdict's label; *Strict - DANE verified* when a TLSA record authenticated it."""
        if self.verdict is Verdict.STRICT and self.dane_verified:
            return DANE_LABEL
        return self.verdict.label

    @property
    def tested(self) -> bool:
        """Fully tested: the verdict says what the server does, not that we could not tell."""
        return self.verdict is not Verdict.UNREACHABLE

    def for_recipient(self, email: str | None, *, late: bool = False) -> HostResult:
        """This result as one target sees it: whether *its* recipient was accepted."""
        if email is None:
            return replace(self, recipient_accepted=None)
        check = next((c for c in self.recipients if c.address == email), None)
        extra: tuple[Reason, ...] = ()
        if check is not None and check.accepted is False:
            extra = (
                Reason(Code.RECIPIENT_REJECTED, f"RCPT TO:<{email}> was refused: {check.reply}"),
            )
        elif check is None and late and self.tls_version is not None:
            extra = (
                Reason(
                    Code.RECIPIENT_NOT_CHECKED,
                    f"RCPT TO:<{email}> was not asked: the session with {self.host} had "
                    "ended before this address was given",
                ),
            )
        return replace(
            self,
            recipient_accepted=check.accepted if check is not None else None,
            reasons=self.reasons + tuple(r for r in extra if r not in self.reasons),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict.value
        data["label"] = self.label
        data["dane"] = self.dane.to_dict() if self.dane is not None else None
        data["dnssec"] = self.dnssec.value if self.dnssec is not None else None
        data["reasons"] = [r.to_dict() for r in self.reasons]
        data["reason"] = self.reasons[0].message if self.reasons else None
        data["family"] = self.family.value if self.family else None
        data["warnings"] = [r.to_dict() for r in self.warnings]
        data["attempts"] = [a.to_dict() for a in self.attempts]
        data["recipients"] = [asdict(c) for c in self.recipients]
        if self.certificate is not None:
            cert = data["certificate"]
            cert["not_before"] = self.certificate.not_before.isoformat()
            cert["not_after"] = self.certificate.not_after.isoformat()
            cert["sans"] = list(self.certificate.sans)
            cert["notes"] = list(self.certificate.notes)
        data["offered_versions"] = list(self.offered_versions)
        return data


@dataclass(frozen=True, slots=True)
class DomainExtras:
    """Facts reported when present; they never change the verdict."""

    mta_sts_txt: str | None = None
    mta_sts_mode: str | None = None  # enforce / testing / none
    mta_sts_mx: tuple[str, ...] = ()
    mta_sts_error: Reason | None = None
    tlsa: tuple[str, ...] = ()  # "_25._tcp.mx.example. 3 1 1 ab12…" per record
    tls_rpt: str | None = None
    errors: tuple[Reason, ...] = ()  # a lookup that failed unexpectedly (probe-error)
    mta_sts_id: str | None = None  # the TXT record's id=, when the record is valid
    mta_sts_max_age: int | None = None  # seconds, from the policy
    mta_sts_warnings: tuple[Reason, ...] = ()  # sts-policy-nonstandard: strict senders ignore it

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mta_sts_mx"] = list(self.mta_sts_mx)
        data["tlsa"] = list(self.tlsa)
        data["mta_sts_error"] = self.mta_sts_error.to_dict() if self.mta_sts_error else None
        data["errors"] = [r.to_dict() for r in self.errors]
        data["mta_sts_warnings"] = [r.to_dict() for r in self.mta_sts_warnings]
        return data


class TargetKind(enum.StrEnum):
    DOMAIN = "domain"
    EMAIL = "email"
    ROUTE = "route"


@dataclass(frozen=True, slots=True)
class TargetResult:
    """The verdict for one target: a domain, an email address or an inbound route.

    ``reasons`` holds target-level problems (DNS errors, Null MX, bad input);
    each host carries its own. ``verdict`` is the worst host verdict, or
    ``unreachable`` / ``unsupported`` decided by a target-level reason. ``warnings``
    never change the verdict: addresses not tested while another address of the same
    host was, MX targets ignored because they are IP addresses.
    """

    target: str
    kind: TargetKind
    domain: str
    verdict: Verdict
    hosts: tuple[HostResult, ...] = ()
    reasons: tuple[Reason, ...] = ()
    mx: tuple[str, ...] = ()  # MX host names by preference (or the domain, implicit MX)
    implicit_mx: bool = False
    extras: DomainExtras = field(default_factory=DomainExtras)
    elapsed_ms: int = 0
    warnings: tuple[Reason, ...] = ()
    dnssec: Dnssec | None = None  # of the MX answer (None: TLSBOT_DNSSEC=off, or no answer)

    @property
    def label(self) -> str:
        """The verdict's label, or a target-level fact's own (Null MX: "Accepts no mail");
        *Strict - DANE verified* when every counted address of every host is."""
        if self.reasons and not self.hosts and self.reasons[0].code in TARGET_LABELS:
            return TARGET_LABELS[self.reasons[0].code]
        counted = [h for h in self.hosts if h.counted]
        if self.verdict is Verdict.STRICT and counted and all(h.dane_verified for h in counted):
            return DANE_LABEL
        return self.verdict.label

    @property
    def dane_verified(self) -> bool:
        """Every MX host DNSSEC-signed with a usable TLSA record that matched (``dane-only``)."""
        counted = [h for h in self.hosts if h.counted]
        return (
            self.dnssec is Dnssec.SECURE and bool(counted) and all(h.dane_verified for h in counted)
        )

    @property
    def every_warning(self) -> tuple[Reason, ...]:
        """The target's warnings, then each address's, as a person should read them."""
        out = list(self.warnings)
        for host in self.hosts:
            out += [w for w in host.warnings if w not in out]
        return tuple(out)

    @property
    def validated_hosts(self) -> tuple[str, ...]:
        """MX host names whose counted addresses all validated as strict or relaxed."""
        names = []
        for name in dict.fromkeys(h.host for h in self.hosts):
            counted = [h for h in self.hosts if h.host == name and h.counted]
            if counted and all(h.verdict.ok for h in counted):
                names.append(name)
        return tuple(names)

    def reasons_to_show(self) -> tuple[str, ...]:
        """Why the verdict is what it is, in the order a person should read it.

        The target's own reasons first (DNS, Null MX, bad input), then each address's,
        worst verdict first, as ``"mx.example: …"``. The first line is the one a
        collapsed row shows; every screen takes its reasons from here.
        """
        lines = [r.message for r in self.reasons]
        for host in sorted(self.hosts, key=lambda h: -h.verdict.rank):
            for reason in host.reasons:
                line = f"{host.host}: {reason.message}"
                if line not in lines:
                    lines.append(line)
        return tuple(lines)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TargetResult:
        """The result ``to_dict()`` wrote, of any :data:`SCHEMA` version so far.

        Raises ``ValueError`` for a document that is not a stored result (no target or
        verdict). Keys this version does not know are ignored, keys it misses take the
        field's default, so an older document loads and a newer one loses only what
        this version cannot show.
        """
        version = data.get("schema", 1)
        if not isinstance(version, int) or version > SCHEMA:
            raise ValueError(f"a stored result of schema {version!r}; this tlsbot reads {SCHEMA}")
        if not isinstance(data.get("target"), str) or Verdict.parse(data.get("verdict")) is None:
            raise ValueError("not a stored probe result: no target or verdict")
        result = _read(cls, data, skip={"warnings"})
        extras = result.extras
        derived = {extras.mta_sts_error.code} if extras.mta_sts_error is not None else set()
        in_hosts = {w for h in result.hosts for w in h.warnings}
        own = []
        for item in data.get("warnings") or ():
            if not isinstance(item, Mapping) or item.get("host") is not None:
                continue
            reason = Reason.from_dict(item)
            known = item.get("code") == reason.code.value and reason.code not in derived
            if known and reason not in in_hosts:
                own.append(reason)
        return replace(result, warnings=tuple(own))

    def to_dict(self) -> dict[str, Any]:
        from bot.probe.findings import warnings  # the one source of these sentences
        from bot.probe.partner import PartnerTls  # what enforcement keeps with a policy

        return {
            "schema": SCHEMA,
            "target": self.target,
            "kind": self.kind.value,
            "domain": self.domain,
            "verdict": self.verdict.value,
            "label": self.label,
            "reasons": [r.to_dict() for r in self.reasons],
            "mx": list(self.mx),
            "implicit_mx": self.implicit_mx,
            "hosts": [h.to_dict() for h in self.hosts],
            "extras": self.extras.to_dict(),
            "warnings": [w.to_dict() for w in warnings(self)],
            "elapsed_ms": self.elapsed_ms,
            "dnssec": self.dnssec.value if self.dnssec is not None else None,
            "partner": PartnerTls.of(self).to_dict(),
        }


# ---- the typed reader behind TargetResult.from_dict

_T = TypeVar("_T")


def _read(
    cls: type[_T], data: Mapping[str, Any], skip: frozenset[str] | set[str] = frozenset()
) -> _T:
    """A frozen dataclass of this module from the dict its ``to_dict()`` wrote."""
    hints = _hints(typing.cast(Any, cls))
    values: dict[str, Any] = {}
    for spec in fields(cls):  # type: ignore[arg-type]
        if spec.name in skip or spec.name not in data or data[spec.name] is None:
            continue
        values[spec.name] = _value(hints[spec.name], data[spec.name])
    return cls(**values)


@functools.cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _value(hint: Any, raw: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        inner = [a for a in args if a is not type(None)]
        return None if raw is None else _value(inner[0], raw)
    if origin is tuple:
        if isinstance(raw, Mapping):  # Attempt.phases_ms is written as {phase: ms}
            raw = list(raw.items())
        item = args[0]
        if len(args) == 2 and args[1] is not Ellipsis:  # a pair
            return tuple(_value(a, v) for a, v in zip(args, raw, strict=True))
        return tuple(_value(item, v) for v in raw or ())
    if hint is Reason:
        return Reason.from_dict(raw)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(raw)
    if hint is datetime:
        return datetime.fromisoformat(str(raw))
    if isinstance(hint, type) and hasattr(hint, "__dataclass_fields__"):
        return _read(hint, raw)
    return raw
