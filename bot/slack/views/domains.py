"""Steps 2–4: external domains (paged), Add External Domains, the batch review,
per-domain Validate, and the Finish summary with Edit."""

from __future__ import annotations

from typing import Any

from bot.slack.ids import Action, Block, Field, View
from bot.slack.views.kit import (
    CROSS,
    HOURGLASS,
    TICK,
    BlockDict,
    Mrkdwn,
    actions,
    button,
    chunk_lines,
    context,
    divider,
    escape,
    header,
    modal,
    mrkdwn,
    section,
    text_input,
)
from bot.slack.views.meta import Meta
from bot.slack.views.model import BatchReview, DomainRow, DomainsPage, RowState, Summary
from bot.slack.views.results import SUPPORTS_TLS, collapsed_line, evidence_lines, mark, short

TITLE = "TLS policies"
PAGE_SIZE = 25  # two blocks a row: 50 of the 100 a view holds
MAX_BATCH = 50
REVIEW_ROWS = 50  # one block per problem line at most


def row_blocks(row: DomainRow, expanded: bool) -> list[BlockDict]:
    """A row: domain, status and one line (collapsed), or its whole evidence (expanded)."""
    if row.validating:
        status = f"{HOURGLASS} Validating…"
    elif row.verdict is None:
        status = "_not validated yet_"
    elif row.verdict.ok:
        status = f"{TICK} {SUPPORTS_TLS} ({row.verdict.label})"
    else:
        status = f"{mark(row.verdict)} *{row.verdict.label}*"
    if row.state is RowState.POLICY:
        status += f" · policy: {row.level or 'strict'}"
    elif row.state is RowState.PENDING:
        status += " · awaiting approval"
    found = row.evidence if not row.validating and row.verdict is not None else None
    text = mrkdwn("*{}*\n{}", row.domain, Mrkdwn(status))
    line = collapsed_line(found.result) if found is not None else None
    if line and not expanded:
        text = mrkdwn("{}\n{}", text, short(line)[0])
    blocks: list[BlockDict] = [section(text)]
    if expanded and found is not None:
        evidence = chunk_lines(evidence_lines(found.result, found.at))
        blocks.append(section(evidence[0] if evidence else mrkdwn("_No evidence._")))
    if row.state is RowState.PENDING:
        return blocks
    buttons = [button("Validate", Action.DOMAIN_VALIDATE, row.key)]
    if found is not None:
        more = ("Less", Action.DOMAIN_LESS) if expanded else ("More", Action.DOMAIN_MORE)
        buttons.append(button(more[0], more[1], row.key))
    buttons.append(button("Remove", Action.DOMAIN_REMOVE, row.key, style="danger"))
    blocks.append(actions(*buttons))
    return blocks


def domains_view(page: DomainsPage, meta: Meta) -> dict[str, Any]:
    blocks: list[BlockDict] = [header("External domains")]
    intro = mrkdwn(
        "{} external domain TLS {} in force. Add the partner domains whose mail must travel "
        "over TLS.",
        page.total_policies,
        _policies(page.total_policies),
    )
    blocks.append(section(intro))
    if page.notice:
        blocks.append(section(escape(page.notice)))
    if page.progress is not None and page.progress.done < page.progress.total:
        blocks.append(
            section(
                mrkdwn(
                    "{} Validating {} of {}…", HOURGLASS, page.progress.done, page.progress.total
                )
            )
        )
    blocks.append(divider())
    expanded = set(page.expanded)
    for row in page.rows[:PAGE_SIZE]:
        blocks.extend(row_blocks(row, row.key in expanded))
    if not page.rows:
        blocks.append(section(mrkdwn("_No external domains yet._")))
    nav = []
    if page.page > 0:
        nav.append(button("◀ Previous", Action.DOMAINS_PAGE, str(page.page - 1)))
    if page.page + 1 < page.pages:
        nav.append(button("Next page ▶", Action.DOMAINS_PAGE, str(page.page + 1)))
    if nav:
        blocks.append(context(mrkdwn("Page {} of {}", page.page + 1, page.pages)))
        blocks.append(actions(*nav))
    for item in page.pending[:5]:
        blocks.append(context(mrkdwn("{} Awaiting approval: {}", HOURGLASS, item.text)))
    footer = [button("Add External Domains", Action.DOMAINS_ADD)]
    if page.draft_lines:
        footer.append(button("Finish", Action.FINISH, style="primary"))
    blocks.append(actions(*footer))
    return modal(View.DOMAINS, TITLE, blocks, metadata=meta.encode())


def domains_add_view(meta: Meta, initial: str = "") -> dict[str, Any]:
    blocks = [
        section(
            mrkdwn(
                "One domain per line, at most {} lines. *Continue* checks each line; "
                "larger lists go in several batches.",
                MAX_BATCH,
            )
        ),
        text_input(
            Block.DOMAINS,
            Field.DOMAINS,
            "External domains",
            multiline=True,
            initial=initial,
            placeholder="partner.example\nsupplier.example",
        ),
    ]
    return modal(View.DOMAINS_ADD, TITLE, blocks, metadata=meta.encode(), submit="Continue")


def review_view(review: BatchReview, meta: Meta) -> dict[str, Any]:
    clean, problems = review.clean, review.problems
    blocks: list[BlockDict] = [header("Check the list")]
    blocks.append(section(mrkdwn("{} {} {} ready to add.", TICK, len(clean), _domains(len(clean)))))
    if problems:
        blocks.append(
            section(
                mrkdwn(
                    "{} {} {} cannot be added; *Remove* them, or fix the list and try again.",
                    CROSS,
                    len(problems),
                    _lines(len(problems)),
                )
            )
        )
    for line in problems[:REVIEW_ROWS]:
        text = mrkdwn("Line {}: `{}` — {}", line.number, line.text[:120] or " ", line.problem or "")
        blocks.append(
            section(text, accessory=button("Remove", Action.BATCH_REMOVE, str(line.number)))
        )
    if clean:
        names = [mrkdwn("• {}", line.domain or line.text) for line in clean]
        for text in chunk_lines(names)[:3]:
            blocks.append(section(text))
    submit = "Add" if clean and not problems else None
    if not problems and not clean:
        blocks.append(section(mrkdwn("_Nothing to add._")))
    return modal(View.DOMAINS_REVIEW, TITLE, blocks, metadata=meta.encode(), submit=submit)


def domain_validate_view(domain: str, meta: Meta) -> dict[str, Any]:
    blocks = [
        section(
            mrkdwn(
                "*Validate {}*: its MX hosts are tested for STARTTLS. Enter an email "
                "address at {}; nothing is sent.",
                domain,
                domain,
            )
        ),
        text_input(Block.EMAIL, Field.EMAIL, "Email address", placeholder=f"postmaster@{domain}"),
    ]
    return modal(View.DOMAIN_VALIDATE, TITLE, blocks, metadata=meta.encode(), submit="Validate")


def summary_view(summary: Summary, meta: Meta) -> dict[str, Any]:
    n = summary.total_policies
    blocks: list[BlockDict] = [
        header("Summary"),
        section(mrkdwn("*{}* external domain TLS {}.", n, _policies(n))),
    ]
    if summary.request_id is not None:
        lines = [mrkdwn("• {}", item) for item in summary.requested]
        waits = mrkdwn("{} Change request #{} awaits approval:", HOURGLASS, summary.request_id)
        blocks.append(section(waits))
        for text in chunk_lines(lines)[:5]:
            blocks.append(section(text))
    others = [p for p in summary.pending if p.request_id != summary.request_id]
    for item in others[:10]:
        blocks.append(context(mrkdwn("{} Also awaiting approval: {}", HOURGLASS, item.text)))
    blocks.append(actions(button("Edit", Action.EDIT)))
    return modal(View.SUMMARY, TITLE, blocks, metadata=meta.encode())


def working_view(text: str = "Working…", *, working: bool = True) -> dict[str, Any]:
    """A one-line modal: work in progress, or (``working=False``) a message to read."""
    line = mrkdwn("{} {}", HOURGLASS, text) if working else escape(text)
    return modal(View.WORKING, TITLE, [section(line)])


def _policies(n: int) -> str:
    return "policy" if n == 1 else "policies"


def _domains(n: int) -> str:
    return "domain" if n == 1 else "domains"


def _lines(n: int) -> str:
    return "line" if n == 1 else "lines"
