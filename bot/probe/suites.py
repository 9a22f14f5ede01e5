"""Cipher suites the probe offers, and the AES-256-only follow-up handshakes.

SPEC asks for "TLS 1.2 or newer with AES-256 cipher suites" and counts a host as strict
when an AES-256 suite is *negotiable*. Postfix decides what its SMTP client offers by a
cipher grade; for enforced TLS the grade is ``high``, whose default list is
``tls_high_cipherlist = aNULL:-aNULL:HIGH:@STRENGTH`` (``postconf -d``, postconf(5)),
with the anonymous suites filtered out because a verifying client needs a certificate
(postconf(5), ``smtp_tls_mandatory_ciphers``). So:

- the first handshake (``bot.probe.tls.modern_context``) offers :data:`HIGH_GRADE` at
  TLS 1.2 and OpenSSL's default TLS 1.3 suites (all three are in ``HIGH``; TLS 1.3 suites
  are not set by a cipher list, in Postfix either), 256-bit suites first. That includes
  the TLS 1.2 suites with RSA key exchange (``AES256-SHA``, ``AES256-GCM-SHA384``) that
  Python's default list leaves out.
- when it settles on a suite that is not AES-256, the probe asks again offering AES-256
  only, one TLS version per connection, because a server picks its version before its
  suite and never falls back: :meth:`Aes256Asks.after` gives TLS 1.3 with
  ``TLS_AES_256_GCM_SHA384`` alone (only when the first handshake was TLS 1.3), then
  TLS 1.2 with the AES-256 suites of :data:`HIGH_GRADE`.

Python's ``ssl`` cannot restrict TLS 1.3 suites, so the follow-ups are pyOpenSSL contexts
(``Context.set_tls13_ciphersuites``, pyOpenSSL 25.2+, i.e. OpenSSL's
``SSL_CTX_set_ciphersuites``); ``bot.probe.tls.followup_handshake`` runs them over the
probe's own streams.
"""

from __future__ import annotations

from dataclasses import dataclass

from OpenSSL import SSL

# Postfix's "high" grade (tls_high_cipherlist) less the anonymous suites, as Postfix
# filters them for a client that verifies certificates, and less the PSK and SRP suites,
# which OpenSSL never offers without a PSK or SRP secret (so Postfix does not offer them).
HIGH_GRADE = "HIGH:!aNULL:!eNULL:!PSK:!SRP:@STRENGTH"
AES256_TLS12 = "AES256+HIGH:!aNULL:!eNULL:!PSK:!SRP:@STRENGTH"  # the AES-256 part of it
AES256_TLS13 = "TLS_AES_256_GCM_SHA384"  # SPEC's one AES-256 suite of TLS 1.3


@dataclass(frozen=True)
class Aes256Ask:
    """One AES-256-only offer: a pyOpenSSL client context that verifies nothing (the
    certificate is judged from the first handshake) and how to name it in a reason."""

    label: str  # "TLS_AES_256_GCM_SHA384 at TLS 1.3"
    version: str  # the one version offered: "TLSv1.3" or "TLSv1.2"
    context: SSL.Context


@dataclass(frozen=True)
class Aes256Asks:
    tls13: Aes256Ask
    tls12: Aes256Ask

    @classmethod
    def create(cls) -> Aes256Asks:
        return cls(
            tls13=Aes256Ask(
                f"{AES256_TLS13} at TLS 1.3",
                "TLSv1.3",
                _context(SSL.TLS1_3_VERSION, tls13=AES256_TLS13),
            ),
            tls12=Aes256Ask(
                "the AES-256 suites at TLS 1.2",
                "TLSv1.2",
                _context(SSL.TLS1_2_VERSION, tls12=AES256_TLS12),
            ),
        )

    def after(self, version: str | None) -> tuple[Aes256Ask, ...]:
        """The follow-ups to make, in order, after a first handshake at ``version`` that
        chose a suite that is not AES-256. A TLS 1.2 server was offered TLS 1.3 and did not
        take it: asking it at TLS 1.3 again would teach nothing."""
        if version == "TLSv1.3":
            return (self.tls13, self.tls12)
        return (self.tls12,)


def _context(version: int, *, tls12: str | None = None, tls13: str | None = None) -> SSL.Context:
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(version)
    ctx.set_max_proto_version(version)
    ctx.set_verify(SSL.VERIFY_NONE)
    ctx.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_NO_TICKET)
    if tls12 is not None:
        ctx.set_cipher_list(tls12.encode("ascii"))
    if tls13 is not None:
        ctx.set_tls13_ciphersuites(tls13.encode("ascii"))
    return ctx


def no_aes256_sentence(version: str | None, cipher: str | None, refused: tuple[str, ...]) -> str:
    """Why no AES-256 suite is negotiable, naming what the server does offer."""
    shown = (version or "").replace("TLSv", "TLS ")
    chose = f"the server chose {cipher}" + (f" at {shown}" if shown else "")
    if not refused:
        return f"no AES-256 cipher suite is negotiable ({chose})"
    return (
        f"no AES-256 cipher suite is negotiable: {chose} and refused "
        + " and ".join(refused)
        + " when offered alone"
    )
