"""Private answers to /tls status, routes, audit; and the policy delete modal."""

from __future__ import annotations

from typing import Any

from bot.policy.monitor.history import DomainStatus
from bot.slack.ids import Block, Field, View
from bot.slack.views.approval import when
from bot.slack.views.gateways import state_line
from bot.slack.views.kit import (
    MESSAGE_BLOCKS,
    chunk_lines,
    escape,
    modal,
    plain,
    section,
)
from bot.slack.views.meta import Meta
from bot.slack.views.model import AuditLine, DomainRow, HomeData, RouteRow
from bot.slack.views.results import mark

DELIVERY = "secure_delivery"
RECEIPT = "secure_receipt"


def _message(head: str, lines: list[str]) -> dict[str, Any]:
    blocks = [section(head), *[section(t) for t in chunk_lines(lines)][: MESSAGE_BLOCKS - 1]]
    return {"text": head, "blocks": blocks}


def status_message(data: HomeData) -> dict[str, Any]:
    total = sum(data.levels.values())
    levels = ", ".join(f"{n} {level}" for level, n in sorted(data.levels.items())) or "none"
    head = f"*{total}* external domain TLS policies ({levels}); {data.routes} inbound routes."
    lines = [f":hourglass_flowing_sand: #{p.request_id} {escape(p.text)}" for p in data.pending]
    lines += [f":x: *{escape(d)}* — {escape(r)}" for d, r in data.failed]
    lines += ["*Gateways:*", *map(state_line, data.gateways)] if data.gateways else []
    return _message(head, lines)


def domain_status_message(
    row: DomainRow | None, domain: str, history: DomainStatus | None = None
) -> dict[str, Any]:
    if row is None:
        lines = history_lines(history) if history is not None else []
        return _message(f"*{escape(domain)}* has no TLS policy.", lines)
    head = f"*{escape(domain)}*: policy {row.level or '?'}"
    if row.verdict is not None:
        head += f"; last validation {mark(row.verdict)} {row.verdict.label}"
    lines = [escape(row.detail)] if row.detail else []
    if history is not None:
        lines += history_lines(history)
    return _message(head, lines)


def history_lines(status: DomainStatus) -> list[str]:
    """The monitor's view of a domain: schedule, open alerts, certificates, changes, checks."""
    lines = []
    watch = []
    if status.mode:
        watch.append(f"mode {status.mode}")
    if status.relaxed_until is not None and status.level == "relaxed":
        watch.append(f"relaxed until {when(status.relaxed_until)}")
    if status.last_checked_at is not None:
        watch.append(f"last checked {when(status.last_checked_at)}")
    if status.next_check_at is not None:
        watch.append(f"next check {when(status.next_check_at)}")
    if watch:
        lines.append("*Monitoring:* " + ", ".join(watch))
    lines.append("*Open alerts:*" + ("" if status.open_alerts else " none"))
    lines += [
        f"• `{escape(a.condition)}` ({a.severity.value}) {escape(a.summary)} — {when(a.raised_at)}"
        for a in status.open_alerts
    ]
    if status.certificates:
        lines.append("*Certificate expiry:*")
        lines += [
            f"• {escape(c.host)}: {when(c.not_after)} ({c.days_left} days), "
            f"issuer {escape(c.issuer)}"
            for c in status.certificates
        ]
    if status.level_changes:
        lines.append("*Level changes:*")
        lines += [
            f"• {when(c.at)} {c.before.label} → {mark(c.after)} {c.after.label}"
            for c in status.level_changes
        ]
    lines.append("*Last checks:*" + ("" if status.checks else " none yet"))
    for check in status.checks:
        line = f"• {when(check.at)} {mark(check.verdict)} {check.verdict.label}"
        line += f" by {escape(check.checked_by)}"
        if check.reason:
            line += f" — {escape(check.reason)}"
        lines.append(line)
    return lines


def routes_message(routes: tuple[RouteRow, ...]) -> dict[str, Any]:
    if not routes:
        return _message("No inbound route is configured yet. Use `/tls setup` to add one.", [])
    lines = []
    for route in routes:
        result = "not validated yet" if route.verdict is None else route.verdict.label
        icon = mark(route.verdict) if route.verdict is not None else ":grey_question:"
        line = f"{icon} `{escape(route.label)}` {result}"
        if route.reason and route.verdict is not None and not route.verdict.ok:
            line += f" — {escape(route.reason)}"
        lines.append(line)
    return _message(f"*{len(routes)}* inbound routes:", lines)


def audit_message(events: tuple[AuditLine, ...], domain: str | None) -> dict[str, Any]:
    about = f" for {escape(domain)}" if domain else ""
    if not events:
        return _message(f"No changes recorded{about}.", [])
    lines = [
        f"{when(e.at)} <@{e.actor_id}> `{escape(e.action)}` {escape(e.subject)}" for e in events
    ]
    return _message(f"Recent changes{about}:", lines)


def policy_delete_view() -> dict[str, Any]:
    options = [
        {"text": plain("Secure Delivery (outbound)"), "value": DELIVERY},
        {"text": plain("Secure Receipt (inbound)"), "value": RECEIPT},
    ]
    blocks = [
        section(
            "Delete the whole TLS policy. Approvers confirm it; until then nothing changes. "
            "Mail to and from these domains then falls back to opportunistic TLS."
        ),
        {
            "type": "input",
            "block_id": Block.CONFIRM.value,
            "label": plain("What to delete"),
            "element": {
                "type": "checkboxes",
                "action_id": Field.CONFIRM.value,
                "options": options,
                "initial_options": options,
            },
        },
    ]
    return modal(
        View.POLICY_DELETE, "Delete TLS policy", blocks, metadata=Meta().encode(), submit="Delete"
    )
