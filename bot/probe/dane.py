"""DANE for SMTP (RFC 7672): TLSA records matched against the chain of the probe's handshake.

:func:`parse_tlsa` reads one TLSA record in presentation format (``3 1 1 ab12…``, as the
resolver gives it); nothing it is fed can make it raise. :func:`check` decides the DANE
status of one probed address from its TLSA answer, the DNSSEC status of its address
records and the certificate chain of the very handshake that decided its verdict (no
extra connection):

=============================================  ================  ==========================
facts                                          status            for DANE senders
=============================================  ================  ==========================
address or TLSA answer bogus                   dnssec-invalid    defer mail to the host
TLSA lookup failed (SERVFAIL, timeout)         tlsa-lookup-fail  defer mail to the host
addresses or TLSA answer insecure              not-signed        no DANE: TLSA ignored
secure, no TLSA record                         no-tlsa           not a DANE host
secure, no usable record (usage 0/1, unknown   tlsa-unusable     unauthenticated TLS
selector or matching type, bad digest length)
usable records, STARTTLS not offered           dane-required     no delivery
usable records, no TLS session to match        not-tested        (unknown)
a usable record matches the chain              dane-valid        authenticated delivery
usable records, none matches                   tlsa-invalid      no delivery
=============================================  ================  ==========================

Usable records (RFC 7672 §3.1): DANE-EE ``3 x x`` matches the server's own certificate
(selector 0) or public key (selector 1), exactly (matching type 0) or by SHA-256 (1) or
SHA-512 (2); names and validity dates are not checked (§3.1.1), which is how DANE
authenticates a self-signed certificate. DANE-TA ``2 x x`` matches a certificate the
server sent above its own (§3.1.2); the chain from the server's certificate up to it must
then verify and the certificate must name the MX host and be in date (cryptography's
server verifier, with that certificate as the only trust anchor). PKIX-TA ``0`` and
PKIX-EE ``1`` are not usable for SMTP (§3.1.3).

Whether DANE applies to a *domain* also needs its MX records to be secure; that is the
domain's view, applied by :func:`bot.probe.evaluate.with_dane`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification

from bot.probe.dns import RecordsResult
from bot.probe.model import DaneResult, DaneStatus, Dnssec

_HEX = re.compile(r"[0-9A-Fa-f]+")
_DIGEST_LENGTH = {1: 32, 2: 64}
USAGE_NAMES = {0: "PKIX-TA", 1: "PKIX-EE", 2: "DANE-TA", 3: "DANE-EE"}
MAX_TLSA_TEXT = 70_000  # a TLSA rdata is at most 65535 bytes; hex doubles it, roughly


@dataclass(frozen=True, slots=True)
class Tlsa:
    usage: int
    selector: int
    mtype: int
    data: bytes

    @property
    def params(self) -> str:
        return f"{self.usage} {self.selector} {self.mtype}"

    @property
    def short(self) -> str:
        """``3 1 1 ab12cd34ef56ab78…``: the parameters and the first 16 hex digits."""
        digits = self.data.hex()
        return f"{self.params} {digits[:16]}{'…' if len(digits) > 16 else ''}"

    @property
    def usable(self) -> bool:
        """RFC 7672 §3.1: DANE-TA or DANE-EE, a known selector and matching type, and a
        digest of the right length."""
        if self.usage not in (2, 3) or self.selector not in (0, 1):
            return False
        if self.mtype == 0:
            return bool(self.data)
        return _DIGEST_LENGTH.get(self.mtype) == len(self.data)


def parse_tlsa(text: str) -> Tlsa | str:
    """One TLSA record, ``usage selector matching-type hex…``, or why it is not one."""
    if not isinstance(text, str) or len(text) > MAX_TLSA_TEXT:
        return "a TLSA record of an impossible size"
    parts = text.split()
    if len(parts) < 4:
        return f"{_show(text)} is not 'usage selector matching-type data'"
    numbers = []
    for part in parts[:3]:
        if not part.isascii() or not part.isdigit() or len(part) > 3 or int(part) > 255:
            return f"{_show(text)} has {_show(part)} where a number 0-255 belongs"
        numbers.append(int(part))
    digits = "".join(parts[3:])
    if not _HEX.fullmatch(digits) or len(digits) % 2:
        return f"{_show(text)} does not end in hexadecimal data"
    return Tlsa(numbers[0], numbers[1], numbers[2], bytes.fromhex(digits))


def check(
    host: str,
    tlsa: RecordsResult,
    *,
    address_dnssec: Dnssec | None,
    chain: Sequence[bytes],
    starttls_offered: bool | None,
    now: datetime,
) -> DaneResult:
    """The DANE status of ``host`` as one probe of one of its addresses saw it."""
    name = tlsa.name
    records = tuple(sorted(tlsa.records))
    if address_dnssec is Dnssec.BOGUS:
        return DaneResult(
            DaneStatus.DNSSEC_INVALID,
            f"the addresses of {host} fail DNSSEC validation: senders that use DANE "
            "do not deliver to it",
            records,
            dnssec=tlsa.dnssec,
        )
    if tlsa.dnssec is Dnssec.BOGUS:
        return DaneResult(
            DaneStatus.DNSSEC_INVALID,
            f"the TLSA records at {name} fail DNSSEC validation: senders that use DANE "
            "defer mail to it (RFC 7672 §2.2)",
            records,
            dnssec=tlsa.dnssec,
        )
    if address_dnssec is not Dnssec.SECURE:
        return DaneResult(
            DaneStatus.NOT_SIGNED,
            f"the addresses of {host} are not DNSSEC-signed: DANE does not apply (RFC 7672 §2.2.2)",
            records,
            dnssec=tlsa.dnssec,
        )
    if tlsa.error is not None:
        return DaneResult(
            DaneStatus.LOOKUP_FAILED,
            f"the TLSA lookup of {name} failed ({tlsa.error.message}): senders that use "
            "DANE defer mail to it while it fails",
            records,
            dnssec=tlsa.dnssec,
        )
    if tlsa.dnssec is not Dnssec.SECURE:
        return DaneResult(
            DaneStatus.NOT_SIGNED,
            f"the TLSA answer for {name} is not DNSSEC-signed: DANE does not apply",
            records,
            dnssec=tlsa.dnssec,
        )
    if not records:
        return DaneResult(
            DaneStatus.NO_TLSA, f"{host} publishes no TLSA record", dnssec=tlsa.dnssec
        )
    parsed = [parse_tlsa(r) for r in records]
    usable = [t for t in parsed if isinstance(t, Tlsa) and t.usable]
    if not usable:
        why = "; ".join(dict.fromkeys(_unusable(t) for t in parsed[:3]))
        return DaneResult(
            DaneStatus.UNUSABLE,
            f"none of the {len(records)} TLSA record(s) of {host} is usable for SMTP "
            f"({why}; only DANE-TA 2 and DANE-EE 3 with a known selector and matching type "
            "are, RFC 7672 §3.1.3): senders that use DANE fall back to unauthenticated TLS",
            records,
            dnssec=tlsa.dnssec,
        )
    if starttls_offered is False:
        return DaneResult(
            DaneStatus.REQUIRED,
            f"{host} is DNSSEC-signed and publishes TLSA records, but does not offer "
            "STARTTLS: senders that use DANE will not deliver to it",
            records,
            dnssec=tlsa.dnssec,
        )
    if not chain:
        return DaneResult(
            DaneStatus.NOT_TESTED,
            f"the TLSA records of {host} could not be matched: no TLS session was established",
            records,
            dnssec=tlsa.dnssec,
        )
    for record in usable:
        if _matches(record, chain, host, now):
            return DaneResult(
                DaneStatus.VALID,
                f"DANE verified ({record.params} matches)",
                records,
                matched=record.params,
                dnssec=tlsa.dnssec,
            )
    shown = ", ".join(t.short for t in usable)
    return DaneResult(
        DaneStatus.TLSA_INVALID,
        f"the certificate of {host} matches none of its usable TLSA records ({shown}): "
        "senders that use DANE will not deliver to it; publish a TLSA record for the "
        "certificate it serves (or serve the certificate the records name)",
        records,
        dnssec=tlsa.dnssec,
    )


def _unusable(record: Tlsa | str) -> str:
    """Why one record is not usable for SMTP, in words."""
    if isinstance(record, str):
        return record
    if record.usage in (0, 1):
        return f"{record.params}: {USAGE_NAMES[record.usage]} is not used for SMTP"
    if record.usage not in (2, 3):
        return f"{record.params}: unknown usage {record.usage}"
    if record.selector not in (0, 1):
        return f"{record.params}: unknown selector {record.selector}"
    if record.mtype not in (0, 1, 2):
        return f"{record.params}: unknown matching type {record.mtype}"
    return (
        f"{record.params}: a digest of {len(record.data)} bytes, not {_DIGEST_LENGTH[record.mtype]}"
    )


def _matches(record: Tlsa, chain: Sequence[bytes], host: str, now: datetime) -> bool:
    if record.usage == 3:
        return _digest_matches(record, chain[0])
    for index in range(1, len(chain)):
        if _digest_matches(record, chain[index]) and _verifies(chain, index, host, now):
            return True
    return False


def _digest_matches(record: Tlsa, der: bytes) -> bool:
    try:
        selected = der if record.selector == 0 else _spki(der)
    except ValueError:
        return False
    if record.mtype == 1:
        selected = hashlib.sha256(selected).digest()
    elif record.mtype == 2:
        selected = hashlib.sha512(selected).digest()
    return selected == record.data


def _spki(der: bytes) -> bytes:
    cert = x509.load_der_x509_certificate(der)
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _verifies(chain: Sequence[bytes], anchor: int, host: str, now: datetime) -> bool:
    """The chain from the leaf up to ``chain[anchor]`` verifies, naming ``host``, at ``now``."""
    try:
        certs = [x509.load_der_x509_certificate(der) for der in chain[: anchor + 1]]
        verifier = (
            verification.PolicyBuilder()
            .store(verification.Store([certs[-1]]))
            .time(now)
            .build_server_verifier(x509.DNSName(host))
        )
        verifier.verify(certs[0], certs[1:-1])
    except (ValueError, TypeError, verification.VerificationError):
        return False
    return True


def _show(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")
