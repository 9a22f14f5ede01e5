"""Client TLS contexts of the probe, and the facts read off a finished handshake.

Every context verifies nothing (``CERT_NONE``, no host name check) so that the probe
always sees the chain; ``bot.probe.certs`` judges it afterwards and names every
problem. Three contexts, built once per Prober (:class:`TlsContexts`):

- ``modern``: TLS 1.2 or newer with OpenSSL's default suites: the handshake that decides;
- ``aes256``: TLS 1.2 only, AES-256 suites only: asks whether an AES-256 suite is
  negotiable when the first handshake settled on something else;
- ``legacy``: TLS 1.0–1.1 at ``@SECLEVEL=0``: used only after the modern handshake
  failed, to tell a TLS 1.0/1.1-only server from one without usable TLS. It never
  yields a strict or relaxed verdict.
"""

from __future__ import annotations

import ssl
import warnings
from dataclasses import dataclass
from typing import Any

TLS12_OR_NEWER = ("TLSv1.2", "TLSv1.3")


@dataclass(frozen=True)
class TlsContexts:
    modern: ssl.SSLContext
    aes256: ssl.SSLContext
    legacy: ssl.SSLContext | None  # None when the local OpenSSL cannot speak TLS 1.0/1.1

    @classmethod
    def create(cls) -> TlsContexts:
        return cls(modern_context(), aes256_context(), legacy_context())


def _unverified() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def modern_context() -> ssl.SSLContext:
    ctx = _unverified()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def aes256_context() -> ssl.SSLContext:
    ctx = _unverified()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AES256")
    return ctx


def legacy_context() -> ssl.SSLContext | None:
    """TLS 1.0–1.1 only, every suite, security level 0. Detection only."""
    ctx = _unverified()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # that is the point
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except (ssl.SSLError, ValueError):
        return None
    return ctx


def is_aes256(cipher: str | None) -> bool:
    """``*AES256*`` (TLS 1.2 OpenSSL names) or ``*AES_256*`` (TLS 1.3 / IANA names)."""
    if not cipher:
        return False
    upper = cipher.upper()
    return "AES256" in upper or "AES_256" in upper


@dataclass(frozen=True, slots=True)
class Negotiated:
    version: str | None
    cipher: str | None
    chain: tuple[bytes, ...]  # DER, leaf first, as the server sent it


def negotiated(ssl_object: Any) -> Negotiated:
    """Version, suite and the unverified peer chain of an ``ssl.SSLObject``."""
    cipher = ssl_object.cipher()
    return Negotiated(
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        chain=peer_chain(ssl_object),
    )


def peer_chain(ssl_object: Any) -> tuple[bytes, ...]:
    """The chain the server sent (not a verified chain): public API on 3.13+, the
    ``_sslobj`` method on 3.11/3.12, the leaf alone as a last resort."""
    getter = getattr(ssl_object, "get_unverified_chain", None)
    if getter is None:
        inner = getattr(ssl_object, "_sslobj", None)
        getter = getattr(inner, "get_unverified_chain", None)
    if getter is not None:
        chain = getter() or []
        out = []
        for cert in chain:
            if isinstance(cert, bytes | bytearray):
                out.append(bytes(cert))
            else:
                out.append(bytes(cert.public_bytes(ssl._ssl.ENCODING_DER)))  # type: ignore[attr-defined]
        if out:
            return tuple(out)
    leaf = ssl_object.getpeercert(binary_form=True)
    return (leaf,) if leaf else ()
