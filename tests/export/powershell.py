"""A lexer for PowerShell's verbatim strings, to prove what the script's quotes contain.

From the PowerShell language specification (§2.3.5.2, string literals): a
verbatim-string-literal is a single-quote-character, then any characters where a
single-quote-character must be followed by another one (the pair stands for one
quote), then a closing single-quote-character. The single-quote-characters are
U+0027 and U+2018 to U+201B. Outside strings, ``#`` starts a comment to the end
of the line; ``"`` starts an expandable string (which the lexer skips whole,
honouring the backtick escape).
"""

from __future__ import annotations

SINGLE = frozenset("'\u2018\u2019\u201a\u201b")
DOUBLE = frozenset('"\u201c\u201d\u201e')


def verbatim(text: str, start: int) -> tuple[str, int]:
    """The value of the verbatim string opening at ``text[start]`` and the index after it."""
    assert text[start] in SINGLE
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch in SINGLE:
            if i + 1 < len(text) and text[i + 1] in SINGLE:
                out.append(ch)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise ValueError("unterminated verbatim string")


def verbatim_strings(script: str) -> list[str]:
    """Every verbatim string's value in ``script``, in order (comments and "…" skipped)."""
    values = []
    i = 0
    while i < len(script):
        ch = script[i]
        if ch == "#":
            i = script.find("\n", i)
            if i < 0:
                break
        elif ch in DOUBLE:
            i += 1
            while script[i] not in DOUBLE:
                i += 2 if script[i] == "`" else 1
            i += 1
        elif ch in SINGLE:
            value, i = verbatim(script, i)
            values.append(value)
        else:
            i += 1
    return values
