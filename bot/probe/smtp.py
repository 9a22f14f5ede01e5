"""The SMTP client dialogue, sans-IO: bytes in, replies out; commands as bytes.

:class:`ReplyParser` is fed whatever the socket returned (any split, CRLF or bare LF)
and hands back complete :class:`Reply` values. It holds at most one line of
``MAX_LINE`` bytes plus one read, and refuses a line longer than ``MAX_LINE`` or a
reply longer than ``MAX_REPLY`` with :class:`SmtpProtocolError`, so a server that
sends megabytes cannot make the client hold them.

:class:`Dialogue` is the probe's side of the conversation as a state machine fed
replies and answering with the next :data:`Action` (send these bytes, start TLS now,
close): greeting → ``EHLO`` → ``STARTTLS`` only if advertised → ``EHLO`` again inside
TLS → optionally ``MAIL FROM:<>`` and one ``RCPT TO:<address>`` per recipient asked
(:meth:`Dialogue.ask`, also while the transaction runs) inside TLS → ``QUIT``. It
never sends ``DATA``. ``bot.probe.host`` is the thin driver that moves bytes.
"""

from __future__ import annotations

import enum
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


def accepted(reply: Reply | None) -> bool | None:
    """Of a RCPT reply: True for 2xx, False for 5xx, None when not asked or answered 4xx."""
    if reply is None or reply.transient:
        return None
    return reply.positive


def _show(raw: bytes) -> str:
    text = raw[:60].decode("ascii", "replace")
    return repr(text + ("..." if len(raw) > 60 else ""))


class Step(enum.StrEnum):
    """Where the dialogue is: what it waits for next."""

    CONNECT = "connecting"  # before the dialogue: the driver is opening the connection
    GREETING = "waiting for the greeting"
    EHLO = "after EHLO"
    STARTTLS = "after STARTTLS"
    HANDSHAKE = "during the TLS handshake"
    TLS_EHLO = "after EHLO inside TLS"
    MAIL = "after MAIL FROM"
    RCPT = "after RCPT TO"
    QUIT = "after QUIT"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Send:
    """Write these bytes, then wait for the next reply."""

    data: bytes


@dataclass(frozen=True, slots=True)
class StartTls:
    """STARTTLS was accepted: run the TLS handshake, then call ``tls_established()``."""


@dataclass(frozen=True, slots=True)
class Close:
    """The conversation is over: close the connection without waiting for anything."""


Action = Send | StartTls | Close


class Dialogue:
    """The client's SMTP conversation up to (never including) DATA, as a state machine.

    Feed each complete :class:`Reply` to :meth:`receive`; it returns the next action.
    The replies that mattered are kept (``greeting``, ``hello``, ``starttls_reply``,
    ``rcpt_reply`` …) and ``refusal`` holds the error reply that ended the conversation
    before TLS, with the step it answered.
    """

    def __init__(self, ehlo_name: str, recipient: str | None = None) -> None:
        self._ehlo = ehlo(ehlo_name)  # ValueError for a name that is not one line of ASCII
        self._queue: list[tuple[str, bytes]] = []  # recipients still to ask, with their command
        self._asking: str | None = None
        self.step = Step.GREETING
        self.greeting: Reply | None = None
        self.hello: Reply | None = None
        self.capabilities: Capabilities | None = None
        self.starttls_reply: Reply | None = None
        self.tls_hello: Reply | None = None
        self.rcpt_replies: dict[str, Reply] = {}  # recipient -> the answer to its RCPT TO
        self.refusal: tuple[Step, Reply] | None = None
        if recipient:
            self.ask(recipient)

    def ask(self, recipient: str) -> bool:
        """Queue one more ``RCPT TO`` (one ``MAIL FROM:<>`` serves them all); False when it
        cannot be asked: an SMTPUTF8 address (we never ask for SMTPUTF8), or too late."""
        if self.step in (Step.QUIT, Step.DONE):
            return False
        try:
            self._queue.append((recipient, rcpt_to(recipient)))
        except ValueError:
            return False
        return True

    @property
    def starttls_offered(self) -> bool | None:
        return None if self.capabilities is None else self.capabilities.starttls

    @property
    def rcpt_reply(self) -> Reply | None:
        """The answer to the first recipient asked."""
        return next(iter(self.rcpt_replies.values()), None)

    @property
    def recipient_accepted(self) -> bool | None:
        """Of the first recipient: True for 2xx, False for 5xx, None when not asked or 4xx."""
        return accepted(self.rcpt_reply)

    def receive(self, reply: Reply) -> Action:
        step = self.step
        if step is Step.GREETING:
            self.greeting = reply
            if reply.code != 220:
                return self._refused(step, reply, close=True)
            return self._send(Step.EHLO, self._ehlo)
        if step is Step.EHLO:
            self.hello = reply
            if not reply.positive:
                return self._refused(step, reply)
            self.capabilities = Capabilities.from_reply(reply)
            if not self.capabilities.starttls:
                return self._quit()
            return self._send(Step.STARTTLS, starttls())
        if step is Step.STARTTLS:
            self.starttls_reply = reply
            if reply.code != 220:
                return self._refused(step, reply)
            self.step = Step.HANDSHAKE
            return StartTls()
        if step is Step.TLS_EHLO:
            self.tls_hello = reply
            if reply.positive and self._queue:
                return self._send(Step.MAIL, mail_from_null())
            return self._quit()
        if step is Step.MAIL:
            if reply.positive and self._queue:
                return self._next_rcpt()
            return self._quit()
        if step is Step.RCPT:
            if self._asking is not None:
                self.rcpt_replies[self._asking] = reply
            return self._next_rcpt() if self._queue else self._quit()
        if step is Step.QUIT:
            self.step = Step.DONE
            return Close()
        raise SmtpProtocolError(f"unexpected reply {step.value}: {reply}")

    def tls_established(self) -> Action:
        if self.step is not Step.HANDSHAKE:
            raise RuntimeError(f"TLS established {self.step.value}")
        return self._send(Step.TLS_EHLO, self._ehlo)

    def _next_rcpt(self) -> Send:
        self._asking, data = self._queue.pop(0)
        return self._send(Step.RCPT, data)

    def _send(self, step: Step, data: bytes) -> Send:
        self.step = step
        return Send(data)

    def _quit(self) -> Send:
        return self._send(Step.QUIT, quit_())

    def _refused(self, step: Step, reply: Reply, *, close: bool = False) -> Action:
        self.refusal = (step, reply)
        if close:  # an error greeting: the server is closing; do not wait for it
            self.step = Step.DONE
            return Close()
        return self._quit()
