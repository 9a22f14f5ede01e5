"""The App Home tab: policies by level, monitoring (at risk first), pending requests,
failed validations, recent changes."""

from __future__ import annotations

from typing import Any

from bot.policy.evidence.traffic import Traffic
from bot.policy.monitor.alerts import Severity, SubjectKind
from bot.policy.monitor.history import RiskRow
from bot.slack.ids import Action, View
from bot.slack.views.gateways import state_line
from bot.slack.views.kit import (
    CROSS,
    HOURGLASS,
    VIEW_BLOCKS,
    Mrkdwn,
    actions,
    button,
    chunk_lines,
    divider,
    header,
    mention,
    mrkdwn,
    section,
    when,
)
from bot.slack.views.model import HomeData
from bot.slack.views.results import mark

_SEVERITY_ICON = {
    Severity.CRITICAL: ":red_circle:",
    Severity.WARNING: ":warning:",
    Severity.INFO: ":bulb:",
}


def risk_line(row: RiskRow) -> Mrkdwn:
    """One monitored policy or route: its worst open alert, else its last check."""
    what = "route" if row.kind is SubjectKind.ROUTE else "policy"
    name = mrkdwn("*{}* ({})", row.name, what)
    if row.severity is not None:
        line = mrkdwn("{} {}: {}", _SEVERITY_ICON[row.severity], name, ", ".join(row.alerts))
    elif row.last_verdict is not None:
        line = mrkdwn("{} {}: {}", mark(row.last_verdict), name, row.last_verdict.label)
    else:
        line = mrkdwn(":grey_question: {}: not checked yet", name)
    if row.last_checked_at is not None:
        line = mrkdwn("{} · checked {}", line, when(row.last_checked_at))
    return line


def traffic_line(traffic: Traffic) -> Mrkdwn:
    """One domain's real mail (Postfix's log): deferrals and weak deliveries stand out."""
    icon = ":white_check_mark:"
    if traffic.deferrals:
        icon = ":red_circle:"
    elif traffic.below("strict"):
        icon = ":warning:"
    return mrkdwn("{} {}", icon, traffic.summary())


def home_view(data: HomeData) -> dict[str, Any]:
    levels = ", ".join(f"*{n}* {level}" for level, n in sorted(data.levels.items())) or "none yet"
    total = sum(data.levels.values())
    blocks = [
        header("TLS policies"),
        section(
            mrkdwn(
                "{} external domain TLS policies: {}. {} inbound routes.",
                total,
                levels,
                data.routes,
            )
        ),
        actions(button("Set up TLS policies", Action.HOME_SETUP, style="primary")),
        divider(),
    ]
    if data.watched:
        at_risk = sum(1 for w in data.watched if w.at_risk)
        blocks.append(header("Monitoring: at risk first"))
        blocks.append(section(mrkdwn("*{}* at risk of {} listed.", at_risk, len(data.watched))))
        blocks += [section(t) for t in chunk_lines([risk_line(w) for w in data.watched])[:5]]
    if data.traffic:
        blocks.append(header("Real mail, last 7 days"))
        blocks += [section(t) for t in chunk_lines([traffic_line(t) for t in data.traffic])[:3]]
    if data.gateways:
        blocks.append(header("Gateways"))
        blocks.append(section(Mrkdwn("\n".join(state_line(g) for g in data.gateways))))
    blocks.append(header("Awaiting approval"))
    pending = [mrkdwn("{} #{} {}", HOURGLASS, p.request_id, p.text) for p in data.pending]
    nothing = [mrkdwn("_Nothing is waiting._")]
    blocks += [section(t) for t in chunk_lines(pending or nothing)[:5]]
    blocks.append(header("Last validation failed"))
    failed = [mrkdwn("{} *{}* — {}", CROSS, d, r) for d, r in data.failed]
    every = [mrkdwn("_Every policy validated._")]
    blocks += [section(t) for t in chunk_lines(failed or every)[:10]]
    blocks.append(header("Recent changes"))
    audit = [
        mrkdwn("{} {} {} {}", when(a.at), mention(a.actor_id), a.action, a.subject)
        for a in data.audit
    ]
    blocks += [section(t) for t in chunk_lines(audit or [mrkdwn("_No changes yet._")])[:10]]
    return {"type": "home", "callback_id": View.HOME.value, "blocks": blocks[:VIEW_BLOCKS]}
