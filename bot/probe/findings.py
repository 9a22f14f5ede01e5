"""The sentences about a target beyond its verdict: one source for ``--json``, the text and Slack.

- :func:`warnings` — what a mail admin should act on, each a :class:`Finding` with a
  stable code: what the probe itself warns of (among it the DANE problems of a host
  whose verdict they do not explain: ``tlsa-invalid`` beside a WebPKI-trusted
  certificate, ``dnssec-invalid``), an MTA-STS policy that is broken, nonstandard or
  does not cover the MX hosts (the sentence made by :mod:`bot.probe.extras`), TLSA
  records that could not be checked because ``TLSBOT_DNSSEC`` is off (tlsbot does not
  validate DNSSEC itself, and without a validating resolver to trust DANE records are
  neither trustworthy nor matched, RFC 7672), and
  the notes :mod:`bot.probe.certs` makes on a host's certificates (a stale extra
  certificate the valid path does not use, one that cannot be parsed), once per host.
  ``TargetResult.to_dict()`` lists them under ``"warnings"``; the text output of
  ``tlsbot probe`` and Slack print the same ``message``.
- :func:`facts` — the extra facts SPEC lists, one short line each: the DNSSEC status
  of the MX answer, each MX host's DANE result ("DANE verified (3 1 1 matches)"), the
  MTA-STS policy and whether it covers the MX hosts, the TLS-RPT record.
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
        seen = host.reasons if host.counted or not host.tested else ()
        dane = tuple(w for w in host.warnings if w.code in _DANE_CODES) if host.counted else ()
        for reason in (*seen, *dane):
            names = by_code.setdefault(reason.code, [])
            if host.host not in names:
                names.append(host.host)
    for code, names in by_code.items():
        make = _HOST_STEPS.get(code)
        if make is not None:
            steps.append(make(domain, ", ".join(names)))
    sts = result.extras.mta_sts_error
    if sts is not None:
        steps.append(_STS_STEPS.get(sts.code, _STS_STEPS[Code.VALIDATION_FAILURE]).format(d=domain))
    for host in result.hosts:
        cert = host.certificate
        if cert is not None and 0 <= cert.days_to_expiry <= EXPIRY_SOON_DAYS:
            step = (
                f"remind {domain} that the certificate of {host.host} expires in "
                f"{cert.days_to_expiry} days ({cert.not_after:%Y-%m-%d})"
            )
            if step not in steps:
                steps.append(step)
    if not steps and result.dane_verified:
        steps.append(f"nothing: DNSSEC-signed TLSA records of {domain} match its certificates")
    elif not steps and result.verdict is Verdict.STRICT:
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
    Code.TLSA_INVALID: _ask(
        "publish TLSA records that match the certificate {hosts} serves (or serve the "
        "certificate its records name): senders that use DANE do not deliver there"
    ),
    Code.DANE_REQUIRED: _ask(
        "enable STARTTLS on {hosts}: they publish TLSA records, so DANE senders do not deliver"
    ),
    Code.DNSSEC_INVALID: _ask(
        "fix the DNSSEC signatures of the records of {hosts}: validating resolvers refuse them"
    ),
    Code.RECIPIENT_REJECTED: lambda domain, _h: (
        f"give an address that {domain} accepts (postmaster@{domain} usually is)"
    ),
}
_DANE_CODES = frozenset({Code.TLSA_INVALID, Code.DNSSEC_INVALID, Code.DANE_REQUIRED})
_STS_STEPS = {
    Code.VALIDATION_FAILURE: "ask {d} to list every MX host in its MTA-STS policy (mx: lines)",
    Code.STS_POLICY_FETCH_ERROR: (
        "ask {d} to serve its MTA-STS policy at https://mta-sts.{d}/.well-known/mta-sts.txt "
        "(HTTP 200, text/plain, no redirect)"
    ),
    Code.STS_POLICY_INVALID: "ask {d} to fix its MTA-STS policy or record (RFC 8461)",
    Code.STS_WEBPKI_INVALID: (
        "ask {d} to serve mta-sts.{d} with a certificate from a public CA that names it"
    ),
}
_TARGET_STEPS = {
    Code.DNSSEC_INVALID: (
        "ask {domain} to fix its DNSSEC: validating resolvers refuse its MX records, so "
        "mail to it is deferred"
    ),
    Code.DNS_NXDOMAIN: "check the spelling: {domain} does not exist in the DNS",
    Code.DNS_SERVFAIL: "ask {domain} to fix its DNS, which fails to answer, then validate again",
    Code.DNS_TIMEOUT: "validate {domain} again later: its DNS did not answer in time",
    Code.NULL_MX: "nothing to enforce: {domain} accepts no mail (null MX)",
    Code.NO_ADDRESS: "ask {domain} to publish an address for its MX hosts",
    Code.MX_IP_LITERAL: "ask {domain} to name its MX hosts, not IP addresses",
}
