"""What a probe found, as frozen values.

A probe of one MX host or route yields a :class:`HostResult` with exactly one
:class:`Verdict` and the :class:`Reason` list behind it; a domain (or route, or
email address) yields a :class:`TargetResult` whose verdict is the worst over its
hosts. "Could we probe" and "what we found" are kept apart: ``HostResult.reached``
says whether a TLS conversation happened at all, ``verdict`` says what it showed.

Reason codes are stable; where one fits they are the TLS-RPT result types of
RFC 8460 §4.3, otherwise codes of our own (see :class:`Code`).
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


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
    def worst(cls, verdicts: list[Verdict] | tuple[Verdict, ...]) -> Verdict:
        """strict > relaxed > unreachable > unsupported; empty means unreachable."""
        if not verdicts:
            return cls.UNREACHABLE
        return max(verdicts, key=lambda v: v.rank)


_ORDER = (Verdict.STRICT, Verdict.RELAXED, Verdict.UNREACHABLE, Verdict.UNSUPPORTED)
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
    # our own: DNS and input
    DNS_NXDOMAIN = "dns-nxdomain"
    DNS_SERVFAIL = "dns-servfail"
    DNS_TIMEOUT = "dns-timeout"
    DNS_ERROR = "dns-error"
    NO_ADDRESS = "no-address"
    NULL_MX = "null-mx"
    INVALID_DOMAIN = "invalid-domain"
    INVALID_ADDRESS = "invalid-address"
    ADDRESS_DOMAIN_MISMATCH = "address-domain-mismatch"
    # our own: informational (never change the verdict)
    RECIPIENT_REJECTED = "recipient-rejected"


@dataclass(frozen=True, slots=True)
class Reason:
    """One stable code and one sentence for a person."""

    code: Code
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code.value, "message": self.message}


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
class HostResult:
    """The probe of one address of one MX host (or route)."""

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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict.value
        data["label"] = self.verdict.label
        data["reasons"] = [r.to_dict() for r in self.reasons]
        data["reason"] = self.reasons[0].message if self.reasons else None
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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mta_sts_mx"] = list(self.mta_sts_mx)
        data["tlsa"] = list(self.tlsa)
        data["mta_sts_error"] = self.mta_sts_error.to_dict() if self.mta_sts_error else None
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
    ``unreachable`` / ``unsupported`` decided by a target-level reason.
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

    @property
    def validated_hosts(self) -> tuple[str, ...]:
        """MX host names all of whose addresses validated as strict or relaxed."""
        names = []
        for name in dict.fromkeys(h.host for h in self.hosts):
            if all(h.verdict.ok for h in self.hosts if h.host == name):
                names.append(name)
        return tuple(names)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "kind": self.kind.value,
            "domain": self.domain,
            "verdict": self.verdict.value,
            "label": self.verdict.label,
            "reasons": [r.to_dict() for r in self.reasons],
            "mx": list(self.mx),
            "implicit_mx": self.implicit_mx,
            "hosts": [h.to_dict() for h in self.hosts],
            "extras": self.extras.to_dict(),
            "elapsed_ms": self.elapsed_ms,
        }
