"""The ``/tls help`` text."""

from __future__ import annotations

from typing import Any

from bot.slack.views.kit import Mrkdwn, context, escape, mrkdwn, section

USAGE = Mrkdwn(
    "Usage: /tls setup | add | remove | check | status | routes | audit | policy delete | help"
)

HELP_LINES = (
    ("`/tls setup`", "the whole flow: inbound routes, external domains, validation, Finish"),
    ("`/tls add [DOMAIN…]`", "add external domains (opens the form; up to 50 per batch)"),
    ("`/tls remove DOMAIN…`", "ask to remove the TLS policy of these domains"),
    ("`/tls check DOMAIN|EMAIL`", "test a domain's mail servers now; only you see the answer"),
    ("`/tls status [DOMAIN]`", "policies by level, or one domain's policy and last result"),
    ("`/tls routes`", "the inbound routes and their last result"),
    ("`/tls audit [DOMAIN]`", "recent changes: who asked, who approved, when"),
    ("`/tls policy delete`", "ask to delete the whole TLS policy (Secure Delivery and Receipt)"),
    ("`/tls help`", "this text"),
)


def help_message(problem: str | None = None) -> dict[str, Any]:
    """An ephemeral message (``text`` + ``blocks``) listing the subcommands."""
    lines = "\n".join(f"{cmd} — {what}" for cmd, what in HELP_LINES)
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
    text = (escape(problem) + "\n" if problem else "") + USAGE
    return {"text": text, "blocks": blocks}
