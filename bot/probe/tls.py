"""Client TLS contexts of the probe, the facts read off a finished handshake, and the
AES-256 follow-up handshake.

Every context verifies nothing (``CERT_NONE``, no host name check) so that the probe
always sees the chain; ``bot.probe.certs`` judges it afterwards and names every
problem. Built once per Prober (:class:`TlsContexts`):

- ``modern``: TLS 1.2 or newer offering Postfix's ``high`` grade
  (:data:`bot.probe.suites.HIGH_GRADE`) and OpenSSL's TLS 1.3 suites: the handshake that
  decides;
- ``aes256``: the AES-256-only follow-ups (:class:`bot.probe.suites.Aes256Asks`): TLS 1.3
  with ``TLS_AES_256_GCM_SHA384`` alone, TLS 1.2 with AES-256 suites alone; pyOpenSSL
  contexts, because Python's ``ssl`` cannot restrict TLS 1.3 suites. They run through
  :func:`followup_handshake`;
- ``legacy``: TLS 1.0–1.1 at ``@SECLEVEL=0``: used only after the modern handshake
  failed, to tell a TLS 1.0/1.1-only server from one without usable TLS. It never
  yields a strict or relaxed verdict.

:func:`followup_handshake` runs a pyOpenSSL ``Connection(ctx, None)`` (memory BIOs) over
the probe's own asyncio streams after STARTTLS: OpenSSL does the TLS, this module only
carries its bytes (bounded reads, under the probe's deadline). It ends with an encrypted
``QUIT`` and a close_notify: the follow-up has nothing more to learn. pyOpenSSL's
``SSL.Error`` never leaves it: a failed handshake is
:class:`~bot.probe.errors.HandshakeFailed`, as ``bot.probe.errors.translate`` turns
``ssl.SSLError``; stream errors (``OSError``) are left to that seam.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import warnings
from asyncio import StreamReader, StreamWriter
from dataclasses import dataclass
from typing import Any

from OpenSSL import SSL

from bot.probe.errors import HandshakeFailed
from bot.probe.smtp import READ_SIZE
from bot.probe.suites import HIGH_GRADE, Aes256Ask, Aes256Asks

TLS12_OR_NEWER = ("TLSv1.2", "TLSv1.3")


@dataclass(frozen=True)
class TlsContexts:
    modern: ssl.SSLContext
    aes256: Aes256Asks
    legacy: ssl.SSLContext | None  # None when the local OpenSSL cannot speak TLS 1.0/1.1

    @classmethod
    def create(cls) -> TlsContexts:
        return cls(modern_context(), Aes256Asks.create(), legacy_context())


def _unverified() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def modern_context() -> ssl.SSLContext:
    ctx = _unverified()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(HIGH_GRADE)  # TLS 1.2; TLS 1.3 keeps OpenSSL's suites, all of them HIGH
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


FOLLOWUP_QUIT_WAIT = 2.0  # seconds to wait for the answer to the follow-up's QUIT


async def followup_handshake(
    ask: Aes256Ask, reader: StreamReader, writer: StreamWriter, sni: str | None
) -> Negotiated:
    """The TLS handshake of ``ask`` over a connection whose server just answered STARTTLS
    with 220; then an encrypted QUIT and close_notify. Raises HandshakeFailed when the server
    refuses what was offered; stream errors (OSError) propagate to the caller's seam."""
    conn = SSL.Connection(ask.context, None)
    conn.set_connect_state()
    if sni:
        with contextlib.suppress(UnicodeError, ValueError):
            conn.set_tlsext_host_name(sni.encode("idna"))
    while True:
        try:
            conn.do_handshake()
            break
        except SSL.WantReadError:
            await _flush(conn, writer)
        except SSL.Error as exc:
            with contextlib.suppress(OSError):
                await _flush(conn, writer)  # the alert, so the server's log says why
            raise HandshakeFailed(_words(exc)) from exc
        data = await reader.read(READ_SIZE)
        if not data:
            raise HandshakeFailed("the connection was closed (closed)")
        conn.bio_write(data)
    await _flush(conn, writer)
    result = Negotiated(
        version=conn.get_protocol_version_name(), cipher=conn.get_cipher_name(), chain=()
    )
    await _goodbye(conn, reader, writer)
    return result


async def _flush(conn: SSL.Connection, writer: StreamWriter) -> None:
    """Send what OpenSSL has written into its outgoing memory BIO."""
    out = bytearray()
    while True:
        try:
            out += conn.bio_read(READ_SIZE)
        except SSL.WantReadError:
            break
    if out:
        writer.write(bytes(out))
        await writer.drain()


async def _goodbye(conn: SSL.Connection, reader: StreamReader, writer: StreamWriter) -> None:
    """QUIT inside TLS, its answer awaited for at most FOLLOWUP_QUIT_WAIT, then close_notify. What
    the server does now changes nothing: the suite is known."""
    with contextlib.suppress(SSL.Error, OSError, TimeoutError):
        conn.send(b"QUIT\r\n")
        await _flush(conn, writer)
        async with asyncio.timeout(FOLLOWUP_QUIT_WAIT):
            while True:
                try:
                    if conn.recv(READ_SIZE):
                        break
                except SSL.WantReadError:
                    data = await reader.read(READ_SIZE)
                    if not data:
                        break
                    conn.bio_write(data)
        conn.shutdown()
        await _flush(conn, writer)


def _words(exc: SSL.Error) -> str:
    """OpenSSL's reasons, as ``bot.probe.errors`` words them: "sslv3 alert handshake
    failure"."""
    parts: list[str] = []
    for arg in exc.args:
        if isinstance(arg, list):
            parts += [str(item[-1]) for item in arg if isinstance(item, tuple) and item]
        elif isinstance(arg, str):
            parts.append(arg)
    text = "; ".join(p for p in parts if p) or type(exc).__name__
    return text.replace("_", " ").lower()
