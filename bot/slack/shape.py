"""The shape of a Slack request that Bolt's routing relies on, checked before dispatch.

Bolt reads payloads the way Slack writes them: ``body["view"]["type"]``,
``body["actions"][0]["action_id"]``, ``"id" in body["user"]`` (slack_bolt
``request/payload_utils.py``, ``request/internals.py``), and it does so while it
builds its context and the arguments of *every* middleware and error handler. A
payload of another shape (a view without ``type``, ``actions`` that is a string, a
user that is a number) makes Bolt raise before any code of ours could answer. Such
payloads are never Slack's, so :func:`problem` names what is wrong and the edge
answers 400. What a well-shaped payload *says* (a button value, the view's metadata)
is the listeners' to judge (:mod:`bot.slack.listeners.util`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_TEXT_FIELDS = (
    "type",
    "token",
    "team_id",
    "team_domain",
    "enterprise_id",
    "user_id",
    "user_name",
    "channel_id",
    "channel_name",
    "command",
    "text",
    "api_app_id",
    "trigger_id",
    "response_url",
    "callback_id",
    "action_id",
    "event_id",
)
_IDENTIFIED = ("user", "team", "enterprise", "channel")  # a string id or {"id": "…"}
_OBJECTS = ("container", "message", "previous_message", "item", "function_data", "state")


class _Bad(Exception):
    pass


def problem(body: Mapping[str, Any]) -> str | None:
    """What makes ``body`` a payload Slack would not send, or None."""
    try:
        _check(body, "body")
        kind = body.get("type")
        if kind == "block_actions":
            _require(body, "actions", "user")
        elif kind in ("view_submission", "view_closed"):
            _require(body, "view", "user")
        elif kind == "event_callback":
            _require(body, "event")
    except _Bad as bad:
        return str(bad)
    return None


def _require(body: Mapping[str, Any], *names: str) -> None:
    for name in names:
        if body.get(name) is None:
            raise _Bad(f"a {body['type']} payload without {name}")


def _check(obj: Mapping[str, Any], where: str) -> None:
    for name in _TEXT_FIELDS:  # null is how Slack writes "none" (enterprise_id: null)
        if obj.get(name) is not None and not isinstance(obj[name], str):
            raise _Bad(f"{where}.{name} is not a string")
    for name in _IDENTIFIED:
        _identified(obj.get(name), f"{where}.{name}")
    for name in _OBJECTS:
        if obj.get(name) is not None and not isinstance(obj[name], Mapping):
            raise _Bad(f"{where}.{name} is not an object")
    if "actions" in obj:
        _actions(obj["actions"], f"{where}.actions")
    if "view" in obj:
        _view(obj["view"], f"{where}.view")
    if "event" in obj:
        event = obj["event"]
        if not isinstance(event, Mapping) or not isinstance(event.get("type"), str):
            raise _Bad(f"{where}.event is not an object with a type")
        _check(event, f"{where}.event")
    for name in ("authorizations", "response_urls"):
        if name in obj:
            _objects(obj[name], f"{where}.{name}")
    for item in obj.get("authorizations") or ():
        _check(item, f"{where}.authorizations[]")
    for item in obj.get("response_urls") or ():
        if not isinstance(item.get("response_url", ""), str):
            raise _Bad(f"{where}.response_urls[].response_url is not a string")


def _identified(value: Any, where: str) -> None:
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, Mapping):
        raise _Bad(f"{where} is neither an id nor an object")
    for key in ("id", "team_id", "name", "username", "enterprise_id"):
        if key in value and value[key] is not None and not isinstance(value[key], str):
            raise _Bad(f"{where}.{key} is not a string")


def _objects(value: Any, where: str) -> None:
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise _Bad(f"{where} is not a list of objects")


def _actions(value: Any, where: str) -> None:
    _objects(value, where)
    if not value:
        raise _Bad(f"{where} is empty")
    for action in value:
        if not isinstance(action.get("action_id"), str):
            raise _Bad(f"{where}[].action_id is not a string")
        for key in ("block_id", "value", "type"):
            if key in action and not isinstance(action[key], str):
                raise _Bad(f"{where}[].{key} is not a string")


def _view(value: Any, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise _Bad(f"{where} is not an object")
    for key in ("id", "type"):
        if not isinstance(value.get(key), str):
            raise _Bad(f"{where}.{key} is missing or not a string")
    for key in ("callback_id", "private_metadata", "hash", "team_id", "app_installed_team_id"):
        if key in value and value[key] is not None and not isinstance(value[key], str):
            raise _Bad(f"{where}.{key} is not a string")
    if value["type"] == "workflow_step" and not isinstance(value.get("workflow_step"), Mapping):
        raise _Bad(f"{where} is a workflow step without workflow_step")
    state = value.get("state")
    if state is not None:
        if not isinstance(state, Mapping):
            raise _Bad(f"{where}.state is not an object")
        values = state.get("values", {})
        if not isinstance(values, Mapping) or not all(
            isinstance(block, Mapping) and all(isinstance(v, Mapping) for v in block.values())
            for block in values.values()
        ):
            raise _Bad(f"{where}.state.values is not blocks of inputs")
