"""The App Home tab: policies by level, pending requests, failed validations, recent changes."""

from __future__ import annotations

from typing import Any

from bot.slack.ids import Action, View
from bot.slack.views.approval import when
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


def home_view(data: HomeData) -> dict[str, Any]:
    levels = ", ".join(f"*{n}* {level}" for level, n in sorted(data.levels.items())) or "none yet"
    total = sum(data.levels.values())
    blocks = [
        header("TLS policies"),
        section(f"{total} external domain TLS policies: {levels}. {data.routes} inbound routes."),
        actions(button("Set up TLS policies", Action.HOME_SETUP, style="primary")),
        divider(),
        header("Awaiting approval"),
    ]
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
