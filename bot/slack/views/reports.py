"""Private answers to /tls status, routes, audit; and the policy delete modal."""

from __future__ import annotations

from typing import Any

from bot.policy.evidence.traffic import Traffic
from bot.policy.monitor.history import DomainStatus
from bot.probe.findings import partner_facts
from bot.slack.ids import Block, Field, View
from bot.slack.views.approval import when
from bot.slack.views.gateways import state_line
from bot.slack.views.kit import (
    MESSAGE_BLOCKS,
    Mrkdwn,
    chunk_lines,
    escape,
    mention,
    modal,
    mrkdwn,
    plain,
    section,
)
from bot.slack.views.meta import Meta
from bot.slack.views.model import AuditLine, DomainRow, HomeData, RouteRow
from bot.slack.views.results import mark

DELIVERY = "secure_delivery"
RECEIPT = "secure_receipt"


def _message(head: Mrkdwn, lines: list[Mrkdwn]) -> dict[str, Any]:
    blocks = [section(head), *[section(t) for t in chunk_lines(lines)][: MESSAGE_BLOCKS - 1]]
    return {"text": head, "blocks": blocks}


def status_message(data: HomeData) -> dict[str, Any]:
    total = sum(data.levels.values())
    levels = ", ".join(f"{n} {level}" for level, n in sorted(data.levels.items())) or "none"
    head = mrkdwn(
        "*{}* external domain TLS policies ({}); {} inbound routes.", total, levels, data.routes
    )
    lines = [mrkdwn(":hourglass_flowing_sand: #{} {}", p.request_id, p.text) for p in data.pending]
    lines += [mrkdwn(":x: *{}* — {}", d, r) for d, r in data.failed]
    if data.gateways:
        lines += [mrkdwn("*Gateways:*"), *(state_line(g) for g in data.gateways)]
    return _message(head, lines)


def domain_status_message(
    row: DomainRow | None,
    domain: str,
    history: DomainStatus | None = None,
    traffic: Traffic | None = None,
) -> dict[str, Any]:
    extra = traffic_lines(traffic) if traffic is not None else []
    if row is None:
        lines = history_lines(history) if history is not None else []
        return _message(mrkdwn("*{}* has no TLS policy.", domain), lines + extra)
    head = mrkdwn("*{}*: policy {}", domain, row.level or "?")
    if row.verdict is not None:
        head = mrkdwn("{}; last validation {} {}", head, mark(row.verdict), row.verdict.label)
    lines = [escape(row.detail)] if row.detail else []
    if history is not None:
        lines += history_lines(history)
    return _message(head, lines + extra)


def traffic_lines(traffic: Traffic) -> list[Mrkdwn]:
    """What real mail got, from Postfix's log: the last days' deliveries and TLS deferrals."""
    days = (traffic.until - traffic.since).days + 1
    icon = ":white_check_mark:" if traffic.clean_for("strict") else ":warning:"
    if not traffic.deliveries and not traffic.deferrals:
        icon = ":grey_question:"
    return [mrkdwn("*Real mail, last {} days:* {} {}", days, icon, traffic.summary())]


def history_lines(status: DomainStatus) -> list[Mrkdwn]:
    """The monitor's view of a domain: schedule, open alerts, certificates, changes, checks."""
    lines: list[Mrkdwn] = []
    watch: list[Mrkdwn] = []
    if status.mode:
        watch.append(mrkdwn("mode {}", status.mode))
    if status.relaxed_until is not None and status.level == "relaxed":
        watch.append(mrkdwn("relaxed until {}", when(status.relaxed_until)))
    if status.last_checked_at is not None:
        watch.append(mrkdwn("last checked {}", when(status.last_checked_at)))
    if status.next_check_at is not None:
        watch.append(mrkdwn("next check {}", when(status.next_check_at)))
    if watch:
        lines.append(mrkdwn("*Monitoring:* {}", Mrkdwn(", ".join(watch))))
    if status.partner is not None:
        published = partner_facts(status.partner)
        if published:
            lines.append(mrkdwn("*Partner publishes:* {}", "; ".join(published)))
    lines.append(mrkdwn("*Open alerts:*{}", "" if status.open_alerts else " none"))
    lines += [
        mrkdwn("• `{}` ({}) {} — {}", a.condition, a.severity.value, a.summary, when(a.raised_at))
        for a in status.open_alerts
    ]
    if status.certificates:
        lines.append(mrkdwn("*Certificate expiry:*"))
        lines += [
            mrkdwn(
                "• {}: {} ({} days), issuer {}", c.host, when(c.not_after), c.days_left, c.issuer
            )
            for c in status.certificates
        ]
    if status.level_changes:
        lines.append(mrkdwn("*Level changes:*"))
        lines += [
            mrkdwn("• {} {} → {} {}", when(c.at), c.before.label, mark(c.after), c.after.label)
            for c in status.level_changes
        ]
    lines.append(mrkdwn("*Last checks:*{}", "" if status.checks else " none yet"))
    for check in status.checks:
        why = mrkdwn(" — {}", check.reason) if check.reason else ""
        line = mrkdwn(
            "• {} {} {} by {}{}",
            when(check.at),
            mark(check.verdict),
            check.verdict.label,
            check.checked_by,
            why,
        )
        lines.append(line)
    return lines


def routes_message(routes: tuple[RouteRow, ...]) -> dict[str, Any]:
    if not routes:
        return _message(
            mrkdwn("No inbound route is configured yet. Use `/tls setup` to add one."), []
        )
    lines = []
    for route in routes:
        result = "not validated yet" if route.verdict is None else route.verdict.label
        icon = mark(route.verdict) if route.verdict is not None else ":grey_question:"
        failed = route.reason and route.verdict is not None and not route.verdict.ok
        why = mrkdwn(" — {}", route.reason) if failed else ""
        lines.append(mrkdwn("{} `{}` {}{}", icon, route.label, result, why))
    return _message(mrkdwn("*{}* inbound routes:", len(routes)), lines)


def audit_message(events: tuple[AuditLine, ...], domain: str | None) -> dict[str, Any]:
    about = mrkdwn(" for {}", domain) if domain else ""
    if not events:
        return _message(mrkdwn("No changes recorded{}.", about), [])
    lines = [
        mrkdwn("{} {} `{}` {}", when(e.at), mention(e.actor_id), e.action, e.subject)
        for e in events
    ]
    return _message(mrkdwn("Recent changes{}:", about), lines)


def policy_delete_view() -> dict[str, Any]:
    options = [
        {"text": plain("Secure Delivery (outbound)"), "value": DELIVERY},
        {"text": plain("Secure Receipt (inbound)"), "value": RECEIPT},
    ]
    blocks = [
        section(
            mrkdwn(
                "Delete the whole TLS policy. Approvers confirm it; until then nothing changes. "
                "Mail to and from these domains then falls back to opportunistic TLS."
            )
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
