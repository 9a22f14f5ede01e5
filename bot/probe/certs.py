"""Judging the certificate chain a server sent, naming every problem.

The TLS handshake runs with verification off so the probe always sees the chain;
this module then judges it with ``cryptography``:

- trust: the chain is verified against :class:`TrustStore` (the system store plus
  ``TLSBOT_CA_FILE``) with ``cryptography.x509.verification`` at a moment inside the
  certificates' validity, so that expiry is reported separately rather than hiding
  a trust problem; a failure is then classified by walking the chain the server sent:
  ``self-signed`` (the leaf signed itself), ``certificate-not-trusted`` (the chain ends
  at a root we do not trust), ``incomplete-chain`` (the chain ends at a certificate
  whose issuer was not sent and is not a trusted root: a missing intermediate or an
  unknown issuer), or ``validation-failure`` (anything else, with the verifier's words);
- time: ``certificate-expired`` / ``certificate-not-yet-valid`` for any certificate sent;
- name: ``certificate-host-mismatch`` under RFC 6125 (:func:`host_matches`).
"""

from __future__ import annotations

import ipaddress
import re
import ssl
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import idna
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import verification

from bot.probe.model import CertificateInfo, Code, Reason

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


class TrustStore:
    """Trusted roots: the system store plus an optional extra PEM file. Load once per Prober."""

    def __init__(self, certificates: Iterable[x509.Certificate]) -> None:
        unique = {c.fingerprint(hashes.SHA256()): c for c in certificates}
        self.certificates = tuple(unique.values())
        self._by_subject: dict[bytes, list[x509.Certificate]] = {}
        for cert in self.certificates:
            self._by_subject.setdefault(cert.subject.public_bytes(), []).append(cert)
        self._fingerprints = frozenset(unique)
        self.store = verification.Store(list(self.certificates)) if self.certificates else None

    @classmethod
    def load(cls, ca_file: Path | None = None, *, system: bool = True) -> TrustStore:
        certs: list[x509.Certificate] = []
        if system:
            paths = ssl.get_default_verify_paths()
            for name in (paths.cafile, paths.openssl_cafile):
                if name:
                    certs += _read_pem(Path(name))
                    if certs:
                        break
            if not certs and paths.capath:
                for entry in sorted(Path(paths.capath).glob("*")):
                    certs += _read_pem(entry)
        if ca_file is not None:
            certs += _read_pem(ca_file)
        return cls(certs)

    def contains(self, cert: x509.Certificate) -> bool:
        return cert.fingerprint(hashes.SHA256()) in self._fingerprints

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        candidates = self._by_subject.get(cert.issuer.public_bytes(), [])
        return [c for c in candidates if _signed_by(cert, c)]


def _read_pem(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except OSError:
        return []
    certs = []
    for block in _PEM.findall(data):
        try:
            with warnings.catch_warnings():
                # old system roots with non-positive serials: still roots people trust
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                certs.append(x509.load_pem_x509_certificate(block))
        except ValueError:
            continue  # a certificate the strict parser refuses is skipped, not fatal
    return certs


@dataclass(frozen=True, slots=True)
class ChainReport:
    info: CertificateInfo | None
    problems: tuple[Reason, ...]

    @property
    def trusted(self) -> bool:
        return self.info is not None and not self.problems


def analyse_chain(
    chain_der: Sequence[bytes], host: str, trust: TrustStore, *, now: datetime
) -> ChainReport:
    """Facts and every problem of the chain ``chain_der`` (leaf first) presented for ``host``.

    ``now`` is the instant validity is judged at, from the prober's clock.
    """
    chain: list[x509.Certificate] = []
    for der in chain_der:
        try:
            chain.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            if not chain:
                reason = Reason(Code.VALIDATION_FAILURE, f"the certificate cannot be parsed: {exc}")
                return ChainReport(None, (reason,))
    if not chain:
        reason = Reason(Code.VALIDATION_FAILURE, "the server sent no certificate")
        return ChainReport(None, (reason,))
    leaf = chain[0]
    problems: list[Reason] = []
    problems += _trust_problems(chain, trust, now)
    problems += _time_problems(chain, now)
    names = dns_names(leaf)
    if not host_matches(host, names, ip_addresses(leaf)):
        shown = ", ".join(names[:5]) or "no DNS names"
        problems.append(
            Reason(
                Code.CERTIFICATE_HOST_MISMATCH,
                f"the certificate does not name {host} (it names {shown})",
            )
        )
    return ChainReport(certificate_info(leaf, len(chain), now), tuple(problems))


def certificate_info(leaf: x509.Certificate, chain_length: int, now: datetime) -> CertificateInfo:
    not_after = leaf.not_valid_after_utc
    return CertificateInfo(
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        sans=tuple(dns_names(leaf)) + tuple(ip_addresses(leaf)),
        not_before=leaf.not_valid_before_utc,
        not_after=not_after,
        days_to_expiry=int((not_after - now).total_seconds() / 86400),  # toward zero
        sha256=leaf.fingerprint(hashes.SHA256()).hex(),
        chain_length=chain_length,
    )


def dns_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return list(san.get_values_for_type(x509.DNSName))


def ip_addresses(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [str(a) for a in san.get_values_for_type(x509.IPAddress)]


def host_matches(host: str, dns: Sequence[str], ips: Sequence[str] = ()) -> bool:
    """RFC 6125 §6.4: SAN dNSNames only (never the CN); ``*`` only as the whole left-most
    label, matching exactly one label; no partial wildcards; names compared as A-labels."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return any(_same_ip(address, ip) for ip in ips)
    wanted = _a_label(host)
    if wanted is None:
        return False
    for name in dns:
        pattern = name.strip().rstrip(".").lower()
        if not pattern.isascii():
            continue  # dNSName must be A-labels; a U-label SAN is malformed
        if pattern == wanted:
            return True
        if pattern.startswith("*.") and "*" not in pattern[2:] and pattern.count(".") >= 2:
            first, _, rest = wanted.partition(".")
            if first and rest == pattern[2:]:
                return True
    return False


def _a_label(host: str) -> str | None:
    name = host.strip().rstrip(".")
    try:
        return idna.encode(name, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError):
        return name.lower() if name.isascii() else None


def _same_ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address, text: str) -> bool:
    try:
        return ipaddress.ip_address(text) == address
    except ValueError:
        return False


def _time_problems(chain: list[x509.Certificate], now: datetime) -> list[Reason]:
    problems = []
    for i, cert in enumerate(chain):
        which = "the certificate" if i == 0 else f"chain certificate {i + 1} ({_cn(cert)})"
        if now > cert.not_valid_after_utc:
            days = (now - cert.not_valid_after_utc).days
            problems.append(
                Reason(
                    Code.CERTIFICATE_EXPIRED,
                    f"{which} expired on {cert.not_valid_after_utc:%Y-%m-%d} ({days} days ago)",
                )
            )
        elif now < cert.not_valid_before_utc:
            problems.append(
                Reason(
                    Code.CERTIFICATE_NOT_YET_VALID,
                    f"{which} is not valid before {cert.not_valid_before_utc:%Y-%m-%d}",
                )
            )
    return problems


def _trust_problems(
    chain: list[x509.Certificate], trust: TrustStore, now: datetime
) -> list[Reason]:
    leaf = chain[0]
    if trust.contains(leaf):
        return []  # pinned explicitly in the CA file
    if _self_signed(leaf):
        return [Reason(Code.SELF_SIGNED, f"the certificate is self-signed ({_cn(leaf)})")]
    verifier_error = _verify(chain, trust, now)
    if verifier_error is None:
        return []
    end = _walk(chain)
    if _self_signed(end):
        if not trust.contains(end):
            return [
                Reason(
                    Code.CERTIFICATE_NOT_TRUSTED,
                    f"the chain ends at a root that is not trusted ({_cn(end)})",
                )
            ]
    elif not trust.issuers_of(end):
        return [
            Reason(
                Code.INCOMPLETE_CHAIN,
                f"the issuer of {_cn(end)} ({_issuer_cn(end)}) was not sent and is not a "
                "trusted root: a missing intermediate or an unknown issuer",
            )
        ]
    return [Reason(Code.VALIDATION_FAILURE, f"the chain does not verify: {verifier_error}")]


def _verify(chain: list[x509.Certificate], trust: TrustStore, now: datetime) -> str | None:
    """The verifier's complaint, or None; checked at a moment inside every certificate's
    validity (when there is one) so that expiry is reported by :func:`_time_problems`."""
    if trust.store is None:
        return "no trusted roots are configured"
    moment = now
    start = max(c.not_valid_before_utc for c in chain)
    end = min(c.not_valid_after_utc for c in chain)
    if not start <= now <= end and start < end:
        moment = start + (end - start) / 2
    try:
        verifier = (
            verification.PolicyBuilder()
            .store(trust.store)
            .time(moment.replace(microsecond=0) + timedelta(seconds=1))
            .extension_policies(
                ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                ee_policy=verification.ExtensionPolicy.permit_all(),
            )
            .build_client_verifier()
        )
        verifier.verify(chain[0], chain[1:])
    except verification.VerificationError as exc:
        return str(exc)
    return None


def _walk(chain: list[x509.Certificate]) -> x509.Certificate:
    """Follow issuer links through the certificates the server sent; return the last one."""
    current, used = chain[0], {0}
    while not _self_signed(current):
        for i, candidate in enumerate(chain):
            if i not in used and _signed_by(current, candidate):
                current = candidate
                used.add(i)
                break
        else:
            break
    return current


def _self_signed(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject and _signed_by(cert, cert)


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):  # TypeError: unsupported key types
        return False
    return True


def _cn(cert: x509.Certificate) -> str:
    return _common_name(cert.subject)


def _issuer_cn(cert: x509.Certificate) -> str:
    return _common_name(cert.issuer)


def _common_name(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if attrs:
        value = attrs[0].value
        return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return name.rfc4514_string() or "an unnamed certificate"
