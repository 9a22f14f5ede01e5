"""Listeners stay thin: no function in ``bot/slack/listeners/`` is longer than 30 lines,
and a change request is opened from Slack in one place only (``act.propose``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LISTENERS = Path(__file__).resolve().parents[2] / "bot" / "slack" / "listeners"
MOST = 30


def functions() -> list[tuple[str, int]]:
    found = []
    for path in sorted(LISTENERS.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                found.append((f"{path.name}:{node.name}", node.end_lineno - node.lineno + 1))
    return found


def test_the_listeners_are_found() -> None:
    names = [name for name, _ in functions()]
    assert "commands.py:on_tls" in names
    assert "domains.py:on_validate_submit" in names


@pytest.mark.parametrize(("name", "lines"), functions(), ids=[n for n, _ in functions()])
def test_no_listener_is_over_30_lines(name: str, lines: int) -> None:
    assert lines <= MOST, f"{name} has {lines} lines"


def test_only_act_posts_change_requests() -> None:
    posting = [
        path.name
        for path in sorted(LISTENERS.glob("*.py"))
        if "post_request(" in path.read_text() and path.name != "act.py"
    ]
    assert posting == []
