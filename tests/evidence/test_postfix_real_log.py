"""The log comes from real Postfix: deliveries to loopback servers with and without STARTTLS.

Given partner MX hosts on loopback — trusted and self-signed certificates, no
STARTTLS, STARTTLS refused, TLS 1.2 only — found through our loopback DNS, and a
TLS policy table requiring TLS for some of them; when a private Postfix instance
(``maillog_file``, written by postlogd) delivers a message to each; then
``tlsbot observe postfix`` reads that log and counts every delivery at the level
Postfix logged, and every TLS deferral with its reason.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.cli import main
from bot.clock import system_clock
from bot.policy.db import new_session
from bot.policy.evidence.traffic import traffic_for
from tests.export.postfix_support import (
    DNS_ADDRESS,
    MailSink,
    PortDnsServer,
    PostfixInstance,
    can_run_instance,
    loopback,
)
from tests.support.certs import CertCase, Pki
from tests.support.db import TestDatabase
from tests.support.smtp_server import Behaviour

pytestmark = [
    pytest.mark.postfix,
    pytest.mark.db,
    pytest.mark.timeout(90),
    pytest.mark.skipif(can_run_instance() is not None, reason=str(can_run_instance())),
]


@dataclass(frozen=True)
class Partner:
    domain: str
    host: int  # loopback(host):25 is its MX
    behaviour: Behaviour
    cert: CertCase | None
    policy: str | None  # smtp_tls_policy_maps level, None: the default (may)
    delivered: dict[str, int]
    deferred: dict[str, int]
    recipients: int = 1

    @property
    def mx(self) -> str:
        return f"mx.{self.domain}"


PARTNERS = [
    Partner(
        "verified.test", 41, Behaviour.STARTTLS, CertCase.TRUSTED, "verify", {"verified": 2}, {}, 2
    ),
    Partner("trusted.test", 42, Behaviour.STARTTLS, CertCase.TRUSTED, None, {"trusted": 1}, {}),
    Partner(
        "untrusted.test", 43, Behaviour.STARTTLS, CertCase.SELF_SIGNED, None, {"untrusted": 1}, {}
    ),
    Partner("plain.test", 44, Behaviour.NO_STARTTLS, None, None, {"plaintext": 1}, {}),
    Partner("tls12.test", 45, Behaviour.AES128_ONLY, CertCase.TRUSTED, None, {"trusted": 1}, {}),
    Partner(
        "notls-req.test", 46, Behaviour.NO_STARTTLS, None, "encrypt", {}, {"tls-not-offered": 1}
    ),
    Partner(
        "refused-req.test",
        47,
        Behaviour.STARTTLS_454,
        CertCase.TRUSTED,
        "encrypt",
        {},
        {"tls-not-offered": 1},
    ),
    Partner(
        "selfsigned-req.test",
        48,
        Behaviour.STARTTLS,
        CertCase.SELF_SIGNED,
        "verify",
        {},
        {"certificate-not-verified": 1},
    ),
]


@contextlib.asynccontextmanager
async def partners_running(pki: Pki) -> AsyncIterator[list[MailSink]]:
    async with contextlib.AsyncExitStack() as stack:
        sinks = []
        for p in PARTNERS:
            cert = pki.serve(p.cert, p.mx) if p.cert else None
            sink = MailSink(loopback(p.host), 25, p.behaviour, cert=cert, name=p.mx)
            sinks.append(await stack.enter_async_context(sink))
        yield sinks


def recipients() -> list[str]:
    return [f"user{n}@{p.domain}" for p in PARTNERS for n in range(p.recipients)]


async def run_postfix(tmp_path: Path) -> str:
    """Deliver one message to every partner; return the log Postfix wrote."""
    pki = Pki.mint(tmp_path / "pki")
    records: dict[str, dict[str, str]] = {}
    for p in PARTNERS:
        records[p.domain] = {"MX": f"10 {p.mx}."}
        records[p.mx] = {"A": loopback(p.host)}
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(f"nameserver {DNS_ADDRESS}\noptions attempts:1 timeout:2\n")
    resolv.chmod(0o644)
    table = ", ".join(f"{p.domain}={p.policy}" for p in PARTNERS if p.policy)
    async with PortDnsServer(records), partners_running(pki):
        instance = PostfixInstance({"smtp_tls_policy_maps": f"inline:{{ {table} }}"}, resolv)
        ca = instance.file("ca.pem", pki.ca_file.read_bytes())
        with (instance.config / "main.cf").open("a") as main_cf:
            main_cf.write(f"smtp_tls_CAfile = {ca}\n")
        async with instance as postfix:
            await postfix.send(*recipients())
            for rcpt in recipients():
                await postfix.wait_for_status(rcpt)
            return postfix.log()


@pytest.fixture
def env(database: TestDatabase, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("DATABASE_URL", database.url_with_schema)
    return engine


async def test_real_postfix_deliveries_are_counted_by_tls_level_and_deferral_reason(
    env: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = await run_postfix(tmp_path)
    assert "Verified TLS connection established to mx.verified.test" in log
    assert "TLSv1.2 with cipher" in log
    maillog = tmp_path / "maillog"
    maillog.write_text(log)

    assert main(["observe", "postfix", "--once", "--json", str(maillog)], clock=system_clock) == 0
    document = json.loads(capsys.readouterr().out)

    rows = {row["domain"]: row for row in document["domains"]}
    for p in PARTNERS:
        assert rows[p.domain]["delivered"] == p.delivered, p.domain
        assert rows[p.domain]["deferred"] == p.deferred, p.domain
    assert rows["tls12.test"]["tls_versions"] == {"TLSv1.2": 1}
    assert rows["verified.test"]["tls_versions"] == {"TLSv1.3": 2}
    assert rows["plain.test"]["tls_versions"] == {"none": 1}
    assert document["unknown"] == 0
    # the day is the one Postfix wrote: today in the log's zone, within a day of UTC
    days = {date.fromisoformat(row["day"]) for row in document["domains"]}
    assert len(days) == 1
    assert abs((days.pop() - system_clock().date()).days) <= 1

    # stored, and a second run over the same log adds nothing
    assert main(["observe", "postfix", str(maillog)], clock=system_clock) == 0
    with new_session(env) as session:
        stored = traffic_for(session=session, domain="verified.test", now=system_clock(), days=3)
        assert stored.delivered == {"verified": 2}
        refused = traffic_for(
            session=session, domain="refused-req.test", now=system_clock(), days=3
        )
        assert refused.deferred == {"tls-not-offered": 1}
