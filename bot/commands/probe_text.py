"""The text output of ``tlsbot probe``: one verdict per target, then its detail.

Per target: the verdict line; the target's reasons; each host (address, verdict,
TLS version and cipher, certificate expiry) with its reasons; the extra facts
(:func:`bot.probe.findings.facts`) and every warning (:func:`bot.probe.findings.warnings`),
in the same words as ``--json``. When the batch shows that this host cannot reach
port 25 (:class:`~bot.probe.diagnose.PortBlocked`), that is said once, at the end,
and the hosts it explains are not listed one by one.
"""

from __future__ import annotations

from datetime import datetime
from typing import TextIO

from bot.probe.diagnose import PortBlocked, failed_to_connect
from bot.probe.findings import facts, warnings
from bot.probe.model import HostResult, TargetResult

TICK, CROSS, WARN = "✓", "✗", "⚠"


def write_results(
    results: list[TargetResult], diagnosis: PortBlocked | None, stream: TextIO
) -> None:
    for result in results:
        stream.write("".join(line + "\n" for line in result_lines(result, diagnosis)))
    if diagnosis is not None:
        stream.write(f"\n{CROSS} {diagnosis.message}\n")


def result_lines(result: TargetResult, diagnosis: PortBlocked | None = None) -> list[str]:
    mark = TICK if result.verdict.ok else CROSS
    name = result.target if result.target == result.domain else f"{result.target} ({result.domain})"
    lines = [f"{mark} {name}: {result.label} [{result.verdict.value}]"]
    lines += [f"    {reason.code.value}: {reason.message}" for reason in result.reasons]
    if result.implicit_mx:
        lines.append("    no MX record: the domain's own address receives its mail")
    hidden: list[str] = []
    for host in result.hosts:
        if diagnosis is not None and failed_to_connect(host):
            hidden.append(f"{host.host} {_at(host)}")
        else:
            lines += host_lines(host)
    if hidden:
        lines.append(f"  {CROSS} not reached: {', '.join(hidden)} (see the note at the end)")
    lines += [f"    {fact}" for fact in facts(result)]
    lines += [f"    {WARN} {w.code}: {w.message}" for w in warnings(result)]
    return lines


def host_lines(host: HostResult) -> list[str]:
    mark = TICK if host.verdict.ok else CROSS
    line = f"  {mark} {host.host} {_at(host)} {host.verdict.value}"
    if host.tls_version:
        line += f" {host.tls_version} {host.cipher}"
    cert = host.certificate
    if cert is not None:
        line += ", certificate " + _expiry(cert.not_after, cert.days_to_expiry)
    lines = [line]
    lines += [f"      {reason.code.value}: {reason.message}" for reason in host.reasons]
    if host.recipient_accepted is True:
        lines.append("      the recipient address was accepted (RCPT TO inside TLS)")
    return lines


def _at(host: HostResult) -> str:
    where = host.address or "no address"
    if host.address and ":" in host.address:
        where = f"[{host.address}]"
    return f"{where}:{host.port}"


def _expiry(not_after: datetime, days: int) -> str:
    if days < 0:
        return f"expired {not_after:%Y-%m-%d} ({-days} days ago)"
    return f"expires {not_after:%Y-%m-%d} ({days} days)"
