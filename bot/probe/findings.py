"""The sentences about a target beyond its verdict: one source for ``--json``, the text and Slack.

- :func:`warnings` — what a mail admin should act on, each a :class:`Finding` with a
  stable code: what the probe itself warns of (among it the DANE problems of a host
  whose verdict they do not explain: ``tlsa-invalid`` beside a WebPKI-trusted
  certificate, ``dnssec-invalid``), an MTA-STS policy that is broken, nonstandard or
  does not cover the MX hosts (the sentence made by :mod:`bot.probe.extras`), TLSA
  records that could not be checked because ``TLSBOT_DNSSEC`` is off (without a
  validating resolver DANE records are neither trustworthy nor matched, RFC 7672), and
  the notes :mod:`bot.probe.certs` makes on a host's certificates (a stale extra
  certificate the valid path does not use, one that cannot be parsed), once per host.
  ``TargetResult.to_dict()`` lists them under ``"warnings"``; the text output of
  ``tlsbot probe`` and Slack print the same ``message``.
- :func:`facts` — the extra facts SPEC lists, one short line each: the DNSSEC status
  of the MX answer, each MX host's DANE result ("DANE verified (3 1 1 matches)"), the
  MTA-STS policy and whether it covers the MX hosts, the TLS-RPT record.

A new warning about a target is added here, once; every output then shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the model imports this module while it serialises
    from bot.probe.model import HostResult, TargetResult
    from bot.probe.partner import PartnerTls

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
    for lenient in extras.mta_sts_warnings:
        found.append(Finding(lenient.code.value, f"{result.domain}: {lenient.message}"))
    checked = any(h.dane is not None for h in result.hosts)
    for host, records in [] if checked else _tlsa_by_host(extras.tlsa):
        n = len(records)
        found.append(
            Finding(
                DANE_NOT_CHECKED,
                f"DANE: {host} publishes {n} TLSA record{'s' if n != 1 else ''} that tlsbot "
                "did not check (TLSBOT_DNSSEC is off: set it to resolver, with a local "
                "validating resolver, to check them); senders that use DANE refuse the "
                "server's certificate if they do not match it",
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
    """The DNSSEC, DANE, MTA-STS and TLS-RPT facts of ``result``, one line each."""
    extras = result.extras
    lines = []
    if result.dnssec is not None:
        lines.append(f"DNSSEC: {_DNSSEC_WORDS[result.dnssec.value]}")
    daned = _dane_by_host(result.hosts)
    lines += [f"DANE: {host}: {text}" for host, text in daned]
    if extras.mta_sts_mode is not None:
        ident = f" (id {extras.mta_sts_id})" if extras.mta_sts_id else ""
        line = f"MTA-STS: policy{ident} in {extras.mta_sts_mode} mode"
        if extras.mta_sts_mx:
            line += f", mx: {', '.join(extras.mta_sts_mx)}"
        uncovered = _uncovered(result)
        if extras.mta_sts_mode != "none" and extras.mta_sts_error is None:
            line += ", covering every MX host"
        lines.append(line)
        if uncovered and extras.mta_sts_mode == "enforce":
            lines.append(
                f"MTA-STS enforce: does not list {', '.join(uncovered)}; senders that "
                "honour it will not deliver there"
            )
        elif uncovered and extras.mta_sts_mode == "testing":
            lines.append(
                f"MTA-STS testing: does not list {', '.join(uncovered)}; senders that "
                "honour it report a failure there and still deliver"
            )
    elif extras.mta_sts_txt is not None:
        lines.append(f"MTA-STS: record published ({extras.mta_sts_txt}), no usable policy")
    for host, records in [] if daned else _tlsa_by_host(extras.tlsa):
        lines.append(f"DANE: TLSA at {host}: {'; '.join(records)} (not checked)")
    if extras.tls_rpt is not None:
        lines.append(f"TLS-RPT: {extras.tls_rpt}")
    return tuple(lines)


def partner_facts(partner: PartnerTls) -> tuple[str, ...]:
    """What a partner publishes (as a policy keeps it), one short line each."""
    lines = []
    if partner.dnssec is not None:
        lines.append(f"DNSSEC: {_DNSSEC_WORDS[partner.dnssec.value]}")
    if partner.dane:
        lines.append("DANE: verified on every MX host, so enforced as dane-only")
    if partner.sts_mode is not None:
        mx = f", mx: {', '.join(partner.sts_mx)}" if partner.sts_mx else ""
        lines.append(f"MTA-STS: policy (id {partner.sts_id}) in {partner.sts_mode} mode{mx}")
    return tuple(lines)


def _uncovered(result: TargetResult) -> list[str]:
    """The MX hosts the MTA-STS policy's mx: patterns do not cover."""
    from bot.probe.sts_parse import StsPolicy

    extras = result.extras
    if extras.mta_sts_mode is None:
        return []
    policy = StsPolicy(extras.mta_sts_mode, tuple(extras.mta_sts_mx), 0)
    return [host for host in result.mx if not policy.matches(host)]


_DNSSEC_WORDS = {
    "secure": "the MX records are signed and validate (secure)",
    "insecure": "the MX records are not signed (insecure): DANE does not apply",
    "bogus": "the MX records fail validation (bogus): validating senders defer mail",
}
_DANE_WORDS = {
    "tlsa-invalid": "the TLSA records do not match the certificate: DANE senders will not "
    "deliver there",
    "dane-required": "signed, with TLSA records, but no STARTTLS: DANE senders will not "
    "deliver there",
    "dnssec-invalid": "DNSSEC validation fails (bogus): DANE senders defer mail there",
    "tlsa-lookup-failed": "the TLSA lookup fails: DANE senders defer mail there",
    "tlsa-unusable": "no TLSA record usable for SMTP: DANE senders use unauthenticated TLS",
    "not-signed": "TLSA records published, but not DNSSEC-signed: no sender uses them",
    "no-tlsa": "no TLSA record",
    "not-tested": "TLSA records not matched (no TLS session)",
}


def _dane_by_host(hosts: tuple[HostResult, ...]) -> list[tuple[str, str]]:
    """One DANE line per host name, from its counted addresses (the worst one speaks)."""
    lines: list[tuple[str, str]] = []
    for name in dict.fromkeys(h.host for h in hosts):
        results = [h.dane for h in hosts if h.host == name and h.counted and h.dane is not None]
        if not results:
            continue
        worst = next((d for d in results if d.status.problem), results[0])
        status = worst.status.value
        if status == "not-signed" and not worst.records:
            continue  # nothing published, nothing to say
        text = worst.message if status == "dane-valid" else _DANE_WORDS.get(status, status)
        lines.append((name, text))
    return lines


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
