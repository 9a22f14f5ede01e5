"""How a probe result reads in Slack: ticks, labels, reasons, facts, warnings, More / Less.

The facts and warnings are :mod:`bot.probe.findings`' sentences, the ones ``--json``
and ``tlsbot probe`` print; a batch that shows this host cannot reach port 25 says so
once (:func:`batch_notice`, from :mod:`bot.probe.diagnose`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.probe.diagnose import diagnose, failed_to_connect
from bot.probe.findings import facts, warnings
from bot.probe.model import HostResult, TargetResult, Verdict
from bot.slack.views.kit import (
    CROSS,
    TICK,
    WARN,
    BlockDict,
    Mrkdwn,
    chunk_lines,
    mrkdwn,
    section,
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
    if result.reasons:
        return result.reasons[0].message
    for host in result.hosts:
        if not host.verdict.ok and host.reasons:
            return f"{host.host}: {host.reasons[0].message}"
    return None


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


def detail_lines(result: TargetResult) -> list[Mrkdwn]:
    lines = [mrkdwn("{} {}", mark(result.verdict), r.message) for r in result.reasons]
    lines += [host_line(h) for h in result.hosts]
    if result.implicit_mx:
        lines.append(mrkdwn("_No MX record: the domain's own address receives its mail._"))
    lines += [mrkdwn("_{}_", fact) for fact in facts(result)]
    return lines + warning_lines(result)


def batch_notice(results: Iterable[TargetResult]) -> Mrkdwn | None:
    """One sentence when the results show that this host cannot reach port 25."""
    diagnosis = diagnose(results)
    return mrkdwn("{} {}", WARN, diagnosis.message) if diagnosis is not None else None


def explained_by_notice(result: TargetResult) -> bool:
    """Every host that failed failed to connect: the batch notice says why, once."""
    failed = [h for h in result.hosts if not h.verdict.ok]
    return bool(failed) and not result.reasons and all(failed_to_connect(h) for h in failed)


def check_message(result: TargetResult) -> dict[str, Any]:
    """The private answer to ``/tls check``."""
    is_domain = result.kind.value != "route"
    head = mrkdwn("*{}*: {}", result.target, verdict_text(result.verdict, domain=is_domain))
    reason = first_reason(result)
    if reason and not result.verdict.ok:
        head = mrkdwn("{}\n{}", head, reason)
    notice = batch_notice([result])
    if notice is not None:
        head = mrkdwn("{}\n{}", head, notice)
    blocks: list[BlockDict] = [section(head)]
    for text in chunk_lines(detail_lines(result))[:10]:
        blocks.append(section(text))
    plain_text = mrkdwn("{}: {}", result.target, result.label)
    return {"text": plain_text, "blocks": blocks}
