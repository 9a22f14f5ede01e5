"""Probe one SMTP host at one vetted address: the thin I/O driver around the sans-IO parts.

``probe_host`` connects to the IP literal it is given (never to a name: the name goes
only into SNI) and drives the sans-IO :class:`~bot.probe.smtp.Dialogue` (greeting →
EHLO → STARTTLS → handshake → EHLO → optional MAIL/RCPT → QUIT, never DATA) under one
overall deadline (``asyncio.timeout(settings.timeout)``). It reads at most
``READ_SIZE`` bytes at a time into the bounded reply parser and returns a
:class:`~bot.probe.model.HostResult`. One connection when the first handshake settles
everything; more, one after another, only to ask whether an AES-256 suite is negotiable (the
first chose another suite: one follow-up per TLS version still worth asking, TLS 1.3 then
TLS 1.2, each stopping at its handshake, ``bot.probe.suites``) or, when the TLS 1.2+
handshake failed, whether the server speaks only TLS 1.0/1.1.

Low-level errors (``ssl.SSLError``, ``ConnectionRefusedError``, ``OSError`` …) become
:class:`~bot.probe.errors.ProbeError` values at one seam, :func:`bot.probe.errors.translate`
(the error tree is documented there). Every ``ProbeError`` is caught in this module
and becomes facts; the overall deadline is not an error of the seam:
``asyncio.timeout`` ends the probe wherever it is and the facts learnt so far are
evaluated (``timeout``). Nothing expected escapes ``probe_host``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from dataclasses import dataclass, field, replace

from bot.clock import Clock
from bot.probe.certs import TrustStore, analyse_chain
from bot.probe.errors import (
    ConnectionLost,
    HandshakeFailed,
    ProbeError,
    ProtocolViolation,
    translate,
)
from bot.probe.evaluate import ProbeFacts, evaluate
from bot.probe.limits import Limits
from bot.probe.model import Code, HostResult, Reason
from bot.probe.settings import ProbeSettings
from bot.probe.smtp import (
    READ_SIZE,
    Close,
    Dialogue,
    Reply,
    ReplyParser,
    Send,
    StartTls,
    Step,
)
from bot.probe.suites import Aes256Ask
from bot.probe.tls import Negotiated, TlsContexts, followup_handshake, is_aes256, negotiated

QUIT_WAIT = 2.0  # seconds to wait for the answer to QUIT


@dataclass
class _Recorder:
    """Facts as they are learnt; frozen into :class:`ProbeFacts` at the end."""

    facts: ProbeFacts = field(default_factory=ProbeFacts)
    stage: Step = Step.CONNECT
    connections: int = 0

    def learn(self, **changes: object) -> None:
        self.facts = replace(self.facts, **changes)  # type: ignore[arg-type]

    def stop(self, reason: Reason) -> None:
        if self.facts.stopped is None:
            self.learn(stopped=reason)


class _Session:
    """One TCP connection: bounded reads into the reply parser, one reply at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, where: str):
        self.reader, self.writer, self.where = reader, writer, where
        self.parser = ReplyParser()
        self.queue: list[Reply] = []

    async def reply(self, stage: Step) -> Reply:
        while not self.queue:
            with translate(stage, self.where):
                data = await self.reader.read(READ_SIZE)
                if not data:
                    raise ConnectionLost(f"{self.where} closed the connection {stage.value}")
                self.queue += self.parser.feed(data)
        return self.queue.pop(0)

    async def send(self, line: bytes, stage: Step) -> None:
        with translate(stage, self.where):
            self.writer.write(line)
            await self.writer.drain()

    async def close(self) -> None:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            self.writer.transport.abort()  # the deadline passed: no polite goodbye
            return
        self.writer.close()
        try:
            async with asyncio.timeout(1.0):
                await self.writer.wait_closed()
        except (TimeoutError, OSError, ssl.SSLError):
            self.writer.transport.abort()
        except BaseException:  # the deadline arrived while closing: drop it, then go on
            self.writer.transport.abort()
            raise


async def probe_host(
    host: str,
    address: str,
    port: int,
    *,
    settings: ProbeSettings,
    trust: TrustStore,
    clock: Clock,
    email: str | None = None,
    contexts: TlsContexts | None = None,
    limits: Limits | None = None,
) -> HostResult:
    """Probe ``host`` at the vetted IP literal ``address``; expected failures are values.

    Certificates are judged valid or expired at ``clock()`` as the handshake ends.
    """
    contexts = contexts or TlsContexts.create()
    if limits is None:
        return await _probe(host, address, port, settings, trust, clock, email, contexts)
    async with limits.slot(address):
        return await _probe(host, address, port, settings, trust, clock, email, contexts)


async def _probe(
    host: str,
    address: str,
    port: int,
    settings: ProbeSettings,
    trust: TrustStore,
    clock: Clock,
    email: str | None,
    contexts: TlsContexts,
) -> HostResult:
    rec = _Recorder()
    started = time.monotonic()
    run = _Run(host, address, port, settings, trust, clock, email, contexts, rec)
    try:
        async with asyncio.timeout(settings.timeout):
            await run.main()
    except TimeoutError:
        rec.stop(
            Reason(
                Code.TIMEOUT,
                f"{run.where} did not finish within {settings.timeout:g} s ({rec.stage.value})",
            )
        )
    facts = rec.facts
    verdict, reasons = evaluate(facts)
    return HostResult(
        host=host,
        address=address,
        port=port,
        verdict=verdict,
        reasons=reasons,
        reached=facts.reached,
        starttls_offered=facts.starttls_offered,
        tls_version=facts.tls_version,
        cipher=facts.cipher,
        aes256=facts.aes256,
        offered_versions=(facts.legacy_version,) if facts.legacy_version else (),
        certificate=facts.certificate,
        recipient_accepted=facts.recipient_accepted,
        connections=rec.connections,
        elapsed_ms=int((time.monotonic() - started) * 1000),
    )


@dataclass
class _Run:
    host: str
    address: str
    port: int
    settings: ProbeSettings
    trust: TrustStore
    clock: Clock
    email: str | None
    contexts: TlsContexts
    rec: _Recorder

    @property
    def where(self) -> str:
        shown = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.host} ({shown}:{self.port})"

    @property
    def sni(self) -> str | None:
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in self.host else socket.AF_INET, self.host)
        except OSError:
            return self.host
        return None  # never an IP literal in SNI (RFC 6066 §3)

    async def main(self) -> None:
        first = await self._attempt(self.contexts.modern, primary=True)
        facts = self.rec.facts
        if first is None:
            if facts.handshake_error is not None and self.contexts.legacy is not None:
                legacy = await self._attempt(self.contexts.legacy, primary=False)
                if legacy is not None:
                    self.rec.learn(legacy_version=legacy.version)
            return
        if is_aes256(first.cipher):
            self.rec.learn(aes256=True)
            return
        await self._ask_aes256(first)

    async def _ask_aes256(self, first: Negotiated) -> None:
        """The first handshake chose a suite that is not AES-256: ask again offering AES-256
        suites only, one TLS version per connection (``bot.probe.suites``)."""
        refused: list[str] = []
        for ask in self.contexts.aes256.after(first.version):
            again = await self._attempt(ask, primary=False)
            if again is not None and is_aes256(again.cipher):
                self.rec.learn(aes256=True)
                return
            if self.rec.facts.stopped is not None:
                return  # could not ask: no AES-256 fact either way
            refused.append(ask.label)  # the AES-256-only handshake was refused
        self.rec.learn(aes256=False, aes256_refused=tuple(refused))

    async def _attempt(
        self, ctx: ssl.SSLContext | Aes256Ask, *, primary: bool
    ) -> Negotiated | None:
        """One connection up to and through the TLS handshake; None if it did not get there."""
        rec = self.rec
        rec.stage = Step.CONNECT
        rec.connections += 1
        try:
            with translate(Step.CONNECT, self.where):
                reader, writer = await asyncio.open_connection(
                    self.address, self.port, limit=READ_SIZE * 4, flags=socket.AI_NUMERICHOST
                )
        except ProbeError as exc:
            rec.stop(exc.reason())
            return None
        session = _Session(reader, writer, self.where)
        try:
            return await self._dialogue(session, ctx, primary=primary)
        except HandshakeFailed as exc:
            if primary:
                rec.learn(handshake_error=str(exc))
            return None
        except ProbeError as exc:
            rec.stop(exc.reason())
            return None
        finally:
            await session.close()

    async def _dialogue(
        self, session: _Session, ctx: ssl.SSLContext | Aes256Ask, *, primary: bool
    ) -> Negotiated | None:
        """Drive :class:`Dialogue` over the connection; the TLS facts once the handshake is done."""
        dialogue = Dialogue(self.settings.ehlo_name, self.email if primary else None)
        result: Negotiated | None = None
        try:
            while dialogue.step is not Step.DONE:
                step = self.rec.stage = dialogue.step
                if step is Step.QUIT:
                    await self._goodbye(session)
                    break
                action = dialogue.receive(await session.reply(step))
                self._learn(dialogue, step, primary=primary)
                if isinstance(action, StartTls):
                    if session.queue or session.parser.pending:
                        raise ProtocolViolation(f"{self.where} sent data after its STARTTLS reply")
                    result = await self._handshake(session, ctx, primary=primary)
                    if isinstance(ctx, Aes256Ask):
                        break  # a follow-up ends at its handshake (it says goodbye itself)
                    action = dialogue.tls_established()
                if isinstance(action, Close):
                    break
                if isinstance(action, Send):
                    await session.send(action.data, dialogue.step)
        except ProbeError:
            if result is None:  # includes every HandshakeFailed: result comes from the handshake
                raise
            # the TLS facts are known; a server that misbehaves afterwards changes nothing
        return result

    def _learn(self, dialogue: Dialogue, step: Step, *, primary: bool) -> None:
        """Turn what the last reply showed into facts."""
        rec = self.rec
        if step is Step.GREETING and dialogue.refusal is None:
            rec.learn(reached=True)
        if dialogue.refusal is not None and dialogue.refusal[0] is step:
            reply = dialogue.refusal[1]
            if step is Step.GREETING:
                rec.stop(Reason(Code.SMTP_GREETING_ERROR, f"{self.where} greeted with {reply}"))
            elif step is Step.STARTTLS and primary and (reply.transient or reply.permanent):
                rec.learn(starttls_reply=reply.code, starttls_text=reply.text[:200])
            else:
                verb = "STARTTLS" if step is Step.STARTTLS else "EHLO"
                rec.stop(
                    Reason(Code.SMTP_REPLY_ERROR, f"{self.where} answered {verb} with {reply}")
                )
        elif step is Step.EHLO:
            if primary:
                rec.learn(starttls_offered=dialogue.starttls_offered)
            elif not dialogue.starttls_offered:
                rec.stop(
                    Reason(
                        Code.SMTP_PROTOCOL_ERROR,
                        f"{self.where} no longer offered STARTTLS on a second connection",
                    )
                )
        elif step is Step.RCPT and self.email:
            rec.learn(
                recipient=self.email,
                recipient_accepted=dialogue.recipient_accepted,
                recipient_reply=str(dialogue.rcpt_reply),
            )

    async def _handshake(
        self, session: _Session, ctx: ssl.SSLContext | Aes256Ask, *, primary: bool
    ) -> Negotiated:
        self.rec.stage = Step.HANDSHAKE
        with translate(Step.HANDSHAKE, self.where):
            if isinstance(ctx, Aes256Ask):
                return await followup_handshake(ctx, session.reader, session.writer, self.sni)
            await session.writer.start_tls(ctx, server_hostname=self.sni)
        ssl_object = session.writer.get_extra_info("ssl_object")
        if ssl_object is None:
            raise HandshakeFailed("no TLS session was established")
        result = negotiated(ssl_object)
        if primary:
            report = analyse_chain(result.chain, self.host, self.trust, now=self.clock())
            self.rec.learn(
                tls_version=result.version,
                cipher=result.cipher,
                certificate=report.info,
                certificate_problems=report.problems,
            )
        return result

    async def _goodbye(self, session: _Session) -> None:
        """Wait for the answer to QUIT, but no more than ``QUIT_WAIT``."""
        with contextlib.suppress(ProbeError, TimeoutError):
            async with asyncio.timeout(QUIT_WAIT):
                await session.reply(Step.QUIT)
