"""Probe one SMTP host at one vetted address: the thin I/O driver around the sans-IO parts.

:class:`HostProbe` connects to the IP literal it is given (never to a name: the name goes
only into SNI) and drives the sans-IO :class:`~bot.probe.smtp.Dialogue` (greeting →
EHLO → STARTTLS → handshake → EHLO → optional MAIL/RCPT → QUIT, never DATA) under one
overall deadline (``asyncio.timeout(settings.timeout)``). It reads at most
``READ_SIZE`` bytes at a time into the bounded reply parser and returns a
:class:`~bot.probe.model.HostResult`; :func:`probe_host` is the one-call form.

Connections, one after another, never two at once: the first decides. A follow-up is
made only to ask what the first could not settle: whether an AES-256 suite is negotiable
(the first chose another suite: one follow-up per TLS version still worth asking, TLS 1.3
then TLS 1.2, each stopping at its handshake, ``bot.probe.suites``), or, when the TLS 1.2+
handshake failed, whether the server speaks only TLS 1.0/1.1. What the first connection
proved stands: a follow-up that is refused, turned away (421, a connection limit) or runs
out of time leaves its question as a ``check-incomplete`` warning. Every connection is recorded with
the time spent in each phase (:class:`~bot.probe.model.Attempt`).

Recipients (``RCPT TO`` inside TLS) come from a :class:`Recipients` queue, so that the
targets of one batch that share this host ask theirs on the one session it opens.

Low-level errors (``ssl.SSLError``, ``ConnectionRefusedError``, ``OSError`` …) become
:class:`~bot.probe.errors.ProbeError` values at one seam, :func:`bot.probe.errors.translate`
(the error tree is documented there). Every ``ProbeError`` is caught in this module
and becomes facts; the overall deadline is not an error of the seam:
``asyncio.timeout`` ends the probe wherever it is and the facts learnt so far are
evaluated (``timeout``). Nothing escapes :meth:`HostProbe.run`: a certificate that the
judgment cannot parse is a ``validation-failure``, and any other exception (a bug, or
something no one foresaw a server sending) is a ``probe-error`` reason on that address.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable

from bot.clock import Clock
from bot.probe import dane
from bot.probe.certs import TrustStore, analyse_chain
from bot.probe.dns import RecordsResult
from bot.probe.errors import (
    HandshakeFailed,
    HandshakeInterrupted,
    ProbeError,
    ProtocolViolation,
    translate,
)
from bot.probe.evaluate import evaluate
from bot.probe.limits import Limits
from bot.probe.model import (
    CertificateInfo,
    Code,
    DaneResult,
    Dnssec,
    Family,
    HostResult,
    Purpose,
    Reason,
    RecipientCheck,
    Verdict,
)
from bot.probe.record import Recipients, Recorder
from bot.probe.session import Session, open_stream
from bot.probe.settings import ProbeSettings
from bot.probe.smtp import (
    Close,
    Dialogue,
    Send,
    StartTls,
    Step,
    accepted,
)
from bot.probe.suites import Aes256Ask
from bot.probe.tls import Negotiated, TlsContexts, followup_handshake, is_aes256, negotiated

log = logging.getLogger("tlsbot.probe")

QUIT_WAIT = 2.0  # seconds to wait for the answer to QUIT
_Tls = ssl.SSLContext | Aes256Ask  # the handshake of a connection: ssl's, or a pyOpenSSL ask


class _Cut(Exception):
    """The connect phase was cut short because another address of the host settled it."""


class HostProbe:
    """One probe of (host, address, port): at most three connections, one after another."""

    def __init__(
        self,
        host: str,
        address: str,
        port: int,
        *,
        settings: ProbeSettings,
        trust: TrustStore,
        clock: Clock,
        contexts: TlsContexts | None = None,
        recipients: Recipients | None = None,
        tlsa: Callable[[], Awaitable[RecordsResult]] | None = None,
        address_dnssec: Dnssec | None = None,
    ) -> None:
        self.host, self.address, self.port = host, address, port
        self.settings, self.trust, self.clock = settings, trust, clock
        self.contexts = contexts or TlsContexts.create()
        self.recipients = recipients
        self.tlsa = tlsa  # the host's TLSA answer (TLSBOT_DNSSEC=resolver), for DANE
        self.address_dnssec = address_dnssec
        self.rec = Recorder()
        self.connected = False  # a TCP connection was made
        self._cut: tuple[float, str] | None = None
        self._connecting: asyncio.Timeout | None = None

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

    def sibling_settled(self, grace: float, sibling: str) -> None:
        """Another address of this host was fully tested: if this one has not connected yet,
        it gets ``grace`` more seconds to do so (a black hole need not cost the deadline)."""
        if self.connected or self._cut is not None:
            return
        self._cut = (grace, sibling)
        if self._connecting is not None:
            self._connecting.reschedule(asyncio.get_running_loop().time() + grace)

    async def run(self, limits: Limits | None = None) -> HostResult:
        """The result; never raises (a bug becomes a ``probe-error`` reason)."""
        started = time.monotonic()
        try:
            if limits is None:
                await self._run()
            else:
                async with limits.slot(self.address):
                    await self._run()
            return self._result(started, await self._dane())
        except Exception as exc:  # nothing a server sends may take the batch down
            log.exception("probe of %s failed", self.where)
            return HostResult(
                host=self.host,
                address=self.address,
                port=self.port,
                verdict=Verdict.UNREACHABLE,
                reasons=(
                    Reason(
                        Code.PROBE_ERROR,
                        f"the probe of {self.where} failed unexpectedly: "
                        f"{type(exc).__name__}: {exc}",
                    ),
                ),
                connections=len(self.rec.attempts),
                elapsed_ms=int((time.monotonic() - started) * 1000),
                family=Family.of(self.address),
                attempts=tuple(self.rec.attempts),
            )
        finally:
            if self.recipients is not None:
                self.recipients.close()

    async def _run(self) -> None:
        rec = self.rec
        try:
            async with asyncio.timeout(self.settings.timeout):
                await self._main()
        except TimeoutError:
            reason = Reason(
                Code.TIMEOUT,
                f"{self.where} did not finish within {self.settings.timeout:g} s "
                f"({rec.stage.value})",
            )
            rec.stop(reason)
            if rec.purpose is not Purpose.FIRST:
                rec.unchecked(rec.purpose, reason)
            elif rec.facts.tls_version is not None and rec.facts.aes256 is None:
                rec.unchecked(Purpose.AES256, reason)  # no time was left for the follow-up

    async def _dane(self) -> DaneResult | None:
        """DANE against the chain of the deciding handshake: no connection of its own."""
        if self.tlsa is None:
            return None
        name = f"_{self.port}._tcp.{self.host}"
        try:
            async with asyncio.timeout(self.settings.dns_timeout + 1):
                records = await self.tlsa()
        except TimeoutError:
            records = RecordsResult(
                name, error=Reason(Code.DNS_TIMEOUT, f"no DNS answer for {name} TLSA")
            )
        facts = self.rec.facts
        return dane.check(
            self.host,
            records,
            address_dnssec=self.address_dnssec,
            chain=facts.chain,
            starttls_offered=facts.starttls_offered,
            now=self.clock(),
        )

    def _result(self, started: float, dane_result: DaneResult | None = None) -> HostResult:
        facts, rec = self.rec.facts, self.rec
        verdict, reasons = evaluate(facts)
        return HostResult(
            host=self.host,
            address=self.address,
            port=self.port,
            verdict=verdict,
            reasons=reasons,
            reached=facts.reached,
            starttls_offered=facts.starttls_offered,
            tls_version=facts.tls_version,
            cipher=facts.cipher,
            aes256=facts.aes256,
            offered_versions=(facts.legacy_version,) if facts.legacy_version else (),
            certificate=facts.certificate,
            connections=len(rec.attempts),
            elapsed_ms=int((time.monotonic() - started) * 1000),
            family=Family.of(self.address),
            warnings=facts.unchecked,
            attempts=tuple(rec.attempts),
            recipients=tuple(
                RecipientCheck(address, accepted(reply), str(reply))
                for address, reply in rec.recipients.items()
            ),
            dane=dane_result,
            dnssec=self.address_dnssec,
        )

    async def _main(self) -> None:
        first = await self._attempt(self.contexts.modern, Purpose.FIRST)
        facts = self.rec.facts
        if first is None:
            if facts.handshake_error is not None and self.contexts.legacy is not None:
                await self._legacy_follow_up()
            return
        if facts.aes256 is None:
            await self._aes256_follow_up(first)

    async def _aes256_follow_up(self, first: Negotiated) -> None:
        """The first handshake chose a suite that is not AES-256: ask again offering AES-256
        suites only, one TLS version per connection (``bot.probe.suites``)."""
        refused: list[str] = []
        for ask in self.contexts.aes256.after(first.version):
            again = await self._attempt(ask, Purpose.AES256)
            if again is not None and is_aes256(again.cipher):
                self.rec.learn(aes256=True)
                return
            if self.rec.failure is not None:
                self.rec.unchecked(Purpose.AES256, self.rec.failure)
                return  # could not ask: no AES-256 fact either way
            refused.append(ask.label)  # the AES-256-only handshake was refused
        self.rec.learn(aes256=False, aes256_refused=tuple(refused))

    async def _legacy_follow_up(self) -> None:
        """The TLS 1.2+ handshake failed: does the server speak only TLS 1.0/1.1?"""
        assert self.contexts.legacy is not None
        legacy = await self._attempt(self.contexts.legacy, Purpose.LEGACY)
        if legacy is not None:
            self.rec.learn(legacy_version=legacy.version)
        elif self.rec.failure is not None:
            self.rec.unchecked(Purpose.LEGACY, self.rec.failure)

    async def _attempt(self, ctx: _Tls, purpose: Purpose) -> Negotiated | None:
        """One connection up to and through the TLS handshake; None if it did not get there.

        A handshake the server refused (a TLS alert) leaves ``rec.failure`` empty; any
        other early end is in ``rec.failure`` (follow-ups) or ``facts.stopped`` (the first).
        """
        self.rec.begin(purpose)
        try:
            return await self._connection(ctx, purpose)
        finally:
            task = asyncio.current_task()
            self.rec.end(cancelled=task is not None and task.cancelling() > 0)

    async def _connection(self, ctx: _Tls, purpose: Purpose) -> Negotiated | None:
        rec = self.rec
        try:
            reader, writer = await self._connect(purpose)
        except ProbeError as exc:
            rec.stop(exc.reason())
            return None
        except _Cut as exc:
            rec.stop(Reason(Code.TIMEOUT, str(exc)))
            return None
        self.connected = True
        session = Session(reader, writer, self.where)
        try:
            return await self._dialogue(session, ctx, purpose)
        except HandshakeFailed as exc:
            interrupted = isinstance(exc, HandshakeInterrupted)
            rec.refused = True
            if purpose is Purpose.FIRST:
                rec.learn(handshake_error=str(exc), handshake_interrupted=interrupted)
            elif interrupted:
                rec.stop(Reason(Code.CONNECT_FAILED, f"{self.where}: {exc}"))
            return None
        except ProbeError as exc:
            rec.stop(exc.reason())
            return None
        finally:
            await session.close()

    async def _connect(self, purpose: Purpose) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open the TCP connection; the first one may be cut short (:meth:`sibling_settled`)."""
        if purpose is not Purpose.FIRST:
            with translate(Step.CONNECT, self.where):
                return await open_stream(self.address, self.port)
        try:
            async with asyncio.timeout(None) as connecting:
                self._connecting = connecting
                if self._cut is not None:
                    connecting.reschedule(asyncio.get_running_loop().time() + self._cut[0])
                with translate(Step.CONNECT, self.where):
                    return await open_stream(self.address, self.port)
        except TimeoutError:
            if not connecting.expired() or self._cut is None:
                raise
            grace, sibling = self._cut
            raise _Cut(
                f"{self.where} had not accepted the connection {grace:g} s after {sibling} "
                "was tested; not waited for further"
            ) from None
        finally:
            self._connecting = None

    async def _dialogue(self, session: Session, ctx: _Tls, purpose: Purpose) -> Negotiated | None:
        """Drive :class:`Dialogue` over the connection; the TLS facts once the handshake is done."""
        primary = purpose is Purpose.FIRST
        dialogue = Dialogue(self.settings.ehlo_name)
        result: Negotiated | None = None
        try:
            while dialogue.step is not Step.DONE:
                step = dialogue.step
                self.rec.enter(step)
                if step is Step.QUIT:
                    await self._goodbye(session)
                    break
                reply = await session.reply(step)
                if primary and result is not None:
                    await self._recipients(dialogue, step)
                action = dialogue.receive(reply)
                if primary and self.recipients is not None and dialogue.step is Step.QUIT:
                    self.recipients.close()  # the last RCPT is asked: later ones are too late
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
                    if session.queue or session.parser.pending:
                        raise ProtocolViolation(
                            f"{self.where} sent a reply nobody asked for ({dialogue.step.value} "
                            "was still to be sent)"
                        )
                    await session.send(action.data, dialogue.step)
        except ProbeError:
            if result is None:  # includes every HandshakeFailed: result comes from the handshake
                raise
            # the TLS facts are known; a server that misbehaves afterwards changes nothing
        finally:
            if primary:
                self.rec.recipients.update(dialogue.rcpt_replies)
                if self.recipients is not None:
                    self.recipients.close()
        return result

    async def _recipients(self, dialogue: Dialogue, step: Step) -> None:
        """Queue the recipients to ask on this session (inside TLS, before MAIL FROM)."""
        if self.recipients is None or step not in (Step.TLS_EHLO, Step.RCPT):
            return
        if step is Step.TLS_EHLO:
            await self.recipients.ready()
        for address in self.recipients.take():
            dialogue.ask(address)

    def _learn(self, dialogue: Dialogue, step: Step, *, primary: bool) -> None:
        """Turn what the last reply showed into facts."""
        rec = self.rec
        if step is Step.GREETING and dialogue.refusal is None and primary:
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

    async def _handshake(self, session: Session, ctx: _Tls, *, primary: bool) -> Negotiated:
        self.rec.enter(Step.HANDSHAKE)
        with translate(Step.HANDSHAKE, self.where):
            if isinstance(ctx, Aes256Ask):
                return await followup_handshake(ctx, session.reader, session.writer, self.sni)
            await session.writer.start_tls(ctx, server_hostname=self.sni)
        ssl_object = session.writer.get_extra_info("ssl_object")
        if ssl_object is None:
            raise HandshakeFailed("no TLS session was established")
        result = negotiated(ssl_object)
        if primary:
            info, problems = self._judge(result.chain)
            self.rec.learn(
                tls_version=result.version,
                cipher=result.cipher,
                aes256=True if is_aes256(result.cipher) else None,
                certificate=info,
                certificate_problems=problems,
                chain=tuple(result.chain),
            )
        return result

    def _judge(self, chain: tuple[bytes, ...]) -> tuple[CertificateInfo | None, tuple[Reason, ...]]:
        """The certificate judgment, which must never raise whatever the server sent."""
        try:
            report = analyse_chain(chain, self.host, self.trust, now=self.clock())
        except Exception as exc:  # a malformed certificate the parser chokes on
            log.info("certificate of %s cannot be judged: %r", self.where, exc)
            return None, (
                Reason(Code.VALIDATION_FAILURE, f"the certificate cannot be parsed: {exc}"),
            )
        return report.info, report.problems

    async def _goodbye(self, session: Session) -> None:
        """Wait for the answer to QUIT, but no more than ``QUIT_WAIT``."""
        with contextlib.suppress(ProbeError, TimeoutError):
            async with asyncio.timeout(QUIT_WAIT):
                await session.reply(Step.QUIT)


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
    probe = HostProbe(
        host,
        address,
        port,
        settings=settings,
        trust=trust,
        clock=clock,
        contexts=contexts,
        recipients=Recipients([email] if email else []),
    )
    result = await probe.run(limits)
    return result.for_recipient(email)
