"""Parse the text after ``/tls`` into a subcommand and its arguments (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.slack.ids import Sub

# (smallest, largest) number of arguments; None: no upper bound
_ARITY: dict[Sub, tuple[int, int | None]] = {
    Sub.SETUP: (0, 0),
    Sub.ADD: (0, None),
    Sub.REMOVE: (1, None),
    Sub.CHECK: (1, 1),
    Sub.STATUS: (0, 1),
    Sub.ROUTES: (0, 0),
    Sub.AUDIT: (0, 1),
    Sub.POLICY_DELETE: (0, 0),
    Sub.HELP: (0, None),
}

_USAGE: dict[Sub, str] = {
    Sub.SETUP: "/tls setup",
    Sub.ADD: "/tls add [DOMAIN…]",
    Sub.REMOVE: "/tls remove DOMAIN…",
    Sub.CHECK: "/tls check DOMAIN|EMAIL",
    Sub.STATUS: "/tls status [DOMAIN]",
    Sub.ROUTES: "/tls routes",
    Sub.AUDIT: "/tls audit [DOMAIN]",
    Sub.POLICY_DELETE: "/tls policy delete",
    Sub.HELP: "/tls help",
}


@dataclass(frozen=True, slots=True)
class Parsed:
    sub: Sub
    args: tuple[str, ...] = ()
    problem: str | None = None  # set when the input was not understood: show help


def usage(sub: Sub) -> str:
    return _USAGE[sub]


def parse(text: str) -> Parsed:
    words = text.replace(",", " ").split()
    if not words:
        return Parsed(Sub.HELP)
    head = words[0].lower()
    rest = tuple(words[1:])
    if head == "policy":
        if rest and rest[0].lower() == "delete":
            head, rest = Sub.POLICY_DELETE.value, rest[1:]
        else:
            return Parsed(Sub.HELP, problem="did you mean `/tls policy delete`?")
    try:
        sub = Sub(head)
    except ValueError:
        return Parsed(Sub.HELP, problem=f"`{_clip(words[0])}` is not a /tls command.")
    low, high = _ARITY[sub]
    if len(rest) < low or (high is not None and len(rest) > high):
        return Parsed(Sub.HELP, problem=f"usage: `{usage(sub)}`")
    return Parsed(sub, rest)


def _clip(text: str) -> str:
    text = text.replace("`", "'")
    return text if len(text) <= 40 else text[:39] + "…"
