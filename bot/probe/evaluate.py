"""The verdict table of SPEC.md, as pure functions from probe facts to verdicts.

:class:`ProbeFacts` is what one host probe learnt (filled in by ``bot.probe.host``);
:func:`evaluate` turns it into ``(Verdict, reasons)``. Rows, first match wins:

=====================================================  ===============  =========================
facts                                                  verdict          first reason
=====================================================  ===============  =========================
EHLO did not advertise STARTTLS                        unsupported      starttls-not-supported
STARTTLS answered 5xx                                  unsupported      starttls-refused
modern handshake failed, legacy one worked             unsupported      tls-version-too-old
modern handshake cut (connection closed or reset)      unreachable      connect-failed
modern handshake failed (an alert: the server said no) unsupported      handshake-failed
no TLS session, the probe stopped (guard refusal,      unreachable      the stop reason (connect-
refused/timed-out connection, 4xx/5xx greeting or                       refused, timeout, smtp-
reply, garbage, deadline)                                               greeting-error, …)
STARTTLS answered 4xx                                  unreachable      starttls-refused
no TLS session for another reason                      unreachable      smtp-protocol-error
negotiated below TLS 1.2                               unsupported      tls-version-too-old
no AES-256 suite negotiable                            unsupported      no-aes256-suite
any certificate problem                                relaxed          every problem, in order
otherwise                                              strict           (none)
=====================================================  ===============  =========================

What a connection proved stands: once a TLS session was established, a later stop (a
deadline, a protocol error after TLS) changes nothing, and a follow-up connection that
could not be made (refused, rate-limited, out of time) leaves its question open as a
``check-incomplete`` warning in ``ProbeFacts.unchecked``, never a worse verdict. An
AES-256 question left open counts as answered by the first handshake's facts.
Certificate problems are appended to an ``unsupported`` verdict for information.

:func:`judge_hosts` is the rule over a host's addresses: a host's verdict is the worst
over its addresses that were fully tested; addresses not tested while another was are
not counted (a warning, unless they were never probed because of their address family);
a host with no tested address is ``unreachable``, every address counted. A target's
verdict is the worst over its hosts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.probe.model import (
    FAMILY_CODES,
    CertificateInfo,
    Code,
    DaneResult,
    DaneStatus,
    Dnssec,
    HostResult,
    Reason,
    Verdict,
)
from bot.probe.suites import no_aes256_sentence
from bot.probe.tls import TLS12_OR_NEWER


@dataclass(frozen=True, slots=True)
class ProbeFacts:
    """What one host probe learnt; ``None`` means "not learnt"."""

    stopped: Reason | None = None  # why the deciding conversation ended before its end
    reached: bool = False  # an SMTP greeting was read
    starttls_offered: bool | None = None
    starttls_reply: int | None = None  # the code STARTTLS was answered with
    starttls_text: str = ""
    handshake_error: str | None = None  # the TLS >= 1.2 handshake failed: how
    handshake_interrupted: bool = False  # ... because the connection was closed or reset
    legacy_version: str | None = None  # what the detection-only TLS 1.0/1.1 context got
    tls_version: str | None = None
    cipher: str | None = None
    aes256: bool | None = None
    aes256_refused: tuple[str, ...] = ()  # the AES-256-only offers the server refused
    certificate: CertificateInfo | None = None
    certificate_problems: tuple[Reason, ...] = ()
    unchecked: tuple[Reason, ...] = ()  # follow-up checks that could not be made
    chain: tuple[bytes, ...] = ()  # DER, as sent in the deciding handshake (for DANE)

    @property
    def conclusive(self) -> bool:
        """The TLS facts a verdict needs were all learnt."""
        return self.tls_version is not None and self.aes256 is not None


def evaluate(facts: ProbeFacts) -> tuple[Verdict, tuple[Reason, ...]]:
    verdict, reasons = _decide(facts)
    extra: list[Reason] = []
    if verdict is Verdict.UNSUPPORTED:
        extra += facts.certificate_problems
    return verdict, reasons + tuple(r for r in extra if r not in reasons)


def _decide(f: ProbeFacts) -> tuple[Verdict, tuple[Reason, ...]]:
    if f.starttls_offered is False:
        return Verdict.UNSUPPORTED, (
            Reason(Code.STARTTLS_NOT_SUPPORTED, "the server does not offer STARTTLS"),
        )
    if f.starttls_reply is not None and f.starttls_reply >= 500:
        return Verdict.UNSUPPORTED, (
            Reason(
                Code.STARTTLS_REFUSED,
                f"the server refused STARTTLS: {f.starttls_reply} {f.starttls_text}".rstrip(),
            ),
        )
    if f.handshake_error is not None and f.legacy_version is not None:
        return Verdict.UNSUPPORTED, (
            Reason(
                Code.TLS_VERSION_TOO_OLD,
                f"the server speaks only {_version(f.legacy_version)}; "
                "TLS 1.2 or newer is required",
            ),
        )
    if f.tls_version is None:
        return _no_session(f)
    if f.tls_version not in TLS12_OR_NEWER:
        return Verdict.UNSUPPORTED, (
            Reason(
                Code.TLS_VERSION_TOO_OLD,
                f"the server negotiated {_version(f.tls_version)}; TLS 1.2 or newer is required",
            ),
        )
    if f.aes256 is False:
        return Verdict.UNSUPPORTED, (
            Reason(
                Code.NO_AES256_SUITE,
                no_aes256_sentence(f.tls_version, f.cipher, f.aes256_refused),
            ),
        )
    if f.certificate is None and not f.certificate_problems:
        return Verdict.RELAXED, (
            Reason(Code.VALIDATION_FAILURE, "the server presented no certificate"),
        )
    if f.certificate_problems:
        return Verdict.RELAXED, f.certificate_problems
    return Verdict.STRICT, ()


def _no_session(f: ProbeFacts) -> tuple[Verdict, tuple[Reason, ...]]:
    """No TLS session was established: why."""
    if f.handshake_error is not None and f.handshake_interrupted:
        return Verdict.UNREACHABLE, (
            Reason(
                Code.CONNECT_FAILED,
                f"the connection was closed during the TLS handshake ({f.handshake_error}); "
                "whether TLS works could not be told",
            ),
        )
    if f.handshake_error is not None:
        return Verdict.UNSUPPORTED, (
            Reason(Code.HANDSHAKE_FAILED, f"the TLS handshake failed: {f.handshake_error}"),
        )
    if f.stopped is not None:
        return Verdict.UNREACHABLE, (f.stopped,)
    if f.starttls_reply is not None and 400 <= f.starttls_reply < 500:
        return Verdict.UNREACHABLE, (
            Reason(
                Code.STARTTLS_REFUSED,
                f"STARTTLS was refused for now: {f.starttls_reply} {f.starttls_text}".rstrip(),
            ),
        )
    return Verdict.UNREACHABLE, (
        Reason(Code.SMTP_PROTOCOL_ERROR, "the probe ended before TLS could be tested"),
    )


def with_dane(host: HostResult, mx: Dnssec | None, domain: str) -> HostResult:
    """One address's result as a domain sees it, DANE applied (RFC 7672).

    DANE applies only when the domain's MX answer is DNSSEC-secure (§2.2.1); otherwise
    the address's DANE result becomes ``not-signed`` and changes nothing. When it
    applies, a matching TLSA record authenticates the certificate: a host that is
    ``relaxed`` only for its certificate is ``strict`` (*Strict - DANE verified*), its
    WebPKI complaints kept as warnings. A DANE problem (``tlsa-invalid``,
    ``dnssec-invalid``, ``dane-required``, …) explains a relaxed or unsupported verdict
    among its reasons, and is a warning beside a strict one (senders that use DANE will
    not deliver there, whatever the WebPKI says).
    """
    dane = host.dane
    if dane is None or dane.status in (DaneStatus.NOT_SIGNED, DaneStatus.NO_TLSA):
        return host
    if mx is not Dnssec.SECURE:
        unsigned = DaneResult(
            DaneStatus.NOT_SIGNED,
            f"the MX records of {domain} are not DNSSEC-signed: DANE does not apply to "
            "them (RFC 7672 §2.2.1)",
            dane.records,
            dnssec=dane.dnssec,
        )
        return replace(host, dane=unsigned)
    if dane.status is DaneStatus.VALID:
        if host.verdict is not Verdict.RELAXED:
            return host
        kept = tuple(
            Reason(
                r.code,
                f"{r.message} (DANE authenticates the certificate instead; senders that "
                "check only WebPKI, as MTA-STS does, would refuse it)",
            )
            for r in host.reasons
        )
        return replace(host, verdict=Verdict.STRICT, reasons=(), warnings=host.warnings + kept)
    reason = dane.reason()
    if reason is None:
        return host
    if host.verdict in (Verdict.RELAXED, Verdict.UNSUPPORTED):
        return replace(host, reasons=(*host.reasons, reason))
    return replace(host, warnings=(*host.warnings, reason))


def judge_hosts(
    addresses: Sequence[HostResult],
) -> tuple[Verdict, tuple[HostResult, ...], tuple[Reason, ...]]:
    """The verdict over hosts given as one result per address (grouped by host name, in
    order), the addresses with ``counted`` set, and the warnings of addresses left out."""
    verdicts: list[Verdict] = []
    out: list[HostResult] = []
    warnings: list[Reason] = []
    for name in dict.fromkeys(a.host for a in addresses):
        group = [a for a in addresses if a.host == name]
        tested = [a for a in group if a.tested]
        if not tested:
            verdicts.append(Verdict.UNREACHABLE)
            out += [replace(a, counted=True) for a in group]
            continue
        verdicts.append(Verdict.worst([a.verdict for a in tested]))
        shown = ", ".join(_where(a) for a in tested)
        for a in group:
            out.append(replace(a, counted=a.tested))
            if a.tested or (a.reasons and a.reasons[0].code in FAMILY_CODES):
                continue
            why = a.reasons[0].message if a.reasons else "not tested"
            warnings.append(
                Reason(
                    Code.ADDRESS_NOT_TESTED,
                    f"{name} at {_where(a)} could not be tested ({why}); "
                    f"its verdict comes from {shown}",
                )
            )
    return Verdict.worst(verdicts), tuple(out), tuple(warnings)


def _where(result: HostResult) -> str:
    address = result.address or "no address"
    return f"[{address}]" if ":" in address else address


def _version(name: str) -> str:
    """OpenSSL's ``TLSv1`` / ``TLSv1.1`` as people write them."""
    return {"TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1", "SSLv3": "SSL 3.0"}.get(
        name, name.replace("TLSv", "TLS ")
    )
