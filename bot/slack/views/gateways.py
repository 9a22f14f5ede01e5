"""Block Kit for the gateways: hand-overs with *Mark applied*, their reminder, Mimecast
drift alerts with *Adopt* / *Revert*, and each gateway's state line. Pure builders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.export.handover import Change, GatewayLine, Standing
from bot.slack.ids import Action
from bot.slack.views.approval import when
from bot.slack.views.kit import (
    MESSAGE_BLOCKS,
    actions,
    button,
    chunk_lines,
    context,
    escape,
    section,
)

MAX_LISTED = 40  # domains listed per list in a diff; the file has them all


@dataclass(frozen=True)
class HandoverCard:
    id: int
    title: str  # "Microsoft 365 (Exchange Online)"
    file_name: str
    created_at: datetime
    changes: tuple[Change, ...] = ()
    applied_by: str | None = None  # user id
    applied_at: datetime | None = None
    superseded: bool = False


def diff_lines(changes: tuple[Change, ...]) -> list[str]:
    if not changes:
        return ["_No list changed since the last applied state._"]
    lines = []
    for change in changes:
        for sign, domains in (("+", change.added), ("−", change.removed)):
            if not domains:
                continue
            shown = ", ".join(f"`{escape(d)}`" for d in domains[:MAX_LISTED])
            more = f" and {len(domains) - MAX_LISTED} more" if len(domains) > MAX_LISTED else ""
            lines.append(f"*{change.list_name}* {sign} {shown}{more}")
    return lines


def handover_message(card: HandoverCard) -> dict[str, Any]:
    """The hand-over next to its file: the diff since the last applied state, *Mark applied*."""
    head = f":inbox_tray: *{escape(card.title)}*: hand-over #{card.id} `{card.file_name}`"
    blocks = [
        section(f"{head}\nApply the attached file, then click *Mark applied*."),
        section("*Changes since the last applied state:*"),
    ]
    blocks += [section(t) for t in chunk_lines(diff_lines(card.changes))[:10]]
    if card.applied_by and card.applied_at:
        blocks.append(
            section(f":white_check_mark: Applied by <@{card.applied_by}> {when(card.applied_at)}.")
        )
    elif card.superseded:
        blocks.append(section(":fast_forward: Replaced by a newer hand-over; apply that one."))
    else:
        blocks.append(
            actions(button("Mark applied", Action.GATEWAY_APPLIED, str(card.id), style="primary"))
        )
    blocks.append(context(f"prepared {when(card.created_at)}"))
    text = f"{card.title}: hand-over #{card.id} to apply ({card.file_name})"
    if card.applied_by:
        text = f"{card.title}: hand-over #{card.id} applied by <@{card.applied_by}>"
    return {"text": text, "blocks": blocks[:MESSAGE_BLOCKS]}


def reminder_message(card: HandoverCard) -> dict[str, Any]:
    text = (
        f":alarm_clock: *{escape(card.title)}*: hand-over #{card.id} has been waiting to be "
        f"applied since {when(card.created_at)}. Apply `{card.file_name}`, then click "
        "*Mark applied*."
    )
    return {
        "text": f"{card.title}: hand-over #{card.id} is still waiting to be applied",
        "blocks": [
            section(text),
            actions(button("Mark applied", Action.GATEWAY_APPLIED, str(card.id), style="primary")),
        ],
    }


@dataclass(frozen=True)
class DriftCard:
    id: int
    text: str  # "x.example was added to the Mimecast strict group outside tlsbot"
    detected_at: datetime
    request_id: int | None = None
    opened_by: str | None = None
    verb: str | None = None


def drift_message(card: DriftCard) -> dict[str, Any]:
    blocks = [
        section(f":warning: *Mimecast drift*: {escape(card.text)}."),
        section(
            "*What happens:* tlsbot leaves it as it is until a change request decides. "
            "*Adopt* makes it policy; *Revert* puts the group back as approved."
        ),
    ]
    if card.request_id is not None:
        blocks.append(
            section(
                f":inbox_tray: <@{card.opened_by}> opened change request #{card.request_id} "
                f"(*{card.verb}*); it awaits approval in the approval channel."
            )
        )
    else:
        blocks.append(
            actions(
                button("Adopt", Action.DRIFT_ADOPT, str(card.id), style="primary"),
                button("Revert", Action.DRIFT_REVERT, str(card.id), style="danger"),
                block_id=f"drift:{card.id}",
            )
        )
    blocks.append(context(f"gateway drift #{card.id} · detected {when(card.detected_at)}"))
    return {"text": f"Mimecast drift: {card.text}", "blocks": blocks}


def state_line(line: GatewayLine) -> str:
    title = f"*{escape(line.title)}*"
    if line.standing is Standing.WAITING and line.since is not None:
        return f":hourglass_flowing_sand: {title}: waiting to be applied since {when(line.since)}"
    if line.standing is Standing.DRIFT:
        return f":warning: {title}: drift — {escape(line.detail)}"
    if line.standing is Standing.NOT_YET:
        return f":grey_question: {title}: no hand-over applied yet"
    since = f" (since {when(line.since)}, {escape(line.detail)})" if line.since else ""
    return f":white_check_mark: {title}: in force{since}"
