"""Helpers for driving the modal flow the way a user would."""

from __future__ import annotations

from typing import Any

from bot.slack.ids import View
from tests.support.slack_api import SlackApi, all_text


def has(*words: str, callback: View | None = None, absent: tuple[str, ...] = ()) -> Any:
    def match(view: dict[str, Any]) -> bool:
        text = all_text(view)
        if callback is not None and view.get("callback_id") != callback:
            return False
        return all(w in text for w in words) and not any(a in text for a in absent)

    return match


def button_values(view: dict[str, Any], action_id: str) -> list[str]:
    values = []
    for block in view.get("blocks", []):
        elements = list(block.get("elements", []))
        if block.get("accessory"):
            elements.append(block["accessory"])
        for element in elements:
            if element.get("action_id") == action_id:
                values.append(str(element.get("value", "")))
    return values


async def approval_message(api: SlackApi, request_id: int) -> dict[str, Any]:
    call = await api.wait_for(
        "chat.postMessage",
        lambda b: f"Change request #{request_id}:" in str(b.get("text")),
    )
    return call.body


__all__ = ["approval_message", "button_values", "has"]
