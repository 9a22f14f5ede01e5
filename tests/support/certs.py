"""A small PKI minted with ``cryptography`` for tests: one trusted root, an intermediate,
an untrusted root, and leaf certificates for every certificate row of the verdict table.

    pki = Pki.mint(tmp_path)                  # writes root.pem (the CA bundle) etc.
    served = pki.serve(CertCase.TRUSTED, "mx1.example.test")
    served.cert_file, served.key_file          # the chain as the server sends it, and its key
    pki.ca_file                                # TLSBOT_CA_FILE: the trusted root only

Keys are P-256 (fast to mint). Extensions follow the Web PKI profile that
``cryptography.x509.verification`` enforces (basic constraints, key usage, SKI/AKI,
serverAuth EKU, SAN), so a TRUSTED leaf verifies and every other case fails for its
own reason only.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAY = timedelta(days=1)


class CertCase(enum.StrEnum):
    """Which certificate a test server presents."""

    TRUSTED = "trusted"  # leaf ← intermediate ← trusted root; server sends leaf + intermediate
    SELF_SIGNED = "self-signed"
    EXPIRED = "expired"  # otherwise trusted chain, leaf expired 30 days ago
    NOT_YET_VALID = "not-yet-valid"  # otherwise trusted chain, leaf valid from 30 days on
    WRONG_NAME = "wrong-name"  # otherwise trusted chain, SAN names another host
    MISSING_INTERMEDIATE = "missing-intermediate"  # leaf signed by the intermediate, sent alone
    UNTRUSTED_ROOT = "untrusted-root"  # leaf ← an unknown root; server sends leaf + that root
    CN_ONLY = "cn-only"  # otherwise trusted chain, no subjectAltName: the host only in the CN
    # leaf ← an intermediate whose EKU allows serverAuth only (as Microsoft's do) ← root
    SERVER_AUTH_INTERMEDIATE = "server-auth-intermediate"
    # trusted chain, plus an expired cross-signed copy of the root (same name and key, issued
    # by another root) that the valid path does not need: the mail servers' "chain of pain"
    STALE_CROSS_SIGN = "stale-cross-sign"


@dataclass(frozen=True)
class Issuer:
    name: x509.Name
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class ServedCert:
    """The files a TLS server needs: its chain (leaf first) and the leaf's key."""

    cert_file: Path
    key_file: Path
    leaf: x509.Certificate


@dataclass
class Pki:
    directory: Path
    root: Issuer
    intermediate: Issuer
    untrusted_root: Issuer
    ca_file: Path
    _served: dict[tuple[CertCase, str, bool], ServedCert] = field(default_factory=dict)
    _extra: dict[CertCase, Issuer] = field(default_factory=dict)

    @classmethod
    def mint(cls, directory: Path) -> Pki:
        directory.mkdir(parents=True, exist_ok=True)
        root = _ca("tlsbot test root", None)
        intermediate = _ca("tlsbot test intermediate", root)
        untrusted = _ca("untrusted test root", None)
        ca_file = directory / "ca-bundle.pem"
        ca_file.write_bytes(root.pem)
        return cls(directory, root, intermediate, untrusted, ca_file)

    def serve(
        self, case: CertCase, host: str, *, names: tuple[str, ...] = (), rsa_key: bool = False
    ) -> ServedCert:
        """Mint (once per case and host) the leaf for ``host`` and write its chain and key.

        ``rsa_key``: an RSA-2048 leaf key instead of P-256, for the TLS 1.2 suites with RSA
        key exchange (``AES256-SHA``, ``AES256-GCM-SHA384``)."""
        key_id = (case, host + "|" + ",".join(names), rsa_key)
        if key_id in self._served:
            return self._served[key_id]
        now = datetime.now(UTC)
        sans = names or (host,)
        not_before, not_after = now - DAY, now + 90 * DAY
        issuer: Issuer | None = self.intermediate
        extra: list[bytes] = [self.intermediate.pem]
        if case is CertCase.SELF_SIGNED:
            issuer, extra = None, []
        elif case is CertCase.EXPIRED:
            not_before, not_after = now - 400 * DAY, now - 30 * DAY
        elif case is CertCase.NOT_YET_VALID:
            not_before, not_after = now + 30 * DAY, now + 400 * DAY
        elif case is CertCase.WRONG_NAME:
            sans = ("other-host.example.test",)
        elif case is CertCase.MISSING_INTERMEDIATE:
            extra = []
        elif case is CertCase.UNTRUSTED_ROOT:
            issuer, extra = self.untrusted_root, [self.untrusted_root.pem]
        elif case is CertCase.CN_ONLY:
            sans = ()
        elif case is CertCase.SERVER_AUTH_INTERMEDIATE:
            issuer = self._issuer(case)
            extra = [issuer.pem]
        elif case is CertCase.STALE_CROSS_SIGN:
            extra = [self.intermediate.pem, self._issuer(case).pem]
        key: LeafKey = ec.generate_private_key(ec.SECP256R1())
        if rsa_key:
            key = rsa.generate_private_key(65537, 2048)
        cert = _leaf(host, sans, key, issuer, not_before, not_after)
        stem = f"{case.value}-{host}-{len(self._served)}"
        cert_file = self.directory / f"{stem}.pem"
        key_file = self.directory / f"{stem}.key"
        cert_file.write_bytes(b"".join([cert.public_bytes(serialization.Encoding.PEM), *extra]))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        served = ServedCert(cert_file, key_file, cert)
        self._served[key_id] = served
        return served

    def _issuer(self, case: CertCase) -> Issuer:
        """The extra CA certificate of ``case``, minted once."""
        if case not in self._extra:
            if case is CertCase.SERVER_AUTH_INTERMEDIATE:
                eku = [ExtendedKeyUsageOID.SERVER_AUTH]
                self._extra[case] = _ca("tlsbot serverAuth-only intermediate", self.root, eku=eku)
            else:
                now = datetime.now(UTC)
                self._extra[case] = _ca(
                    "tlsbot test root",
                    self.untrusted_root,
                    key=self.root.key,
                    validity=(now - 3000 * DAY, now - 30 * DAY),
                )
        return self._extra[case]


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tlsbot tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca(
    common_name: str,
    parent: Issuer | None,
    *,
    key: ec.EllipticCurvePrivateKey | None = None,
    eku: list[x509.ObjectIdentifier] | None = None,
    validity: tuple[datetime, datetime] | None = None,
) -> Issuer:
    now = datetime.now(UTC)
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    not_before, not_after = validity or (now - 3650 * DAY, now + 3650 * DAY)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(parent.name if parent else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    signer = key
    if parent is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()),
            critical=False,
        )
        signer = parent.key
    cert = builder.sign(signer, hashes.SHA256())
    return Issuer(name, key, cert)


LeafKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _leaf(
    host: str,
    sans: tuple[str, ...],
    key: LeafKey,
    issuer: Issuer | None,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    subject = _name(host)
    general: list[x509.GeneralName] = []
    for san in sans:
        try:
            general.append(x509.IPAddress(ipaddress.ip_address(san)))
        except ValueError:
            general.append(x509.DNSName(san))
    signer_key = issuer.key if issuer else key
    authority = issuer.key.public_key() if issuer else key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.name if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=isinstance(key, rsa.RSAPrivateKey),  # RSA key exchange
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority), critical=False
        )
    )
    if general:
        builder = builder.add_extension(x509.SubjectAlternativeName(general), critical=False)
    return builder.sign(signer_key, hashes.SHA256())
