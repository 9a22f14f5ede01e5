"""What one host probe learns as it goes: facts, its connections and their phases, recipients.

:class:`Recorder` collects the facts of :class:`~bot.probe.evaluate.ProbeFacts` while the
driver (``bot.probe.host``) talks, and one :class:`~bot.probe.model.Attempt` per TCP
connection: its purpose, how it ended, and the time spent waiting in each phase (a phase
ends when its reply arrives). A stop on the deciding connection is ``facts.stopped``; a
stop on a follow-up is only that follow-up's ``failure``, and its question, left open,
becomes a ``check-incomplete`` warning (:meth:`Recorder.unchecked`).

:class:`Recipients` is the queue of addresses to ask ``RCPT TO`` for on a host's one
session, shared by the targets of a batch.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace

from bot.probe.evaluate import ProbeFacts
from bot.probe.model import Attempt, Code, Phase, Purpose, Reason
from bot.probe.smtp import Reply, Step

PHASES = {
    Step.CONNECT: Phase.CONNECT,
    Step.GREETING: Phase.BANNER,
    Step.EHLO: Phase.EHLO,
    Step.STARTTLS: Phase.STARTTLS,
    Step.HANDSHAKE: Phase.HANDSHAKE,
    Step.TLS_EHLO: Phase.TLS_EHLO,
    Step.MAIL: Phase.MAIL,
    Step.RCPT: Phase.RCPT,
    Step.QUIT: Phase.QUIT,
}
FOLLOW_UP_QUESTION = {
    Purpose.AES256: "whether an AES-256 suite is negotiable",
    Purpose.LEGACY: "whether the server speaks only TLS 1.0 or 1.1",
}


class Recipients:
    """The addresses to ask ``RCPT TO`` for on a host's one session.

    ``ready`` is awaited once, before the first ``RCPT``: a batch uses it to wait until
    every email target that may still share this host has said so. After the session's
    last ``RCPT`` the queue is closed and :meth:`add` answers False (not asked).
    """

    def __init__(
        self, addresses: Iterable[str] = (), *, ready: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self._waiting = list(dict.fromkeys(addresses))
        self._ready = ready
        self.closed = False

    def add(self, address: str) -> bool:
        if self.closed:
            return False
        if address not in self._waiting:
            self._waiting.append(address)
        return True

    async def ready(self) -> None:
        if self._ready is not None:
            await self._ready()

    def take(self) -> list[str]:
        taken, self._waiting = self._waiting, []
        return taken

    def close(self) -> None:
        self.closed = True


@dataclass
class Recorder:
    """Facts as they are learnt; frozen into :class:`ProbeFacts` at the end."""

    facts: ProbeFacts = field(default_factory=ProbeFacts)
    stage: Step = Step.CONNECT
    purpose: Purpose = Purpose.FIRST
    failure: Reason | None = None  # what ended the current follow-up connection early
    refused: bool = False  # the current connection's handshake failed
    attempts: list[Attempt] = field(default_factory=list)
    recipients: dict[str, Reply] = field(default_factory=dict)
    _phases: dict[Phase, float] = field(default_factory=dict)
    _since: float = 0.0

    def learn(self, **changes: object) -> None:
        self.facts = replace(self.facts, **changes)  # type: ignore[arg-type]

    def stop(self, reason: Reason) -> None:
        """The deciding connection stopped; a follow-up's stop is only that follow-up's."""
        if self.purpose is not Purpose.FIRST:
            self.failure = self.failure or reason
        elif self.facts.stopped is None:
            self.learn(stopped=reason)

    def unchecked(self, purpose: Purpose, reason: Reason) -> None:
        why = Reason(
            Code.CHECK_INCOMPLETE,
            f"could not check {FOLLOW_UP_QUESTION[purpose]}: {reason.message}",
        )
        if why not in self.facts.unchecked:
            self.learn(unchecked=(*self.facts.unchecked, why))

    # -- connections and their phases --------------------------------------

    def begin(self, purpose: Purpose) -> None:
        self.purpose, self.failure, self.refused = purpose, None, False
        self._phases, self._since = {}, time.monotonic()
        self.stage = Step.CONNECT

    def enter(self, step: Step) -> None:
        """The connection now waits for ``step``; the time since the last step is its own."""
        self._close_phase()
        self.stage = step

    def end(self, *, cancelled: bool = False) -> None:
        """The current connection is over (``cancelled``: by the deadline): record it."""
        self._close_phase()
        reason = self.facts.stopped if self.purpose is Purpose.FIRST else self.failure
        outcome = "ok" if reason is None else reason.code.value
        if self.refused:
            outcome = Code.HANDSHAKE_FAILED.value
        if cancelled:
            outcome = Code.TIMEOUT.value
        phases = tuple((p, int(s * 1000)) for p, s in self._phases.items())
        self.attempts.append(Attempt(self.purpose, outcome, phases))
        self._phases = {}

    def _close_phase(self) -> None:
        now = time.monotonic()
        phase = PHASES.get(self.stage)
        if phase is not None and self._since:
            self._phases[phase] = self._phases.get(phase, 0.0) + (now - self._since)
        self._since = now
