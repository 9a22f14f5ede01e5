"""Step 1 of the flow: inbound routes, with Validate, Add route, Remove, Next."""

from __future__ import annotations

from typing import Any

from bot.slack.ids import Action, Block, Field, View
from bot.slack.views.kit import (
    HOURGLASS,
    WARN,
    actions,
    button,
    confirm_dialog,
    context,
    divider,
    escape,
    header,
    modal,
    section,
    text_input,
)
from bot.slack.views.meta import Meta
from bot.slack.views.model import RoutesPage
from bot.slack.views.results import mark

TITLE = "TLS policies"
MAX_ROUTE_ROWS = 60  # each a section; the rest of the view stays under 100 blocks

NO_ROUTES = (
    "No inbound route is configured yet. Inbound email must be prepared first: "
    "add the mail servers that receive your company's mail, then *Validate* them."
)


def routes_view(page: RoutesPage, meta: Meta) -> dict[str, Any]:
    blocks = [
        header("Inbound routes"),
        section(
            "Your own mail servers that receive inbound mail. Every route must support TLS "
            "before you can go on to external domains."
        ),
    ]
    if page.problem:
        blocks.append(section(f"{WARN} {page.problem}"))
    if page.notice:
        blocks.append(section(escape(page.notice)))
    if page.validating:
        blocks.append(section(f"{HOURGLASS} Validating {len(page.routes)} routes…"))
    if not page.routes:
        blocks.append(section(NO_ROUTES))
    blocks.append(divider())
    for route in page.routes[:MAX_ROUTE_ROWS]:
        if route.verdict is None:
            result = "_not validated yet_"
        else:
            result = f"{mark(route.verdict)} *{route.verdict.label}*"
            if route.reason and not route.verdict.ok:
                result += f"\n{escape(route.reason)}"
        remove = button(
            "Remove",
            Action.ROUTE_REMOVE,
            str(route.id),
            confirm=confirm_dialog(
                "Remove route", f"Ask approvers to remove `{route.label}`?", "Remove"
            ),
        )
        blocks.append(section(f"`{escape(route.label)}`\n{result}", accessory=remove))
    if len(page.routes) > MAX_ROUTE_ROWS:
        blocks.append(context(f"…and {len(page.routes) - MAX_ROUTE_ROWS} more (`/tls routes`)."))
    for item in page.pending[:10]:
        blocks.append(context(f"{HOURGLASS} Awaiting approval: {escape(item.text)}"))
    buttons = [button("Add route", Action.ROUTE_ADD)]
    if page.routes:
        buttons.append(button("Validate", Action.ROUTES_VALIDATE))
    buttons.append(button("Next", Action.ROUTES_NEXT, style="primary"))
    blocks.append(actions(*buttons))
    return modal(View.ROUTES, TITLE, blocks, metadata=meta.encode())


def route_add_view(meta: Meta) -> dict[str, Any]:
    blocks = [
        section("Add an inbound route: one of your own mail servers. Approvers confirm it."),
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
            "*Validate* tests STARTTLS on every inbound route. Enter an email address that "
            "your servers accept; nothing is sent."
        ),
        text_input(
            Block.EMAIL, Field.EMAIL, "Email address", placeholder="postmaster@corp.example"
        ),
    ]
    return modal(View.ROUTE_VALIDATE, TITLE, blocks, metadata=meta.encode(), submit="Test")
