"""Block Kit for the gateways: hand-overs with *Mark applied*, their reminder, Mimecast
drift alerts with *Adopt* / *Revert*, and each gateway's state line. Pure builders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.export.handover import Change, GatewayLine, Standing
from bot.slack.ids import Action
from bot.slack.views.kit import (
    MESSAGE_BLOCKS,
    Mrkdwn,
    actions,
    button,
    chunk_lines,
    context,
    mention,
    mrkdwn,
    section,
    when,
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


def diff_lines(changes: tuple[Change, ...]) -> list[Mrkdwn]:
    if not changes:
        return [mrkdwn("_No list changed since the last applied state._")]
    lines = []
    for change in changes:
        for sign, domains in (("+", change.added), ("−", change.removed)):
            if not domains:
                continue
            shown = Mrkdwn(", ".join(mrkdwn("`{}`", d) for d in domains[:MAX_LISTED]))
            extra = len(domains) - MAX_LISTED
            more = mrkdwn(" and {} more", extra) if extra > 0 else ""
            lines.append(mrkdwn("*{}* {} {}{}", change.list_name, sign, shown, more))
    return lines


def handover_message(card: HandoverCard) -> dict[str, Any]:
    """The hand-over next to its file: the diff since the last applied state, *Mark applied*."""
    head = mrkdwn(":inbox_tray: *{}*: hand-over #{} `{}`", card.title, card.id, card.file_name)
    blocks = [
        section(mrkdwn("{}\nApply the attached file, then click *Mark applied*.", head)),
        section(mrkdwn("*Changes since the last applied state:*")),
    ]
    blocks += [section(t) for t in chunk_lines(diff_lines(card.changes))[:10]]
    if card.applied_by and card.applied_at:
        applied = mrkdwn(
            ":white_check_mark: Applied by {} {}.", mention(card.applied_by), when(card.applied_at)
        )
        blocks.append(section(applied))
    elif card.superseded:
        blocks.append(
            section(mrkdwn(":fast_forward: Replaced by a newer hand-over; apply that one."))
        )
    else:
        blocks.append(
            actions(button("Mark applied", Action.GATEWAY_APPLIED, str(card.id), style="primary"))
        )
    blocks.append(context(mrkdwn("prepared {}", when(card.created_at))))
    text = mrkdwn("{}: hand-over #{} to apply ({})", card.title, card.id, card.file_name)
    if card.applied_by:
        text = mrkdwn(
            "{}: hand-over #{} applied by {}", card.title, card.id, mention(card.applied_by)
        )
    return {"text": text, "blocks": blocks[:MESSAGE_BLOCKS]}


def reminder_message(card: HandoverCard) -> dict[str, Any]:
    text = mrkdwn(
        ":alarm_clock: *{}*: hand-over #{} has been waiting to be applied since {}. "
        "Apply `{}`, then click *Mark applied*.",
        card.title,
        card.id,
        when(card.created_at),
        card.file_name,
    )
    return {
        "text": mrkdwn("{}: hand-over #{} is still waiting to be applied", card.title, card.id),
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
        section(mrkdwn(":warning: *Mimecast drift*: {}.", card.text)),
        section(
            mrkdwn(
                "*What happens:* tlsbot leaves it as it is until a change request decides. "
                "*Adopt* makes it policy; *Revert* puts the group back as approved."
            )
        ),
    ]
    if card.request_id is not None:
        blocks.append(
            section(
                mrkdwn(
                    ":inbox_tray: {} opened change request #{} (*{}*); it awaits approval in "
                    "the approval channel.",
                    mention(card.opened_by or ""),
                    card.request_id,
                    card.verb,
                )
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
    blocks.append(
        context(mrkdwn("gateway drift #{} · detected {}", card.id, when(card.detected_at)))
    )
    return {"text": mrkdwn("Mimecast drift: {}", card.text), "blocks": blocks}


def state_line(line: GatewayLine) -> Mrkdwn:
    title = mrkdwn("*{}*", line.title)
    if line.standing is Standing.WAITING and line.since is not None:
        return mrkdwn(
            ":hourglass_flowing_sand: {}: waiting to be applied since {}", title, when(line.since)
        )
    if line.standing is Standing.DRIFT:
        return mrkdwn(":warning: {}: drift — {}", title, line.detail)
    if line.standing is Standing.NOT_YET:
        return mrkdwn(":grey_question: {}: no hand-over applied yet", title)
    since = mrkdwn(" (since {}, {})", when(line.since), line.detail) if line.since else ""
    return mrkdwn(":white_check_mark: {}: in force{}", title, since)
