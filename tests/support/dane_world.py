"""TLSA records for test certificates (RFC 6698 presentation format)."""

from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def dane_ee(cert: x509.Certificate) -> str:
    """``3 1 1``: DANE-EE, the server's public key, SHA-256 (the usual one for SMTP)."""
    return "3 1 1 " + hashlib.sha256(spki(cert)).hexdigest()


def dane_ta(cert: x509.Certificate) -> str:
    """``2 0 1``: DANE-TA, the whole issuer certificate, SHA-256."""
    der = cert.public_bytes(serialization.Encoding.DER)
    return "2 0 1 " + hashlib.sha256(der).hexdigest()


def other_key() -> str:
    """``3 1 1`` of a key no server has: a TLSA record that matches nothing."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "3 1 1 " + hashlib.sha256(der).hexdigest()
