"""Hand-built Postfix log lines, in the wording of Postfix's sources (tls_misc.c, log_adhoc.c)."""

from __future__ import annotations

CIPHER = (
    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 "
    "server-signature ECDSA (prime256v1) server-digest SHA256"
)


def tls(
    pid: int,
    relay: str,
    level: str = "Verified",
    stamp: str = "Dec  4 10:00:00",
    version: str = "TLSv1.3",
    verb: str = "established",
) -> str:
    cipher = CIPHER.replace("TLSv1.3", version)
    return (
        f"{stamp} gateway postfix/smtp[{pid}]: {level} TLS connection {verb} to {relay}: {cipher}"
    )


def status(
    pid: int,
    qid: str,
    rcpt: str,
    relay: str,
    state: str = "sent",
    text: str = "250 2.0.0 Ok: queued as 4Zq",
    stamp: str = "Dec  4 10:00:01",
    program: str = "smtp",
    extra: str = "",
) -> str:
    dsn = "2.0.0" if state == "sent" else "4.7.5"
    return (
        f"{stamp} gateway postfix/{program}[{pid}]: {qid}: to=<{rcpt}>,{extra} relay={relay}, "
        f"delay=0.12, delays=0.06/0.02/0.02/0.02, dsn={dsn}, status={state} ({text})"
    )


def removed(qid: str, stamp: str = "Dec  4 10:00:02") -> str:
    return f"{stamp} gateway postfix/qmgr[900]: {qid}: removed"


def relay(host: str, ip: str = "192.0.2.10") -> str:
    return f"{host}[{ip}]:25"
