"""The App Home tab: policies by level, monitoring (at risk first), pending requests,
failed validations, recent changes."""

from __future__ import annotations

from typing import Any

from bot.policy.monitor.alerts import Severity, SubjectKind
from bot.policy.monitor.history import RiskRow
from bot.slack.ids import Action, View
from bot.slack.views.approval import when
from bot.slack.views.gateways import state_line
from bot.slack.views.kit import (
    CROSS,
    HOURGLASS,
    VIEW_BLOCKS,
    actions,
    button,
    chunk_lines,
    divider,
    escape,
    header,
    section,
)
from bot.slack.views.model import HomeData
from bot.slack.views.results import mark

_SEVERITY_ICON = {
    Severity.CRITICAL: ":red_circle:",
    Severity.WARNING: ":warning:",
    Severity.INFO: ":bulb:",
}


def risk_line(row: RiskRow) -> str:
    """One monitored policy or route: its worst open alert, else its last check."""
    what = "route" if row.kind is SubjectKind.ROUTE else "policy"
    line = f"*{escape(row.name)}* ({what})"
    if row.severity is not None:
        line = f"{_SEVERITY_ICON[row.severity]} {line}: {escape(', '.join(row.alerts))}"
    elif row.last_verdict is not None:
        line = f"{mark(row.last_verdict)} {line}: {row.last_verdict.label}"
    else:
        line = f":grey_question: {line}: not checked yet"
    if row.last_checked_at is not None:
        line += f" · checked {when(row.last_checked_at)}"
    return line


def home_view(data: HomeData) -> dict[str, Any]:
    levels = ", ".join(f"*{n}* {level}" for level, n in sorted(data.levels.items())) or "none yet"
    total = sum(data.levels.values())
    blocks = [
        header("TLS policies"),
        section(f"{total} external domain TLS policies: {levels}. {data.routes} inbound routes."),
        actions(button("Set up TLS policies", Action.HOME_SETUP, style="primary")),
        divider(),
    ]
    if data.watched:
        at_risk = sum(1 for w in data.watched if w.at_risk)
        blocks.append(header("Monitoring: at risk first"))
        blocks.append(section(f"*{at_risk}* at risk of {len(data.watched)} listed."))
        blocks += [section(t) for t in chunk_lines([risk_line(w) for w in data.watched])[:5]]
    if data.gateways:
        blocks.append(header("Gateways"))
        blocks.append(section("\n".join(state_line(g) for g in data.gateways)))
    blocks.append(header("Awaiting approval"))
    pending = [f"{HOURGLASS} #{p.request_id} {escape(p.text)}" for p in data.pending]
    blocks += [section(t) for t in chunk_lines(pending or ["_Nothing is waiting._"])[:5]]
    blocks.append(header("Last validation failed"))
    failed = [f"{CROSS} *{escape(d)}* — {escape(r)}" for d, r in data.failed]
    blocks += [section(t) for t in chunk_lines(failed or ["_Every policy validated._"])[:10]]
    blocks.append(header("Recent changes"))
    audit = [
        f"{when(a.at)} <@{a.actor_id}> {escape(a.action)} {escape(a.subject)}" for a in data.audit
    ]
    blocks += [section(t) for t in chunk_lines(audit or ["_No changes yet._"])[:10]]
    return {"type": "home", "callback_id": View.HOME.value, "blocks": blocks[:VIEW_BLOCKS]}
