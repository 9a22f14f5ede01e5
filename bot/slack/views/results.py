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
from bot.slack.views.kit import CROSS, TICK, WARN, BlockDict, chunk_lines, escape, section

SUPPORTS_TLS = "Supports TLS"
SHORT_REASON = 140


def mark(verdict: Verdict) -> str:
    if verdict.ok:
        return TICK
    if verdict is Verdict.UNREACHABLE:
        return WARN
    return CROSS


def verdict_text(verdict: Verdict, *, domain: bool = False) -> str:
    """``✅ Supports TLS (Strict - Trusted Enforced)`` for a domain, the label for a route."""
    if domain and verdict.ok:
        return f"{mark(verdict)} *{SUPPORTS_TLS}* ({verdict.label})"
    return f"{mark(verdict)} *{verdict.label}*"


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


def host_line(host: HostResult) -> str:
    where = escape(host.host)
    if host.address and host.address != host.host:
        where += f" ({host.address})"
    line = f"{mark(host.verdict)} `{where}:{host.port}` {host.verdict.label}"
    if host.tls_version:
        line += f" · {host.tls_version}"
        if host.cipher:
            line += f" {host.cipher}"
    if host.reasons:
        line += " — " + escape("; ".join(r.message for r in host.reasons))
    return line


def warning_lines(result: TargetResult) -> list[str]:
    return [f"{WARN} {escape(w.message)}" for w in warnings(result)]


def detail_lines(result: TargetResult) -> list[str]:
    lines = [f"{mark(result.verdict)} {escape(r.message)}" for r in result.reasons]
    lines += [host_line(h) for h in result.hosts]
    if result.implicit_mx:
        lines.append("_No MX record: the domain's own address receives its mail._")
    lines += [f"_{escape(fact)}_" for fact in facts(result)]
    return lines + warning_lines(result)


def batch_notice(results: Iterable[TargetResult]) -> str | None:
    """One sentence when the results show that this host cannot reach port 25."""
    diagnosis = diagnose(results)
    return f"{WARN} {diagnosis.message}" if diagnosis is not None else None


def explained_by_notice(result: TargetResult) -> bool:
    """Every host that failed failed to connect: the batch notice says why, once."""
    failed = [h for h in result.hosts if not h.verdict.ok]
    return bool(failed) and not result.reasons and all(failed_to_connect(h) for h in failed)


def check_message(result: TargetResult) -> dict[str, Any]:
    """The private answer to ``/tls check``."""
    is_domain = result.kind.value != "route"
    head = f"*{escape(result.target)}*: {verdict_text(result.verdict, domain=is_domain)}"
    reason = first_reason(result)
    if reason and not result.verdict.ok:
        head += f"\n{escape(reason)}"
    notice = batch_notice([result])
    if notice is not None:
        head += f"\n{escape(notice)}"
    blocks: list[BlockDict] = [section(head)]
    for text in chunk_lines(detail_lines(result))[:10]:
        blocks.append(section(text))
    plain_text = f"{result.target}: {result.verdict.label}"
    return {"text": plain_text, "blocks": blocks}
