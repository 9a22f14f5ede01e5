"""Private answers to /tls status, routes, audit; and the policy delete modal."""

from __future__ import annotations

from typing import Any

from bot.slack.ids import Block, Field, View
from bot.slack.views.approval import when
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
    return _message(head, lines)


def domain_status_message(row: DomainRow | None, domain: str) -> dict[str, Any]:
    if row is None:
        return _message(f"*{escape(domain)}* has no TLS policy.", [])
    head = f"*{escape(domain)}*: policy {row.level or '?'}"
    if row.verdict is not None:
        head += f"; last validation {mark(row.verdict)} {row.verdict.label}"
    lines = [escape(row.detail)] if row.detail else []
    return _message(head, lines)


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
