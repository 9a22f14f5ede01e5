"""Small Block Kit constructors that respect Slack's limits.

Limits (https://api.slack.com/reference/block-kit): a view holds 100 blocks, a
message 50; a section's text 3,000 characters, a button's text 75, a button's
value 2,000, a header 150, a modal title 24 and its buttons 24, a context 10
elements. Texts are clipped here so no caller can exceed them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, LiteralString

BlockDict = dict[str, Any]

VIEW_BLOCKS = 100
MESSAGE_BLOCKS = 50
SECTION_TEXT = 3000
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
HEADER_TEXT = 150
MODAL_TITLE = 24
ACTIONS_ELEMENTS = 25
CONTEXT_ELEMENTS = 10

TICK = ":white_check_mark:"
CROSS = ":x:"
WARN = ":warning:"
HOURGLASS = ":hourglass_flowing_sand:"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(text: str, limit: int = SECTION_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def md(text: Mrkdwn, limit: int = SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit) or " "}


class Mrkdwn(str):
    """Text that may be sent to Slack as mrkdwn: every outside value in it was escaped.

    This is the one seam for text that reaches Slack. Everything that sends text
    (``section``, ``context``, ``md``, :func:`bot.slack.replies.tell` and ``dm``,
    message ``text``) takes a ``Mrkdwn``, and the only ways to make one are
    :func:`escape` (an outside value), :func:`mrkdwn` (our template, outside values
    escaped) and :func:`mention` (a checked Slack ID), so mypy proves that no
    value from a user, a partner's server or the database reaches Slack raw.
    """

    __slots__ = ()


_ID = re.compile(r"^[UWBS][A-Z0-9]{1,20}$")


def escape(text: object) -> Mrkdwn:
    """An outside value inside mrkdwn: no mentions, links or formatting tricks.

    Slack's three control characters are replaced by their entities (as Slack's
    "Escaping text" rules ask); a value that already is ``Mrkdwn`` is kept.
    """
    if isinstance(text, Mrkdwn):
        return text
    raw = str(text)
    return Mrkdwn(raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def mrkdwn(template: LiteralString, *values: object) -> Mrkdwn:
    """``template`` (ours, with ``{}`` fields) filled with ``values``, each escaped."""
    return Mrkdwn(template.format(*(escape(v) for v in values)))


def mention(user_id: str) -> Mrkdwn:
    """``<@U…>`` for a Slack user ID (or ``<!subteam^S…>`` for a user group); else escaped."""
    if not _ID.match(user_id):
        return escape(user_id)
    if user_id.startswith("S"):
        return Mrkdwn(f"<!subteam^{user_id}>")
    return Mrkdwn(f"<@{user_id}>")


def join(separator: LiteralString, parts: Iterable[object]) -> Mrkdwn:
    return Mrkdwn(separator.join(escape(p) for p in parts))


def when(at: datetime) -> Mrkdwn:
    """A time each reader sees in their own time zone, with a UTC fallback."""
    stamp = int(at.timestamp())
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return Mrkdwn(f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{fallback}>")


def header(text: str) -> BlockDict:
    return {"type": "header", "text": plain(text, HEADER_TEXT)}


def section(
    text: Mrkdwn, *, accessory: dict[str, Any] | None = None, block_id: str | None = None
) -> BlockDict:
    block: BlockDict = {"type": "section", "text": md(text)}
    if accessory is not None:
        block["accessory"] = accessory
    if block_id is not None:
        block["block_id"] = block_id
    return block


def context(*texts: Mrkdwn) -> BlockDict:
    return {"type": "context", "elements": [md(t) for t in texts[:CONTEXT_ELEMENTS]]}


def divider() -> BlockDict:
    return {"type": "divider"}


def button(
    text: str,
    action_id: str,
    value: str = "",
    *,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": plain(text, BUTTON_TEXT),
        "action_id": action_id,
    }
    if value:
        element["value"] = clip(value, BUTTON_VALUE)
    if style is not None:
        element["style"] = style
    if confirm is not None:
        element["confirm"] = confirm
    return element


def confirm_dialog(title: str, text: Mrkdwn, yes: str, no: str = "Cancel") -> dict[str, Any]:
    return {
        "title": plain(title, 100),
        "text": md(text, 300),
        "confirm": plain(yes, 30),
        "deny": plain(no, 30),
    }


def actions(*elements: dict[str, Any], block_id: str | None = None) -> BlockDict:
    block: BlockDict = {"type": "actions", "elements": list(elements[:ACTIONS_ELEMENTS])}
    if block_id is not None:
        block["block_id"] = block_id
    return block


def text_input(
    block_id: str,
    action_id: str,
    label: str,
    *,
    placeholder: str = "",
    multiline: bool = False,
    initial: str = "",
    hint: str = "",
    optional: bool = False,
    max_length: int | None = None,
) -> BlockDict:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": action_id,
        "multiline": multiline,
    }
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    if initial:
        element["initial_value"] = initial
    if max_length is not None:
        element["max_length"] = max_length
    block: BlockDict = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def modal(
    callback_id: str,
    title: str,
    blocks: Sequence[BlockDict],
    *,
    metadata: str = "",
    submit: str | None = None,
    close: str = "Close",
    notify_on_close: bool = False,
) -> dict[str, Any]:
    if len(blocks) > VIEW_BLOCKS:
        raise ValueError(f"a view holds at most {VIEW_BLOCKS} blocks, got {len(blocks)}")
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, MODAL_TITLE),
        "close": plain(close, MODAL_TITLE),
        "blocks": list(blocks),
        "private_metadata": metadata,
    }
    if submit is not None:
        view["submit"] = plain(submit, MODAL_TITLE)
    if notify_on_close:
        view["notify_on_close"] = True
    return view


def chunk_lines(lines: Iterable[Mrkdwn], limit: int = SECTION_TEXT) -> list[Mrkdwn]:
    """Join lines into texts of at most ``limit`` characters each (a long line is clipped)."""
    chunks: list[Mrkdwn] = []
    current = ""
    for line in lines:
        line = Mrkdwn(clip(line, limit))
        if current and len(current) + 1 + len(line) > limit:
            chunks.append(Mrkdwn(current))
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(Mrkdwn(current))
    return chunks
