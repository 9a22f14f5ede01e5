"""The ``/tls help`` text, from the subcommand table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.slack.command_text import Subcommand, usage_line
from bot.slack.views.kit import Mrkdwn, context, escape, join, mrkdwn, section


def help_message(table: Sequence[Subcommand], problem: str | None = None) -> dict[str, Any]:
    """An ephemeral message (``text`` + ``blocks``) listing the subcommands."""
    lines = join("\n", (f"`{s.usage}` — {s.help}" for s in table))
    blocks = []
    if problem:
        blocks.append(section(mrkdwn(":grey_question: {}", problem)))
    blocks.append(
        section(mrkdwn("*tlsbot* makes TLS mandatory for the partner domains you name.\n{}", lines))
    )
    blocks.append(
        context(
            mrkdwn(
                "Every change is a request that an approver confirms; nothing changes until then."
            )
        )
    )
    text = Mrkdwn((escape(problem) + "\n" if problem else "") + escape(usage_line(table)))
    return {"text": text, "blocks": blocks}
