"""Step 1 of the flow: inbound routes, with Validate, Add route, Remove, Next."""

from __future__ import annotations

from typing import Any

from bot.slack.ids import Action, Block, Field, View
from bot.slack.views.kit import (
    HOURGLASS,
    WARN,
    Mrkdwn,
    actions,
    button,
    confirm_dialog,
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
from bot.slack.views.model import RoutesPage
from bot.slack.views.results import mark

TITLE = "TLS policies"
MAX_ROUTE_ROWS = 60  # each a section; the rest of the view stays under 100 blocks

NO_ROUTES = Mrkdwn(
    "No inbound route is configured yet. Inbound email must be prepared first: "
    "add the mail servers that receive your company's mail, then *Validate* them."
)


def routes_view(page: RoutesPage, meta: Meta) -> dict[str, Any]:
    blocks = [
        header("Inbound routes"),
        section(
            mrkdwn(
                "Your own mail servers that receive inbound mail. Every route must support TLS "
                "before you can go on to external domains."
            )
        ),
    ]
    if page.problem:
        blocks.append(section(mrkdwn("{} {}", WARN, page.problem)))
    if page.notice:
        blocks.append(section(escape(page.notice)))
    if page.validating:
        blocks.append(section(mrkdwn("{} Validating {} routes…", HOURGLASS, len(page.routes))))
    if not page.routes:
        blocks.append(section(NO_ROUTES))
    blocks.append(divider())
    for route in page.routes[:MAX_ROUTE_ROWS]:
        if route.verdict is None:
            result = mrkdwn("_not validated yet_")
        else:
            result = mrkdwn("{} *{}*", mark(route.verdict), route.verdict.label)
            if route.reason and not route.verdict.ok:
                result = mrkdwn("{}\n{}", result, route.reason)
        remove = button(
            "Remove",
            Action.ROUTE_REMOVE,
            str(route.id),
            confirm=confirm_dialog(
                "Remove route", mrkdwn("Ask approvers to remove `{}`?", route.label), "Remove"
            ),
        )
        blocks.append(section(mrkdwn("`{}`\n{}", route.label, result), accessory=remove))
    if len(page.routes) > MAX_ROUTE_ROWS:
        more = len(page.routes) - MAX_ROUTE_ROWS
        blocks.append(context(mrkdwn("…and {} more (`/tls routes`).", more)))
    for item in page.pending[:10]:
        blocks.append(context(mrkdwn("{} Awaiting approval: {}", HOURGLASS, item.text)))
    buttons = [button("Add route", Action.ROUTE_ADD)]
    if page.routes:
        buttons.append(button("Validate", Action.ROUTES_VALIDATE))
    buttons.append(button("Next", Action.ROUTES_NEXT, style="primary"))
    blocks.append(actions(*buttons))
    return modal(View.ROUTES, TITLE, blocks, metadata=meta.encode())


def route_add_view(meta: Meta) -> dict[str, Any]:
    blocks = [
        section(
            mrkdwn("Add an inbound route: one of your own mail servers. Approvers confirm it.")
        ),
        text_input(
            Block.ROUTE,
            Field.ROUTE,
            "Mail server",
            placeholder="mx1.corp.example or mx1.corp.example:25",
            hint="HOST[:PORT]; port 25 when omitted",
        ),
    ]
    return modal(View.ROUTE_ADD, TITLE, blocks, metadata=meta.encode(), submit="Add route")


def route_validate_view(meta: Meta) -> dict[str, Any]:
    blocks = [
        section(
            mrkdwn(
                "*Validate* tests STARTTLS on every inbound route. Enter an email address that "
                "your servers accept; nothing is sent."
            )
        ),
        text_input(
            Block.EMAIL, Field.EMAIL, "Email address", placeholder="postmaster@corp.example"
        ),
    ]
    return modal(View.ROUTE_VALIDATE, TITLE, blocks, metadata=meta.encode(), submit="Test")
