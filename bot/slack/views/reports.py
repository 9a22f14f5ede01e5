"""Private answers to /tls status, routes, audit; and the policy delete modal."""

from __future__ import annotations

from typing import Any

from bot.export.handover import PolicyGateway, Standing
from bot.policy.evidence.traffic import Traffic
from bot.policy.monitor.history import DomainStatus, PolicyLine
from bot.probe.findings import partner_facts
from bot.slack.ids import Action, Block, Field, View
from bot.slack.views.gateways import state_line
from bot.slack.views.kit import (
    MESSAGE_BLOCKS,
    BlockDict,
    Mrkdwn,
    actions,
    button,
    chunk_lines,
    context,
    join,
    mention,
    modal,
    mrkdwn,
    plain,
    section,
    when,
)
from bot.slack.views.meta import Meta
from bot.slack.views.model import AuditLine, DomainRow, HomeData, RouteRow, StatusPage
from bot.slack.views.results import evidence_lines, mark

DELIVERY = "secure_delivery"
RECEIPT = "secure_receipt"


def _message(head: Mrkdwn, lines: list[Mrkdwn]) -> dict[str, Any]:
    blocks = [section(head), *[section(t) for t in chunk_lines(lines)][: MESSAGE_BLOCKS - 1]]
    return {"text": head, "blocks": blocks}


def status_message(data: HomeData) -> dict[str, Any]:
    """The counts, pending requests, failed validations and gateways (App Home's summary)."""
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


_STANDING_MARK = {
    Standing.IN_FORCE: "✓",
    Standing.WAITING: "waiting",
    Standing.DRIFT: "drift",
    Standing.NOT_YET: "not published",
}


def policy_line(line: PolicyLine, on: tuple[PolicyGateway, ...]) -> Mrkdwn:
    """One policy: domain, level, mode, last check, certificate days left, gateway state."""
    icon = mark(line.last_verdict) if line.last_verdict is not None else ":grey_question:"
    checked = (
        mrkdwn("checked {}", when(line.last_checked_at))
        if line.last_checked_at
        else (mrkdwn("not checked yet"))
    )
    cert = mrkdwn(" · cert {} days", line.days_left) if line.days_left is not None else ""
    where = join(", ", (f"{g.title}: {_STANDING_MARK[g.standing]}" for g in on))
    gates = mrkdwn(" · {}", where) if on else ""
    return mrkdwn(
        "{} *{}* {} · {} · {}{}{}", icon, line.domain, line.level, line.mode, checked, cert, gates
    )


def status_list_message(page: StatusPage) -> dict[str, Any]:
    """``/tls status [FILTER]``: a page of policies with Previous / Next, within 50 blocks."""
    every = sum(page.levels.values())
    levels = ", ".join(f"{n} {level}" for level, n in sorted(page.levels.items())) or "none"
    first, last = page.offset + 1, page.offset + len(page.lines)
    head = mrkdwn(
        "*{}* external domain TLS policies ({}); {} inbound routes.", every, levels, page.routes
    )
    if page.lines:
        shown = mrkdwn("Policies ({}): {}–{} of {}", page.listing, first, last, page.total)
    else:
        shown = mrkdwn("No policy {}.", page.listing)
    blocks: list[BlockDict] = [section(mrkdwn("{}\n{}", head, shown))]
    rows = [policy_line(line, page.on_gateways.get(line.domain, ())) for line in page.lines]
    blocks += [section(t) for t in chunk_lines(rows)[:20]]
    nav = []
    if page.offset > 0:
        back = max(page.offset - page.size, 0)
        nav.append(button("◀ Previous", Action.STATUS_PAGE, f"{back} {page.listing.encode()}"))
    if last < page.total:
        nav.append(button("Next ▶", Action.STATUS_PAGE, f"{last} {page.listing.encode()}"))
    if nav:
        blocks.append(actions(*nav))
    extra = [mrkdwn(":hourglass_flowing_sand: #{} {}", p.request_id, p.text) for p in page.pending]
    if page.gateways:
        extra += [mrkdwn("*Gateways:*"), *(state_line(g) for g in page.gateways)]
    blocks += [section(t) for t in chunk_lines(extra)[:10]]
    blocks.append(
        context(mrkdwn("Filters: `/tls status strict | relaxed | observe | at-risk | PREFIX`"))
    )
    return {"text": head, "blocks": blocks[:MESSAGE_BLOCKS]}


def domain_status_message(
    row: DomainRow | None,
    domain: str,
    history: DomainStatus | None = None,
    traffic: Traffic | None = None,
    changes: tuple[AuditLine, ...] = (),
) -> dict[str, Any]:
    """``/tls status DOMAIN``: the policy, the full evidence, monitoring, changes, real mail."""
    extra = traffic_lines(traffic) if traffic is not None else []
    extra += change_lines(changes)
    if row is None:
        lines = history_lines(history) if history is not None else []
        return _message(mrkdwn("*{}* has no TLS policy.", domain), lines + extra)
    head = mrkdwn("*{}*: policy {}", domain, row.level or "?")
    if row.verdict is not None:
        head = mrkdwn("{}; last validation {} {}", head, mark(row.verdict), row.verdict.label)
    found = row.evidence
    lines = evidence_lines(found.result, found.at) if found is not None else []
    if history is not None:
        lines += history_lines(history)
    return _message(head, lines + extra)


def change_lines(changes: tuple[AuditLine, ...]) -> list[Mrkdwn]:
    """The domain's change history: its requests, approvals, applies (newest first)."""
    if not changes:
        return []
    lines = [mrkdwn("*Changes:*")]
    lines += [
        mrkdwn("• {} {} `{}` {}", when(c.at), mention(c.actor_id), c.action, c.subject)
        for c in changes
    ]
    return lines


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
