"""The ``/tls`` subcommands as one table's rows, and the pure parts that read it.

Each :class:`Subcommand` names itself, its arguments, its one-line help and its
handler; the table itself lives with the handlers (``bot.slack.listeners.commands.
SUBCOMMANDS``). Everything else is derived from it here: :func:`parse` (and its
errors), :func:`usage`, the help text (:mod:`bot.slack.views.help`) and the usage hint
both app manifests carry (:func:`usage_hint`; ``tests/slack/test_manifests.py`` fails
when a manifest disagrees).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

COMMAND = "/tls"


@dataclass(frozen=True, slots=True)
class Subcommand:
    """One ``/tls`` subcommand: ``least``..``most`` arguments (None: no upper bound)."""

    name: str  # "setup", or two words: "policy delete"
    args: str  # as help shows them: "DOMAIN|EMAIL", "[DOMAIN…]"
    help: str
    handler: Callable[[Any], Awaitable[None]]
    least: int = 0
    most: int | None = 0

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.name.split())

    @property
    def usage(self) -> str:
        return f"{COMMAND} {self.name} {self.args}".strip()


@dataclass(frozen=True, slots=True)
class Parsed:
    sub: Subcommand
    args: tuple[str, ...] = ()
    problem: str | None = None  # set when the input was not understood: show help


def usage_hint(table: Sequence[Subcommand]) -> str:
    """The manifests' ``usage_hint``: every subcommand with its arguments."""
    return " | ".join(f"{s.name} {s.args}".strip() for s in table)


def usage_line(table: Sequence[Subcommand]) -> str:
    return f"Usage: {COMMAND} " + " | ".join(s.name for s in table)


def parse(text: str, table: Sequence[Subcommand], fallback: Subcommand) -> Parsed:
    """The subcommand ``text`` names and its arguments; ``fallback`` (help) with a problem."""
    words = text.replace(",", " ").split()
    if not words:
        return Parsed(fallback)
    low = [w.lower() for w in words]
    for sub in sorted(table, key=lambda s: -len(s.words)):
        n = len(sub.words)
        if tuple(low[:n]) == sub.words:
            rest = tuple(words[n:])
            if len(rest) < sub.least or (sub.most is not None and len(rest) > sub.most):
                return Parsed(fallback, problem=f"usage: `{sub.usage}`")
            return Parsed(sub, rest)
    near = [s for s in table if len(s.words) > 1 and s.words[0] == low[0]]
    if near:
        return Parsed(fallback, problem=f"did you mean `{near[0].usage}`?")
    return Parsed(fallback, problem=f"`{_clip(words[0])}` is not a {COMMAND} command.")


def _clip(text: str) -> str:
    text = text.replace("`", "'")
    return text if len(text) <= 40 else text[:39] + "…"
