"""The sentences about a target beyond its verdict: one source for ``--json``, the text and Slack.

- :func:`warnings` — what a mail admin should act on, each a :class:`Finding` with a
  stable code: an MTA-STS policy that is broken or does not cover the MX hosts (the
  sentence made by :mod:`bot.probe.extras`), TLSA records that were published but
  could not be checked (tlsbot does not validate DNSSEC, without which DANE records
  are neither trustworthy nor matched against the certificate, RFC 7672), and the
  notes :mod:`bot.probe.certs` makes on a host's certificates (a stale extra
  certificate the valid path does not use, one that cannot be parsed), once per host.
  ``TargetResult.to_dict()`` lists them under ``"warnings"``; the text output of
  ``tlsbot probe`` and Slack print the same ``message``.
- :func:`facts` — the extra facts SPEC lists, one short line each: the MTA-STS
  policy and whether it covers the MX hosts, the TLSA records, the TLS-RPT record.
- :func:`states` — the MTA-STS, DANE and DNSSEC state in one line each, absent ones
  included ("no MTA-STS policy published"), for a full view of the evidence.
- :func:`next_steps` — what a mail admin should do next, in their words ("ask
  partner.example to serve its intermediate certificate on mx1.partner.example"), one
  sentence per problem, from the reason codes.

A new warning about a target is added here, once; every output then shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.probe.model import Code, Verdict

if TYPE_CHECKING:
    from bot.probe.model import TargetResult

DANE_NOT_CHECKED = "dane-not-checked"
CERTIFICATE_NOTE = "certificate-note"


@dataclass(frozen=True, slots=True)
class Finding:
    """One warning: a stable code, one sentence, and the MX host it is about (if one)."""

    code: str
    message: str
    host: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "host": self.host}


def warnings(result: TargetResult) -> tuple[Finding, ...]:
    """Every warning about ``result`` beyond its reasons, in a stable order.

    First what the probe itself warns of (``result.every_warning``: an address not
    tested beside a tested one, a follow-up check refused, an MX target ignored),
    then the MTA-STS, DANE and certificate findings.
    """
    found: list[Finding] = [
        Finding(r.code.value, r.message, _host_of(result, r)) for r in result.every_warning
    ]
    extras = result.extras
    if extras.mta_sts_error is not None:
        error = extras.mta_sts_error
        message = error.message
        if "MTA-STS" not in message:
            message = f"MTA-STS policy of {result.domain}: {message}"
        found.append(Finding(error.code.value, message))
    for host, records in _tlsa_by_host(extras.tlsa):
        n = len(records)
        found.append(
            Finding(
                DANE_NOT_CHECKED,
                f"DANE: {host} publishes {n} TLSA record{'s' if n != 1 else ''} that tlsbot "
                "did not check (it does not validate DNSSEC); senders that use DANE refuse "
                "the server's certificate if they do not match it",
                host,
            )
        )
    seen: set[tuple[str, str]] = set()
    for probed in result.hosts:
        for note in probed.certificate.notes if probed.certificate is not None else ():
            if (probed.host, note) not in seen:
                seen.add((probed.host, note))
                found.append(Finding(CERTIFICATE_NOTE, f"{probed.host}: {note}", probed.host))
    return tuple(found)


def _host_of(result: TargetResult, reason: object) -> str | None:
    for probed in result.hosts:
        if reason in probed.warnings:
            return probed.host
    return None


def facts(result: TargetResult) -> tuple[str, ...]:
    """The MTA-STS, DANE and TLS-RPT facts of ``result``, one line each."""
    extras = result.extras
    lines = []
    if extras.mta_sts_mode is not None:
        line = f"MTA-STS: policy in {extras.mta_sts_mode} mode"
        if extras.mta_sts_mx:
            line += f", mx: {', '.join(extras.mta_sts_mx)}"
        if extras.mta_sts_mode != "none" and extras.mta_sts_error is None:
            line += ", covering every MX host"
        lines.append(line)
    elif extras.mta_sts_txt is not None:
        lines.append(f"MTA-STS: record published ({extras.mta_sts_txt}), no usable policy")
    for host, records in _tlsa_by_host(extras.tlsa):
        lines.append(f"DANE: TLSA at {host}: {'; '.join(records)} (not checked)")
    if extras.tls_rpt is not None:
        lines.append(f"TLS-RPT: {extras.tls_rpt}")
    return tuple(lines)


def _tlsa_by_host(tlsa: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """``"_25._tcp.mx.example. 3 1 1 ab…"`` grouped as ``("mx.example", ["3 1 1 ab…"])``."""
    by_host: dict[str, list[str]] = {}
    for line in tlsa:
        owner, _, record = line.partition(" ")
        labels = owner.rstrip(".").split(".")
        host = ".".join(labels[2:]) if len(labels) > 2 else owner.rstrip(".")
        by_host.setdefault(host, []).append(_short_tlsa(record))
    return list(by_host.items())


def _short_tlsa(record: str) -> str:
    """``3 1 1 abcdef…`` with the digest clipped to 16 hex digits."""
    parts = record.split(" ", 3)
    if len(parts) == 4 and len(parts[3]) > 16:
        parts[3] = parts[3][:16] + "…"
    return " ".join(parts)


def states(result: TargetResult) -> tuple[str, ...]:
    """MTA-STS, DANE and DNSSEC, one line each, saying so when nothing is published."""
    found = facts(result)
    lines = list(found)
    if not any(line.startswith("MTA-STS") for line in found):
        lines.insert(0, "MTA-STS: no policy published")
    if not any(line.startswith("DANE") for line in found):
        lines.append("DANE: no TLSA records published")
    if not any(line.startswith("DNSSEC") for line in found):
        lines.append("DNSSEC: not validated by this probe")
    return tuple(lines)


EXPIRY_SOON_DAYS = 30  # a certificate this close to expiry is worth a word


def next_steps(result: TargetResult) -> tuple[str, ...]:
    """What to do next, one sentence per problem, in a mail admin's words."""
    domain = result.domain or result.target
    steps: list[str] = []
    for reason in result.reasons:
        step = _TARGET_STEPS.get(reason.code)
        if step is not None:
            steps.append(step.format(domain=domain))
    by_code: dict[Code, list[str]] = {}
    for host in result.hosts:
        for reason in host.reasons if host.counted or not host.tested else ():
            names = by_code.setdefault(reason.code, [])
            if host.host not in names:
                names.append(host.host)
    for code, names in by_code.items():
        make = _HOST_STEPS.get(code)
        if make is not None:
            steps.append(make(domain, ", ".join(names)))
    if result.extras.mta_sts_error is not None:
        steps.append(f"ask {domain} to list every MX host in its MTA-STS policy (mx: lines)")
    for host in result.hosts:
        cert = host.certificate
        if cert is not None and 0 <= cert.days_to_expiry <= EXPIRY_SOON_DAYS:
            step = (
                f"remind {domain} that the certificate of {host.host} expires in "
                f"{cert.days_to_expiry} days ({cert.not_after:%Y-%m-%d})"
            )
            if step not in steps:
                steps.append(step)
    if not steps and result.verdict is Verdict.STRICT:
        steps.append(f"nothing: {domain} supports TLS with a trusted certificate")
    return tuple(_capital(s) for s in dict.fromkeys(steps))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _ask(what: str) -> Callable[[str, str], str]:
    return lambda domain, hosts: f"ask {domain} to {what.format(hosts=hosts)}"


_CHECK_REACH = "check that this host can reach {hosts} on port 25, then validate again"
_HOST_STEPS: dict[Code, Callable[[str, str], str]] = {
    Code.INCOMPLETE_CHAIN: _ask("serve its intermediate certificate on {hosts}"),
    Code.SELF_SIGNED: _ask(
        "install a certificate from a public CA on {hosts}; until then only a relaxed policy fits"
    ),
    Code.CERTIFICATE_NOT_TRUSTED: _ask(
        "use a certificate that chains to a public CA on {hosts}; until then only a relaxed "
        "policy fits"
    ),
    Code.VALIDATION_FAILURE: _ask("fix the certificate chain served on {hosts}"),
    Code.CERTIFICATE_EXPIRED: _ask("renew the expired certificate on {hosts}"),
    Code.CERTIFICATE_NOT_YET_VALID: _ask("check the validity dates of the certificate on {hosts}"),
    Code.CERTIFICATE_HOST_MISMATCH: _ask("use a certificate that names {hosts}"),
    Code.STARTTLS_NOT_SUPPORTED: _ask(
        "enable STARTTLS on {hosts}; no TLS policy can be enforced until then"
    ),
    Code.STARTTLS_REFUSED: _ask("let {hosts} accept STARTTLS (it answers with an error)"),
    Code.TLS_VERSION_TOO_OLD: _ask("enable TLS 1.2 or newer on {hosts}"),
    Code.NO_AES256_SUITE: _ask("enable an AES-256 cipher suite on {hosts}"),
    Code.HANDSHAKE_FAILED: _ask("check the TLS set-up of {hosts}: the handshake fails"),
    Code.CONNECT_REFUSED: lambda _d, hosts: _CHECK_REACH.format(hosts=hosts),
    Code.CONNECT_FAILED: lambda _d, hosts: _CHECK_REACH.format(hosts=hosts),
    Code.TIMEOUT: lambda _d, hosts: _CHECK_REACH.format(hosts=hosts),
    Code.SMTP_GREETING_ERROR: _ask("check why {hosts} refuses the SMTP session"),
    Code.RECIPIENT_REJECTED: lambda domain, _h: (
        f"give an address that {domain} accepts (postmaster@{domain} usually is)"
    ),
}
_TARGET_STEPS = {
    Code.DNS_NXDOMAIN: "check the spelling: {domain} does not exist in the DNS",
    Code.DNS_SERVFAIL: "ask {domain} to fix its DNS, which fails to answer, then validate again",
    Code.DNS_TIMEOUT: "validate {domain} again later: its DNS did not answer in time",
    Code.NULL_MX: "nothing to enforce: {domain} accepts no mail (null MX)",
    Code.NO_ADDRESS: "ask {domain} to publish an address for its MX hosts",
    Code.MX_IP_LITERAL: "ask {domain} to name its MX hosts, not IP addresses",
}
