"""The change request as posted to the approval channel, before and after the decision."""

from __future__ import annotations

from typing import Any

from bot.slack.ids import Action, Block, Field, View
from bot.slack.views.kit import (
    CROSS,
    HOURGLASS,
    MESSAGE_BLOCKS,
    TICK,
    WARN,
    BlockDict,
    actions,
    button,
    chunk_lines,
    context,
    escape,
    header,
    modal,
    section,
    text_input,
)
from bot.slack.views.meta import Meta
from bot.slack.views.model import RequestCard

_STATE_MARK = {"approved": TICK, "rejected": CROSS, "expired": WARN, "superseded": WARN}


def when(card_time: Any) -> str:
    stamp = int(card_time.timestamp())
    fallback = card_time.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{fallback}>"


def request_message(card: RequestCard) -> dict[str, Any]:
    """``text`` + ``blocks`` for chat.postMessage / chat.update (at most 50 blocks)."""
    blocks: list[BlockDict] = [header(f"Change request #{card.id}: {card.title}")]
    blocks.append(context(f"Requested by <@{card.requester_id}> {when(card.created_at)}"))
    items = [f"• {escape(item)}" for item in card.items]
    for text in chunk_lines(items)[:8]:
        blocks.append(section(text))
    if card.counts:
        counts = ", ".join(f"{n} {label}" for label, n in card.counts.items())
        blocks.append(section(f"*Validation evidence:* {counts}"))
    for text in chunk_lines([f"{CROSS} {escape(p)}" for p in card.problems])[:8]:
        blocks.append(section(text))
    for text in chunk_lines([f"{WARN} {escape(w)}" for w in card.warnings])[:4]:
        blocks.append(section(text))
    if card.state == "pending":
        if card.approvals:
            who = ", ".join(f"<@{u}>" for u in card.approvals)
            blocks.append(
                context(f"Approved so far by {who} ({len(card.approvals)} of {card.required})")
            )
        blocks.append(
            actions(
                button("Approve", Action.APPROVE, str(card.id), style="primary"),
                button("Reject", Action.REJECT, str(card.id), style="danger"),
            )
        )
    else:
        mark = _STATE_MARK.get(card.state, HOURGLASS)
        line = f"{mark} *{card.state.capitalize()}*"
        if card.decided_by:
            line += f" by <@{card.decided_by}>"
        if card.decided_at is not None:
            line += f" {when(card.decided_at)}"
        if card.reason:
            line += f"\nReason: {escape(card.reason)}"
        blocks.append(section(line))
    blocks = blocks[: MESSAGE_BLOCKS - 1] + blocks[MESSAGE_BLOCKS - 1 :][:1]
    text = f"Change request #{card.id}: {card.title} ({card.state})"
    return {"text": text, "blocks": blocks}


def reject_view(meta: Meta, request_id: int) -> dict[str, Any]:
    blocks = [
        section(f"Reject change request #{request_id}. The requester sees your reason."),
        text_input(Block.REASON, Field.REASON, "Reason", multiline=True, max_length=1000),
    ]
    return modal(
        View.REJECT_REASON, "Reject request", blocks, metadata=meta.encode(), submit="Reject"
    )


def decision_dm(card: RequestCard) -> str:
    verb = {"approved": "approved", "rejected": "rejected"}.get(card.state, card.state)
    text = f"Your change request #{card.id} ({card.title}) was {verb}"
    if card.decided_by:
        text += f" by <@{card.decided_by}>"
    text += "."
    if card.reason:
        text += f" Reason: {card.reason}"
    return text
