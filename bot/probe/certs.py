"""Judging the certificate chain a server sent, the way OpenSSL and Postfix judge a server's.

The TLS handshake runs with verification off so the probe always sees the chain;
this module then judges it with ``cryptography.x509.verification``, naming every problem:

- parse: a leaf that ``cryptography`` cannot fully read (malformed names or extensions,
  duplicate extensions, an unknown version) is ``validation-failure: the certificate cannot
  be parsed: …``; an extra certificate that cannot be read is left out, with a note.
  Nothing a server sends raises out of :func:`analyse_chain`.
- trust: a *server* verifier (the serverAuth purpose, as OpenSSL's ``X509_PURPOSE_SSL_SERVER``
  and so Postfix's ``secure`` level check it) with the Web PKI policies of ``cryptography``
  for CA and leaf certificates alike: a leaf with the wrong EKU, a CA certificate as leaf,
  a critical malformed extension or a weak key does not verify. The verifier builds the path
  from the certificates the server sent, in any order, and judges *the path that validates*:
  an extra certificate the path does not use (an expired cross-signed intermediate, the
  usual "chain of pain") is a note, not a problem. The chain is first verified at ``now``;
  if that fails it is verified again at moments when its certificates are valid, so that
  expiry is reported apart from trust. A chain that does not verify at all is classified
  by walking the certificates the server sent: ``self-signed`` (the leaf signed itself),
  ``certificate-not-trusted`` (the chain ends at a root we do not trust),
  ``incomplete-chain`` (the chain ends at a certificate whose issuer was not sent and is not
  a trusted root), or ``validation-failure`` (anything else, with the verifier's words);
- time: ``certificate-expired`` / ``certificate-not-yet-valid`` for the certificates of the
  path (the one that validates, else the one the server's certificates link up to);
- name: ``certificate-host-mismatch`` under RFC 6125 (:func:`host_matches`): DNS names in
  the subjectAltName only, never the subject CN (the sentence says what the certificate does
  name, CN included).

Sources: ``cryptography`` "X.509 verification" documentation (PolicyBuilder,
``build_server_verifier``, ``ExtensionPolicy.webpki_defaults_ee``); OpenSSL
``openssl-verify(1)`` (``-purpose sslserver``); Postfix TLS_README ("Server certificate
verification"). The x509-limbo suite measures the result (``bench/x509_limbo.py``).
"""

from __future__ import annotations

import ipaddress
import re
import ssl
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import idna
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import verification

from bot.probe.model import CertificateInfo, Code, Reason

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)

# Everything cryptography raises on a certificate it cannot read or use: its parsers raise
# ValueError (malformed DER, names, IP addresses, extensions), DuplicateExtension,
# UnsupportedGeneralNameType, InvalidVersion and UnsupportedAlgorithm; key operations on an
# exotic key raise TypeError.
PARSE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    x509.InvalidVersion,
    UnsupportedAlgorithm,
)
_NO_SAN: tuple[type[Exception], ...] = (x509.ExtensionNotFound, *PARSE_ERRORS)
_NOT_SIGNED: tuple[type[Exception], ...] = (InvalidSignature, *PARSE_ERRORS)


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
        except PARSE_ERRORS:
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

    ``now`` is the instant validity is judged at, from the prober's clock. Never raises on
    anything the server sent.
    """
    notes: list[str] = []
    chain: list[x509.Certificate] = []
    for i, der in enumerate(chain_der):
        try:
            cert = _load(der)
        except PARSE_ERRORS as exc:
            if i == 0:
                return _unparseable(exc)
            notes.append(f"chain certificate {i + 1} cannot be parsed and was left out: {exc}")
            continue
        chain.append(cert)
    if not chain:
        reason = Reason(Code.VALIDATION_FAILURE, "the server sent no certificate")
        return ChainReport(None, (reason,))
    try:
        info = certificate_info(chain[0], len(chain_der), now)
    except PARSE_ERRORS as exc:
        return _unparseable(exc)
    problems = _judge(chain, host, trust, now, notes)
    if notes:
        info = replace(info, notes=tuple(notes))
    return ChainReport(info, tuple(problems))


def _unparseable(exc: Exception) -> ChainReport:
    text = str(exc) or type(exc).__name__
    return ChainReport(
        None, (Reason(Code.VALIDATION_FAILURE, f"the certificate cannot be parsed: {text}"),)
    )


def _load(der: bytes) -> x509.Certificate:
    """Parse one certificate completely: cryptography reads extensions and names lazily, so
    every part is touched here, where its errors are expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)  # non-positive serial
        cert = x509.load_der_x509_certificate(der)
        for extension in cert.extensions:
            _ = extension.value
        cert.subject.rfc4514_string()
        cert.issuer.rfc4514_string()
        _ = cert.not_valid_before_utc, cert.not_valid_after_utc
    return cert


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


def _judge(
    chain: list[x509.Certificate], host: str, trust: TrustStore, now: datetime, notes: list[str]
) -> list[Reason]:
    """Trust, then time, then name problems; notes about extra certificates into ``notes``."""
    leaf = chain[0]
    now = now.replace(microsecond=0)  # validity has a granularity of seconds (RFC 5280 4.1.2.5)
    dns, ips = dns_names(leaf), ip_addresses(leaf)
    named = host_matches(host, dns, ips)
    problems: list[Reason] = []
    path: list[x509.Certificate] | None
    if trust.contains(leaf):
        path = [leaf]  # pinned explicitly in the CA file
    elif _self_signed(leaf):
        problems.append(Reason(Code.SELF_SIGNED, f"the certificate is self-signed ({_cn(leaf)})"))
        path = [leaf]
    else:
        subject = _subject(host) if named else _subject_of(leaf, dns, ips)
        path, complaint = _validated_path(chain, subject, trust, now)
        if path is None:
            problems += _untrusted(chain, trust, complaint)
    problems += _weak_key(leaf)
    if path is None:
        path = _walk(chain)
    problems += _time_problems(path, now)
    notes += _stale_extras(chain, path, now)
    if not named:
        problems.append(
            Reason(
                Code.CERTIFICATE_HOST_MISMATCH,
                f"the certificate does not name {host} ({_what_it_names(leaf, dns, ips)})",
            )
        )
    return problems


def _validated_path(
    chain: list[x509.Certificate],
    subject: verification.Subject | None,
    trust: TrustStore,
    now: datetime,
) -> tuple[list[x509.Certificate] | None, str | None]:
    """The path the verifier builds, first at ``now``, then at moments when the certificates
    are valid (so that expiry does not hide trust); else None and its complaint."""
    if trust.store is None:
        return None, "no trusted roots are configured"
    if subject is None:
        return None, None  # nothing to verify the path for: the name problem says why
    complaints: list[str] = []
    for moment in _moments(chain, now):
        try:
            verifier = (
                verification.PolicyBuilder()
                .store(trust.store)
                .time(moment)
                .build_server_verifier(subject)
            )
            return verifier.verify(chain[0], chain[1:]), None
        except verification.VerificationError as exc:
            complaints.append(_words(str(exc)))
        except PARSE_ERRORS as exc:
            complaints.append(str(exc) or type(exc).__name__)
    # the words from a moment when every certificate is valid, when there was one
    return None, complaints[1] if len(complaints) > 1 else complaints[0]


_PROCESSING = re.compile(
    r"\s*\(encountered processing <Certificate\(subject=<Name\((?P<name>.*?)\)>, \.\.\.\)>\)"
)


def _words(complaint: str) -> str:
    """The verifier's complaint without its Python reprs: "required EKU not found (in the
    certificate of CN=mx.example.com)"."""
    text = complaint.removeprefix("validation failed: ")
    return _PROCESSING.sub(lambda m: f" (in the certificate of {m['name']})", text)


def _moments(chain: list[x509.Certificate], now: datetime) -> Iterator[datetime]:
    """``now``; the middle of the time every certificate sent is valid; the middle of the
    leaf's own validity. Whole seconds: the verifier's clock has no finer grain."""
    yield now
    leaf = chain[0]
    start = max(c.not_valid_before_utc for c in chain)
    end = min(c.not_valid_after_utc for c in chain)
    candidates = [(start, end), (leaf.not_valid_before_utc, leaf.not_valid_after_utc)]
    seen = set()
    for first, last in candidates:
        if first < last and not first <= now <= last:
            moment = (first + (last - first) / 2).replace(microsecond=0) + timedelta(seconds=1)
            if moment not in seen:
                seen.add(moment)
                yield moment


def _subject(host: str) -> verification.Subject | None:
    """The host as the verifier's subject: an IP address or a DNS name (A-labels)."""
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        pass
    name = _a_label(host)
    if not name:
        return None
    try:
        return x509.DNSName(name)
    except ValueError:
        return None


def _subject_of(
    leaf: x509.Certificate, dns: Sequence[str], ips: Sequence[str]
) -> verification.Subject | None:
    """A name the leaf does carry, so that trust is judged apart from the name, which is
    already a problem of its own (a wildcard is filled in with one label)."""
    for name in dns:
        pattern = name.strip().rstrip(".").lower()
        if pattern.startswith("*."):
            pattern = "wildcard-filled-in" + pattern[1:]
        if pattern.isascii() and "*" not in pattern and host_matches(pattern, [name]):
            return _subject(pattern)
    for text in ips:
        return _subject(text)
    return None


def _untrusted(
    chain: list[x509.Certificate], trust: TrustStore, complaint: str | None
) -> list[Reason]:
    """Why a chain that did not verify is not trusted, by walking what the server sent."""
    end = _walk(chain)[-1]
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
    if complaint is None:
        return []  # not verifiable for this name: the host mismatch is the reason
    return [Reason(Code.VALIDATION_FAILURE, f"the chain does not verify: {complaint}")]


_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})


def _weak_key(leaf: x509.Certificate) -> list[Reason]:
    """The leaf's key as OpenSSL's security level 2 (Debian's default, and so Postfix's) and
    the CA/Browser Forum Baseline Requirements (6.1.5) judge it: RSA of at least 2048 bits,
    ECDSA on P-256, P-384 or P-521; no DSA. (cryptography's Web PKI policy checks CA keys
    only.)"""
    try:
        key = leaf.public_key()
    except PARSE_ERRORS as exc:
        return [Reason(Code.VALIDATION_FAILURE, f"the certificate's key cannot be used: {exc}")]
    weak = None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        weak = f"an RSA key of {key.key_size} bits (at least 2048 are required)"
    elif isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name not in _CURVES:
        weak = f"an ECDSA key on {key.curve.name} (P-256, P-384 or P-521 are required)"
    elif isinstance(key, dsa.DSAPublicKey):
        weak = "a DSA key (DSA is not accepted for a server certificate)"
    if weak is None:
        return []
    return [Reason(Code.VALIDATION_FAILURE, f"the certificate has {weak}")]


def _walk(chain: list[x509.Certificate]) -> list[x509.Certificate]:
    """Follow issuer links through the certificates the server sent, leaf first."""
    path, used = [chain[0]], {0}
    while not _self_signed(path[-1]):
        for i, candidate in enumerate(chain):
            if i not in used and _signed_by(path[-1], candidate):
                path.append(candidate)
                used.add(i)
                break
        else:
            break
    return path


def _time_problems(path: list[x509.Certificate], now: datetime) -> list[Reason]:
    problems = []
    for i, cert in enumerate(path):
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


def _stale_extras(
    chain: list[x509.Certificate], path: list[x509.Certificate], now: datetime
) -> list[str]:
    """Notes on certificates the server sent that the path does not use and that are out of
    their validity: harmless to a verifier that builds paths, a trap for one that does not."""
    used = {_der(c) for c in path}
    notes = []
    for cert in chain[1:]:
        if _der(cert) in used:
            continue
        if now > cert.not_valid_after_utc:
            notes.append(
                f"the server also sends {_cn(cert)}, which expired on "
                f"{cert.not_valid_after_utc:%Y-%m-%d}; the path that validates does not use it"
            )
        elif now < cert.not_valid_before_utc:
            notes.append(
                f"the server also sends {_cn(cert)}, which is not valid before "
                f"{cert.not_valid_before_utc:%Y-%m-%d}; the path that validates does not use it"
            )
    return notes


def _what_it_names(leaf: x509.Certificate, dns: Sequence[str], ips: Sequence[str]) -> str:
    """A true sentence about the names the certificate carries."""
    if dns:
        more = f" and {len(dns) - 5} more" if len(dns) > 5 else ""
        return "it names " + ", ".join(dns[:5]) + more
    cns = _common_names(leaf.subject)
    cn = f"subject CN {', '.join(cns)}" if cns else "no subject CN either"
    if ips:
        return f"it names only the IP addresses {', '.join(ips[:5])} and {cn}"
    if _has_san(leaf):
        return f"its subjectAltName holds no DNS name; it has {cn}"
    return f"it has no subjectAltName, only {cn}, which RFC 6125 does not accept as a host name"


def _has_san(cert: x509.Certificate) -> bool:
    try:
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    return True


def dns_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except _NO_SAN:
        return []
    return list(san.get_values_for_type(x509.DNSName))


def ip_addresses(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except _NO_SAN:
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


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _self_signed(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject and _signed_by(cert, cert)


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except _NOT_SIGNED:  # TypeError: unsupported key types
        return False
    return True


def _cn(cert: x509.Certificate) -> str:
    return _common_name(cert.subject)


def _issuer_cn(cert: x509.Certificate) -> str:
    return _common_name(cert.issuer)


def _common_names(name: x509.Name) -> list[str]:
    values = []
    for attr in name.get_attributes_for_oid(x509.NameOID.COMMON_NAME):
        value = attr.value
        values.append(value if isinstance(value, str) else value.decode("utf-8", "replace"))
    return values


def _common_name(name: x509.Name) -> str:
    names = _common_names(name)
    if names:
        return names[0]
    return name.rfc4514_string() or "an unnamed certificate"
