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
    Mrkdwn,
    actions,
    button,
    chunk_lines,
    context,
    header,
    mention,
    modal,
    mrkdwn,
    section,
    text_input,
    when,
)
from bot.slack.views.meta import Meta
from bot.slack.views.model import RequestCard

_STATE_MARK = {"approved": TICK, "rejected": CROSS, "expired": WARN, "superseded": WARN}


def request_message(card: RequestCard) -> dict[str, Any]:
    """``text`` + ``blocks`` for chat.postMessage / chat.update (at most 50 blocks)."""
    blocks: list[BlockDict] = [header(f"Change request #{card.id}: {card.title}")]
    blocks.append(
        context(mrkdwn("Requested by {} {}", mention(card.requester_id), when(card.created_at)))
    )
    items = [mrkdwn("• {}", item) for item in card.items]
    for text in chunk_lines(items)[:8]:
        blocks.append(section(text))
    if card.counts:
        counts = ", ".join(f"{n} {label}" for label, n in card.counts.items())
        blocks.append(section(mrkdwn("*Validation evidence:* {}", counts)))
    for text in chunk_lines([mrkdwn("{} {}", CROSS, p) for p in card.problems])[:8]:
        blocks.append(section(text))
    for text in chunk_lines([mrkdwn("{} {}", WARN, w) for w in card.warnings])[:4]:
        blocks.append(section(text))
    if card.state == "pending":
        if card.approvals:
            who = Mrkdwn(", ".join(mention(u) for u in card.approvals))
            so_far = mrkdwn(
                "Approved so far by {} ({} of {})", who, len(card.approvals), card.required
            )
            blocks.append(context(so_far))
        blocks.append(
            actions(
                button("Approve", Action.APPROVE, str(card.id), style="primary"),
                button("Reject", Action.REJECT, str(card.id), style="danger"),
            )
        )
    else:
        mark = _STATE_MARK.get(card.state, HOURGLASS)
        by = mrkdwn(" by {}", mention(card.decided_by)) if card.decided_by else ""
        at = mrkdwn(" {}", when(card.decided_at)) if card.decided_at is not None else ""
        why = mrkdwn("\nReason: {}", card.reason) if card.reason else ""
        line = mrkdwn("{} *{}*{}{}{}", mark, card.state.capitalize(), by, at, why)
        blocks.append(section(line))
    blocks = blocks[: MESSAGE_BLOCKS - 1] + blocks[MESSAGE_BLOCKS - 1 :][:1]
    text = mrkdwn("Change request #{}: {} ({})", card.id, card.title, card.state)
    return {"text": text, "blocks": blocks}


def reject_view(meta: Meta, request_id: int) -> dict[str, Any]:
    blocks = [
        section(mrkdwn("Reject change request #{}. The requester sees your reason.", request_id)),
        text_input(Block.REASON, Field.REASON, "Reason", multiline=True, max_length=1000),
    ]
    return modal(
        View.REJECT_REASON, "Reject request", blocks, metadata=meta.encode(), submit="Reject"
    )


def decision_dm(card: RequestCard) -> Mrkdwn:
    verb = {"approved": "approved", "rejected": "rejected"}.get(card.state, card.state)
    by = mrkdwn(" by {}", mention(card.decided_by)) if card.decided_by else ""
    why = mrkdwn(" Reason: {}", card.reason) if card.reason else ""
    return mrkdwn("Your change request #{} ({}) was {}{}.{}", card.id, card.title, verb, by, why)
