"""How a probe result reads in Slack: ticks, labels, reasons, facts, warnings, More / Less.

Every screen renders from the typed result (:meth:`TargetResult.from_dict` reads the
stored ones). Collapsed, a result is one line (:func:`collapsed_line`: the first of
:meth:`TargetResult.reasons_to_show` for a failure, the first warning for a pass);
*More* shows :func:`evidence_lines` (each host and address with its verdict, reason
codes and sentences, TLS version and cipher, the certificate, the MTA-STS / DANE /
DNSSEC state, when it was checked, and what to do next) and *Less* shows the
collapsed line again. The same builders serve the setup modal, ``/tls check``,
``/tls status DOMAIN`` and alerts.

The facts, warnings and next steps are :mod:`bot.probe.findings`' sentences, the ones
``--json`` and ``tlsbot probe`` print; a batch that shows this host cannot reach port
25 says so once (:func:`batch_notice`, from :mod:`bot.probe.diagnose`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.probe.diagnose import diagnose, failed_to_connect
from bot.probe.findings import next_steps, states, warnings
from bot.probe.model import CertificateInfo, HostResult, TargetResult, Verdict
from bot.slack.ids import Action
from bot.slack.views.kit import (
    CROSS,
    MESSAGE_BLOCKS,
    TICK,
    WARN,
    BlockDict,
    Mrkdwn,
    actions,
    button,
    chunk_lines,
    mrkdwn,
    section,
    when,
)

SUPPORTS_TLS = "Supports TLS"
SHORT_REASON = 140


def mark(verdict: Verdict) -> str:
    if verdict.ok:
        return TICK
    if verdict is Verdict.UNREACHABLE:
        return WARN
    return CROSS


def verdict_text(verdict: Verdict, *, domain: bool = False) -> Mrkdwn:
    """``✅ Supports TLS (Strict - Trusted Enforced)`` for a domain, the label for a route."""
    if domain and verdict.ok:
        return mrkdwn("{} *{}* ({})", mark(verdict), SUPPORTS_TLS, verdict.label)
    return mrkdwn("{} *{}*", mark(verdict), verdict.label)


def first_reason(result: TargetResult) -> str | None:
    """The first of :meth:`TargetResult.reasons_to_show`, or None."""
    shown = result.reasons_to_show()
    return shown[0] if shown else None


def collapsed_line(result: TargetResult) -> str | None:
    """The one line a collapsed result shows: why it failed, else its first warning."""
    if not result.verdict.ok:
        return first_reason(result)
    found = warnings(result)
    return f"{WARN} {found[0].message}" if found else None


def short(text: str, limit: int = SHORT_REASON) -> tuple[str, bool]:
    """The text clipped for the collapsed view, and whether it was clipped."""
    if len(text) <= limit:
        return text, False
    return text[: limit - 1] + "…", True


def host_line(host: HostResult) -> Mrkdwn:
    where = host.host
    if host.address and host.address != host.host:
        where += f" ({host.address})"
    tls = f" · {host.tls_version}" if host.tls_version else ""
    if host.tls_version and host.cipher:
        tls += f" {host.cipher}"
    why = " — " + "; ".join(r.message for r in host.reasons) if host.reasons else ""
    return mrkdwn("{} `{}:{}` {}{}{}", mark(host.verdict), where, host.port, host.label, tls, why)


def warning_lines(result: TargetResult) -> list[Mrkdwn]:
    return [mrkdwn("{} {}", WARN, w.message) for w in warnings(result)]


def certificate_line(cert: CertificateInfo) -> Mrkdwn:
    sans = ", ".join(cert.sans) or "none"
    return mrkdwn(
        "    certificate: subject `{}`, issuer `{}`, SANs {}, expires {} ({} days)",
        cert.subject,
        cert.issuer,
        sans,
        cert.not_after.strftime("%Y-%m-%d"),
        cert.days_to_expiry,
    )


def evidence_lines(result: TargetResult, checked_at: datetime | None = None) -> list[Mrkdwn]:
    """Everything the probe found, as *More* shows it."""
    lines: list[Mrkdwn] = []
    if checked_at is not None:
        lines.append(mrkdwn("*Checked* {}", when(checked_at)))
    lines.append(mrkdwn("*Verdict:* {} {}", mark(result.verdict), result.label))
    lines += [mrkdwn("{} `{}` {}", mark(result.verdict), r.code, r.message) for r in result.reasons]
    seen: set[tuple[str, str]] = set()
    for host in result.hosts:
        lines.append(_evidence_host(host))
        lines += [mrkdwn("    `{}` {}", r.code, r.message) for r in host.reasons]
        cert = host.certificate
        if cert is not None and (host.host, cert.sha256) not in seen:
            seen.add((host.host, cert.sha256))
            lines.append(certificate_line(cert))
    if result.implicit_mx:
        lines.append(mrkdwn("_No MX record: the domain's own address receives its mail._"))
    lines += [mrkdwn("_{}_", state) for state in states(result)]
    lines += warning_lines(result)
    steps = next_steps(result)
    if steps:
        lines.append(mrkdwn("*What to do next:*"))
        lines += [mrkdwn("• {}", step) for step in steps]
    return lines


def _evidence_host(host: HostResult) -> Mrkdwn:
    where = host.host if not host.address or host.address == host.host else None
    address = (
        mrkdwn("`{}:{}`", host.host, host.port)
        if where
        else mrkdwn("`{}` ({}) port {}", host.host, host.address, host.port)
    )
    tls = mrkdwn(" · {} {}", host.tls_version, host.cipher or "") if host.tls_version else ""
    counted = "" if host.counted else " (not counted)"
    return mrkdwn("{} {} *{}*{}{}", mark(host.verdict), address, host.verdict.label, tls, counted)


def more_less(action_more: Action, action_less: Action, value: str, expanded: bool) -> BlockDict:
    """The actions block under a result: *More* collapsed, *Less* expanded."""
    if expanded:
        return actions(button("Less", action_less, value))
    return actions(button("More", action_more, value))


def batch_notice(results: Iterable[TargetResult]) -> Mrkdwn | None:
    """One sentence when the results show that this host cannot reach port 25."""
    diagnosis = diagnose(results)
    return mrkdwn("{} {}", WARN, diagnosis.message) if diagnosis is not None else None


def explained_by_notice(result: TargetResult) -> bool:
    """Every host that failed failed to connect: the batch notice says why, once."""
    failed = [h for h in result.hosts if not h.verdict.ok]
    return bool(failed) and not result.reasons and all(failed_to_connect(h) for h in failed)


def check_message(
    result: TargetResult,
    *,
    validation_id: int | None = None,
    checked_at: datetime | None = None,
    expanded: bool = False,
) -> dict[str, Any]:
    """The private answer to ``/tls check``: one line, its warnings, and *More* / *Less*.

    The buttons carry the id of the stored validation (``validation_id``), from which a
    click rebuilds the answer; without one the evidence is shown at once.
    """
    is_domain = result.kind.value != "route"
    head = mrkdwn("*{}*: {}", result.target, verdict_text(result.verdict, domain=is_domain))
    reason = first_reason(result)
    if reason and not result.verdict.ok:
        head = mrkdwn("{}\n{}", head, reason)
    notice = batch_notice([result])
    if notice is not None:
        head = mrkdwn("{}\n{}", head, notice)
    blocks: list[BlockDict] = [section(head)]
    if expanded or validation_id is None:
        lines = evidence_lines(result, checked_at)
    else:
        lines = warning_lines(result)
    for text in chunk_lines(lines)[: MESSAGE_BLOCKS - 2]:
        blocks.append(section(text))
    if validation_id is not None:
        blocks.append(more_less(Action.CHECK_MORE, Action.CHECK_LESS, str(validation_id), expanded))
    plain_text = mrkdwn("{}: {}", result.target, result.label)
    return {"text": plain_text, "blocks": blocks}
