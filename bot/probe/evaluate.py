"""The verdict table of SPEC.md, as one pure function from probe facts to a verdict.

:class:`ProbeFacts` is what one host probe learnt (filled in by ``bot.probe.host``);
:func:`evaluate` turns it into ``(Verdict, reasons)``. Rows, first match wins:

=====================================================  ===============  =========================
facts                                                  verdict          first reason
=====================================================  ===============  =========================
EHLO did not advertise STARTTLS                        unsupported      starttls-not-supported
STARTTLS answered 5xx                                  unsupported      starttls-refused
modern handshake failed, legacy one worked             unsupported      tls-version-too-old
the probe stopped before the TLS facts were known      unreachable      the stop reason (connect-
(guard refusal, refused/timed-out connection, 4xx/5xx                   refused, timeout, smtp-
greeting or reply, garbage, deadline)                                   greeting-error, …)
STARTTLS answered 4xx                                  unreachable      starttls-refused
handshake failed (and no legacy TLS either)            unsupported      handshake-failed
negotiated below TLS 1.2                               unsupported      tls-version-too-old
no AES-256 suite negotiable                            unsupported      no-aes256-suite
any certificate problem                                relaxed          every problem, in order
otherwise                                              strict           (none)
=====================================================  ===============  =========================

Certificate problems are appended to an ``unsupported`` verdict for information, and
a rejected RCPT adds ``recipient-rejected``; neither changes the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.probe.model import CertificateInfo, Code, Reason, Verdict
from bot.probe.suites import no_aes256_sentence
from bot.probe.tls import TLS12_OR_NEWER


@dataclass(frozen=True, slots=True)
class ProbeFacts:
    """What one host probe learnt; ``None`` means "not learnt"."""

    stopped: Reason | None = None  # why the conversation ended before its natural end
    reached: bool = False  # an SMTP greeting was read
    starttls_offered: bool | None = None
    starttls_reply: int | None = None  # the code STARTTLS was answered with
    starttls_text: str = ""
    handshake_error: str | None = None  # the TLS >= 1.2 handshake failed: how
    legacy_version: str | None = None  # what the detection-only TLS 1.0/1.1 context got
    tls_version: str | None = None
    cipher: str | None = None
    aes256: bool | None = None
    aes256_refused: tuple[str, ...] = ()  # the AES-256-only offers the server refused
    certificate: CertificateInfo | None = None
    certificate_problems: tuple[Reason, ...] = ()
    recipient: str | None = None
    recipient_accepted: bool | None = None
    recipient_reply: str = ""

    @property
    def conclusive(self) -> bool:
        """The TLS facts a verdict needs were all learnt."""
        return self.tls_version is not None and self.aes256 is not None


def evaluate(facts: ProbeFacts) -> tuple[Verdict, tuple[Reason, ...]]:
    verdict, reasons = _decide(facts)
    extra: list[Reason] = []
    if verdict is Verdict.UNSUPPORTED:
        extra += facts.certificate_problems
    if facts.recipient_accepted is False and facts.recipient:
        extra.append(
            Reason(
                Code.RECIPIENT_REJECTED,
                f"RCPT TO:<{facts.recipient}> was refused: {facts.recipient_reply}",
            )
        )
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
    if f.stopped is not None and not f.conclusive:
        return Verdict.UNREACHABLE, (f.stopped,)
    if f.starttls_reply is not None and 400 <= f.starttls_reply < 500:
        return Verdict.UNREACHABLE, (
            Reason(
                Code.STARTTLS_REFUSED,
                f"STARTTLS was refused for now: {f.starttls_reply} {f.starttls_text}".rstrip(),
            ),
        )
    if f.handshake_error is not None:
        return Verdict.UNSUPPORTED, (
            Reason(Code.HANDSHAKE_FAILED, f"the TLS handshake failed: {f.handshake_error}"),
        )
    if f.tls_version is not None and f.tls_version not in TLS12_OR_NEWER:
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
    if not f.conclusive:
        return Verdict.UNREACHABLE, (
            Reason(Code.SMTP_PROTOCOL_ERROR, "the probe ended before TLS could be tested"),
        )
    if f.certificate is None and not f.certificate_problems:
        return Verdict.RELAXED, (
            Reason(Code.VALIDATION_FAILURE, "the server presented no certificate"),
        )
    if f.certificate_problems:
        return Verdict.RELAXED, f.certificate_problems
    return Verdict.STRICT, ()


def _version(name: str) -> str:
    """OpenSSL's ``TLSv1`` / ``TLSv1.1`` as people write them."""
    return {"TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1", "SSLv3": "SSL 3.0"}.get(
        name, name.replace("TLSv", "TLS ")
    )
