"""A prober that answers from a table: for the Slack tests that do not exercise the probe.

The tests of the whole flow use the real prober against loopback servers.
"""

from __future__ import annotations

import asyncio

from bot.probe.model import Code, HostResult, Reason, TargetKind, TargetResult, Verdict


class TableProber:
    def __init__(self, delay: float = 0.0) -> None:
        self.verdicts: dict[str, Verdict] = {}
        self.delay = delay
        self.calls: list[str] = []
        self.route_emails: list[str | None] = []

    def _result(self, target: str, kind: TargetKind, domain: str) -> TargetResult:
        verdict = self.verdicts.get(domain, Verdict.STRICT)
        reasons: tuple[Reason, ...] = ()
        if verdict is Verdict.UNSUPPORTED:
            reasons = (Reason(Code.STARTTLS_NOT_SUPPORTED, "the server does not offer STARTTLS"),)
        elif verdict is Verdict.RELAXED:
            reasons = (Reason(Code.SELF_SIGNED, "the certificate is self-signed"),)
        elif verdict is Verdict.UNREACHABLE:
            reasons = (Reason(Code.CONNECT_REFUSED, "connection refused"),)
        host = HostResult(
            host=f"mx.{domain}",
            address="127.0.0.1",
            port=25,
            verdict=verdict,
            reasons=reasons,
            reached=verdict is not Verdict.UNREACHABLE,
            tls_version="TLSv1.3" if verdict.ok else None,
        )
        return TargetResult(
            target=target, kind=kind, domain=domain, verdict=verdict, hosts=(host,), mx=(host.host,)
        )

    async def _wait(self, target: str) -> None:
        self.calls.append(target)
        if self.delay:
            await asyncio.sleep(self.delay)

    async def probe_domain(self, domain: str, *, email: str | None = None) -> TargetResult:
        await self._wait(domain)
        return self._result(
            email or domain, TargetKind.EMAIL if email else TargetKind.DOMAIN, domain
        )

    async def probe_email(self, address: str) -> TargetResult:
        await self._wait(address)
        return self._result(address, TargetKind.EMAIL, address.rpartition("@")[2])

    async def probe_route(
        self, host: str, port: int | None = None, *, email: str | None = None
    ) -> TargetResult:
        self.route_emails.append(email)
        await self._wait(host)
        return self._result(f"{host}:{port or 25}", TargetKind.ROUTE, host)
