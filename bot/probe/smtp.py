"""The SMTP client dialogue, sans-IO: bytes in, replies out; commands as bytes.

:class:`ReplyParser` is fed whatever the socket returned (any split, CRLF or bare LF)
and hands back complete :class:`Reply` values. It holds at most one line of
``MAX_LINE`` bytes plus one read, and refuses a line longer than ``MAX_LINE`` or a
reply longer than ``MAX_REPLY`` with :class:`SmtpProtocolError`, so a server that
sends megabytes cannot make the client hold them.

The probe's sequence (driven by ``bot.probe.host``): greeting → ``EHLO`` →
``STARTTLS`` only if advertised → ``EHLO`` again inside TLS → optionally
``MAIL FROM:<>`` / ``RCPT TO:<address>`` inside TLS → ``QUIT``. Never ``DATA``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LINE = 8 * 1024  # bytes in one reply line, CRLF included
MAX_REPLY = 64 * 1024  # bytes in one (multi-line) reply
READ_SIZE = 4096  # what the driver asks the socket for at a time

_LINE = re.compile(rb"^([2-5][0-9][0-9])([ -]|$)(.*)$", re.DOTALL)


class SmtpProtocolError(ValueError):
    """The peer does not speak SMTP as RFC 5321 says (or says too much)."""


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    lines: tuple[str, ...]  # the text of each line, without code and separator

    @property
    def text(self) -> str:
        return " ".join(line for line in self.lines if line).strip()

    @property
    def positive(self) -> bool:
        return 200 <= self.code < 400

    @property
    def transient(self) -> bool:
        return 400 <= self.code < 500

    @property
    def permanent(self) -> bool:
        return self.code >= 500

    def __str__(self) -> str:
        text = self.text
        if len(text) > 200:
            text = text[:197] + "..."
        return f"{self.code} {text}".strip()


class ReplyParser:
    """Incremental parser of SMTP replies."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._code: int | None = None
        self._lines: list[str] = []
        self._size = 0
        self._ready: list[Reply] = []

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete reply."""
        return len(self._buffer) + self._size

    def feed(self, data: bytes) -> list[Reply]:
        """Add bytes; return every reply they completed, oldest first."""
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE:
                    raise SmtpProtocolError(f"reply line longer than {MAX_LINE} bytes")
                break
            if end + 1 > MAX_LINE:
                raise SmtpProtocolError(f"reply line longer than {MAX_LINE} bytes")
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            self._line(raw[:-1] if raw.endswith(b"\r") else raw, end + 1)
        ready, self._ready = self._ready, []
        return ready

    def _line(self, raw: bytes, size: int) -> None:
        match = _LINE.match(raw)
        if match is None:
            raise SmtpProtocolError(f"not an SMTP reply line: {_show(raw)}")
        code = int(match.group(1))
        if self._code is not None and code != self._code:
            raise SmtpProtocolError(f"reply code changed from {self._code} to {code} mid-reply")
        self._size += size
        if self._size > MAX_REPLY:
            raise SmtpProtocolError(f"reply longer than {MAX_REPLY} bytes")
        self._code = code
        self._lines.append(match.group(3).decode("utf-8", "replace").strip())
        if match.group(2) != b"-":
            self._ready.append(Reply(code, tuple(self._lines)))
            self._code, self._lines, self._size = None, [], 0


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an EHLO reply advertised (keywords upper-case, parameters kept)."""

    keywords: frozenset[str]
    params: tuple[tuple[str, str], ...] = ()

    @property
    def starttls(self) -> bool:
        return "STARTTLS" in self.keywords

    @classmethod
    def from_reply(cls, reply: Reply) -> Capabilities:
        keywords: set[str] = set()
        params: list[tuple[str, str]] = []
        for line in reply.lines[1:]:  # the first line is the server's name and greeting
            word, _, rest = line.strip().partition(" ")
            if word:
                keywords.add(word.upper())
                params.append((word.upper(), rest.strip()))
        return cls(frozenset(keywords), tuple(params))


def command(verb: str, argument: str = "") -> bytes:
    """One command line; refuses anything that could smuggle a second command."""
    text = f"{verb} {argument}".rstrip() if argument else verb
    if any(ch in text for ch in "\r\n\0") or not text.isascii():
        raise ValueError(f"refusing to send an unsafe SMTP command: {text!r}")
    if len(text) > 510:
        raise ValueError("SMTP command longer than 512 bytes")
    return text.encode("ascii") + b"\r\n"


def ehlo(name: str) -> bytes:
    return command("EHLO", name)


def starttls() -> bytes:
    return command("STARTTLS")


def mail_from_null() -> bytes:
    return command("MAIL", "FROM:<>")


def rcpt_to(address: str) -> bytes:
    return command("RCPT", f"TO:<{address}>")


def quit_() -> bytes:
    return command("QUIT")


def _show(raw: bytes) -> str:
    text = raw[:60].decode("ascii", "replace")
    return repr(text + ("..." if len(raw) > 60 else ""))
