"""Probe one SMTP host at one vetted address: the thin I/O driver around the sans-IO parts.

``probe_host`` connects to the IP literal it is given (never to a name: the name goes
only into SNI), runs greeting → EHLO → STARTTLS → handshake → EHLO → optional
MAIL/RCPT → QUIT under one overall deadline (``asyncio.timeout(settings.timeout)``),
reads at most ``READ_SIZE`` bytes at a time into the bounded reply parser, and returns a
:class:`~bot.probe.model.HostResult`. At most two connections: a second one only to ask
whether an AES-256 suite is negotiable (the first chose another suite) or, when the
TLS 1.2+ handshake failed, whether the server speaks only TLS 1.0/1.1.

Errors are translated at exactly one seam, :func:`_seam`, most specific first::

    ProbeError                      (expected outcomes of talking to a stranger)
     ├── ConnectRefused             ← ConnectionRefusedError while connecting
     ├── ConnectTimeout             ← TimeoutError (OSError ETIMEDOUT) while connecting
     ├── ConnectFailed              ← any other OSError while connecting
     ├── HandshakeFailed            ← ssl.SSLError, OSError or EOF during the TLS handshake
     ├── ConnectionLost             ← ssl.SSLError / OSError / EOF later in the dialogue
     └── ProtocolViolation          ← SmtpProtocolError (garbage, oversized line or reply)

The overall deadline is not an error of the seam: ``asyncio.timeout`` ends the probe
wherever it is and the facts learnt so far are evaluated (``timeout``). Every
``ProbeError`` is caught in this module and becomes facts; nothing expected escapes.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from bot.probe.certs import TrustStore, analyse_chain
from bot.probe.evaluate import ProbeFacts, evaluate
from bot.probe.limits import Limits
from bot.probe.model import Code, HostResult, Reason
from bot.probe.settings import ProbeSettings
from bot.probe.smtp import (
    READ_SIZE,
    Capabilities,
    Reply,
    ReplyParser,
    SmtpProtocolError,
    ehlo,
    mail_from_null,
    quit_,
    rcpt_to,
    starttls,
)
from bot.probe.tls import Negotiated, TlsContexts, is_aes256, negotiated

QUIT_WAIT = 2.0  # seconds to wait for the answer to QUIT


class Stage(enum.StrEnum):
    CONNECT = "connecting"
    GREETING = "waiting for the greeting"
    EHLO = "after EHLO"
    STARTTLS = "after STARTTLS"
    HANDSHAKE = "during the TLS handshake"
    TLS_DIALOGUE = "inside TLS"


class ProbeError(Exception):
    code = Code.CONNECT_FAILED

    def reason(self) -> Reason:
        return Reason(self.code, str(self))


class ConnectRefused(ProbeError):
    code = Code.CONNECT_REFUSED


class ConnectTimeout(ProbeError):
    code = Code.TIMEOUT


class ConnectFailed(ProbeError):
    code = Code.CONNECT_FAILED


class HandshakeFailed(ProbeError):
    code = Code.HANDSHAKE_FAILED


class ConnectionLost(ProbeError):
    code = Code.CONNECT_FAILED


class ProtocolViolation(ProbeError):
    code = Code.SMTP_PROTOCOL_ERROR


@contextlib.contextmanager
def _seam(stage: Stage, where: str) -> Iterator[None]:
    """The one place where low-level errors become :class:`ProbeError` values."""
    try:
        yield
    except ProbeError:
        raise
    except SmtpProtocolError as exc:
        raise ProtocolViolation(f"{where} does not speak SMTP: {exc}") from exc
    except ssl.SSLError as exc:
        if stage is Stage.HANDSHAKE:
            raise HandshakeFailed(_ssl_text(exc)) from exc
        raise ConnectionLost(f"TLS error {stage.value} with {where}: {_ssl_text(exc)}") from exc
    except ConnectionRefusedError as exc:
        raise ConnectRefused(f"{where} refused the connection") from exc
    except TimeoutError as exc:
        raise ConnectTimeout(f"connecting to {where} timed out") from exc
    except (OSError, EOFError) as exc:
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or "closed"
        if stage is Stage.CONNECT:
            raise ConnectFailed(f"cannot connect to {where}: {text}") from exc
        if stage is Stage.HANDSHAKE:
            raise HandshakeFailed(f"the connection was closed ({text})") from exc
        raise ConnectionLost(f"{where} closed the connection {stage.value} ({text})") from exc


def _ssl_text(exc: ssl.SSLError) -> str:
    return str(exc.reason or exc.strerror or exc).replace("_", " ").lower()


@dataclass
class _Recorder:
    """Facts as they are learnt; frozen into :class:`ProbeFacts` at the end."""

    facts: ProbeFacts = field(default_factory=ProbeFacts)
    stage: Stage = Stage.CONNECT
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

    async def reply(self, stage: Stage) -> Reply:
        while not self.queue:
            with _seam(stage, self.where):
                data = await self.reader.read(READ_SIZE)
                if not data:
                    raise ConnectionLost(f"{self.where} closed the connection {stage.value}")
                self.queue += self.parser.feed(data)
        return self.queue.pop(0)

    async def ask(self, line: bytes, stage: Stage) -> Reply:
        with _seam(stage, self.where):
            self.writer.write(line)
            await self.writer.drain()
        return await self.reply(stage)

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


async def probe_host(
    host: str,
    address: str,
    port: int,
    *,
    settings: ProbeSettings,
    trust: TrustStore,
    email: str | None = None,
    contexts: TlsContexts | None = None,
    limits: Limits | None = None,
) -> HostResult:
    """Probe ``host`` at the vetted IP literal ``address``; expected failures are values."""
    contexts = contexts or TlsContexts.create()
    if limits is None:
        return await _probe(host, address, port, settings, trust, email, contexts)
    async with limits.slot(address):
        return await _probe(host, address, port, settings, trust, email, contexts)


async def _probe(
    host: str,
    address: str,
    port: int,
    settings: ProbeSettings,
    trust: TrustStore,
    email: str | None,
    contexts: TlsContexts,
) -> HostResult:
    rec = _Recorder()
    started = time.monotonic()
    run = _Run(host, address, port, settings, trust, email, contexts, rec)
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
        second = await self._attempt(self.contexts.aes256, primary=False)
        if second is not None:
            self.rec.learn(aes256=is_aes256(second.cipher))
        elif self.rec.facts.stopped is None:
            self.rec.learn(aes256=False)  # the AES-256-only handshake was refused

    async def _attempt(self, ctx: ssl.SSLContext, *, primary: bool) -> Negotiated | None:
        """One connection up to and through the TLS handshake; None if it did not get there."""
        rec = self.rec
        rec.stage = Stage.CONNECT
        rec.connections += 1
        try:
            with _seam(Stage.CONNECT, self.where):
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
        self, session: _Session, ctx: ssl.SSLContext, *, primary: bool
    ) -> Negotiated | None:
        rec = self.rec
        rec.stage = Stage.GREETING
        greeting = await session.reply(Stage.GREETING)
        if greeting.code != 220:
            rec.stop(Reason(Code.SMTP_GREETING_ERROR, f"{self.where} greeted with {greeting}"))
            return None
        rec.learn(reached=True)
        rec.stage = Stage.EHLO
        hello = await session.ask(ehlo(self.settings.ehlo_name), Stage.EHLO)
        if not hello.positive:
            rec.stop(Reason(Code.SMTP_REPLY_ERROR, f"{self.where} answered EHLO with {hello}"))
            return None
        offered = Capabilities.from_reply(hello).starttls
        if primary:
            rec.learn(starttls_offered=offered)
        if not offered:
            await self._quit(session)
            return None
        rec.stage = Stage.STARTTLS
        answer = await session.ask(starttls(), Stage.STARTTLS)
        if answer.code != 220:
            if primary and (answer.transient or answer.permanent):
                rec.learn(starttls_reply=answer.code, starttls_text=answer.text[:200])
            else:
                rec.stop(
                    Reason(Code.SMTP_REPLY_ERROR, f"{self.where} answered STARTTLS with {answer}")
                )
            await self._quit(session)
            return None
        if session.queue or session.parser.pending:
            raise ProtocolViolation(f"{self.where} sent data after its STARTTLS reply")
        rec.stage = Stage.HANDSHAKE
        with _seam(Stage.HANDSHAKE, self.where):
            await session.writer.start_tls(ctx, server_hostname=self.sni)
        ssl_object = session.writer.get_extra_info("ssl_object")
        if ssl_object is None:
            raise HandshakeFailed("no TLS session was established")
        result = negotiated(ssl_object)
        if primary:
            report = analyse_chain(result.chain, self.host, self.trust)
            rec.learn(
                tls_version=result.version,
                cipher=result.cipher,
                certificate=report.info,
                certificate_problems=report.problems,
            )
        rec.stage = Stage.TLS_DIALOGUE
        # the TLS facts are known; a server that misbehaves afterwards changes nothing
        with contextlib.suppress(ProbeError):
            await self._inside_tls(session, primary=primary)
        return result

    async def _inside_tls(self, session: _Session, *, primary: bool) -> None:
        hello = await session.ask(ehlo(self.settings.ehlo_name), Stage.TLS_DIALOGUE)
        if primary and self.email and hello.positive:
            try:
                rcpt_line = rcpt_to(self.email)
            except ValueError:
                rcpt_line = b""  # an SMTPUTF8 address: not asked
            if rcpt_line:
                mail = await session.ask(mail_from_null(), Stage.TLS_DIALOGUE)
                if mail.positive:
                    rcpt = await session.ask(rcpt_line, Stage.TLS_DIALOGUE)
                    accepted = True if rcpt.positive else (False if rcpt.permanent else None)
                    self.rec.learn(
                        recipient=self.email,
                        recipient_accepted=accepted,
                        recipient_reply=str(rcpt),
                    )
        await self._quit(session)

    async def _quit(self, session: _Session) -> None:
        """Say goodbye, but wait no more than ``QUIT_WAIT`` for the answer."""
        with contextlib.suppress(ProbeError, TimeoutError):
            async with asyncio.timeout(QUIT_WAIT):
                await session.ask(quit_(), self.rec.stage)
