"""Monitoring knows what partners publish: DNSSEC dropped, TLSA broken, MTA-STS changed.

Against real parts on loopback: a zone signed by the test DNS server and validated by
Debian's unbound, an SMTP server whose certificate is rolled over, and an HTTPS server
for the MTA-STS policy. Each condition raises the same kind of alert as a TLS downgrade
(severity by what happens to mail, the fix buttons), once, and clears with a follow-up.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.clock import system_clock
from bot.policy.approvals import approve
from bot.policy.monitor.actions import request_change
from bot.policy.monitor.alerts import ActionId, Condition, Severity
from bot.probe.certs import TrustStore
from bot.probe.model import Dnssec
from bot.probe.partner import PartnerTls
from bot.probe.prober import Prober
from bot.probe.settings import DnssecMode, ProbeSettings
from tests.monitor.harness import ANN, BO, Monitor, add_policy, anyone_approves, raised, resolved
from tests.support.certs import CertCase, Pki
from tests.support.dane_world import dane_ee
from tests.support.dns_server import DnsServer
from tests.support.policy_server import PolicyServer
from tests.support.smtp_server import SmtpServer, free_port
from tests.support.unbound import Unbound, needs_unbound

pytestmark = [pytest.mark.db, pytest.mark.timeout(90), needs_unbound]

DOMAIN, MX = "partner.test", "mx1.partner.test"
MX_ADDRESS, STS_ADDRESS = "127.0.13.2", "127.0.13.3"
FIX = (ActionId.RECHECK, ActionId.RELAX, ActionId.SUSPEND)


def sts_policy(mode: str = "enforce") -> str:
    return f"version: STSv1\nmode: {mode}\nmx: *.partner.test\nmax_age: 86400\n"


@dataclass
class World:
    pki: Pki
    dns: DnsServer
    resolver: Unbound
    anchor: str
    port: int
    sts: PolicyServer
    smtp: SmtpServer | None = None

    async def serve(self, *names: str) -> str:
        """Serve a self-signed certificate (a new key for each ``names``); its 3 1 1 record."""
        if self.smtp is not None:
            await self.smtp.__aexit__(None, None, None)
        cert = self.pki.serve(CertCase.SELF_SIGNED, MX, names=names)
        self.smtp = SmtpServer(MX_ADDRESS, self.port, cert=cert, name=MX)
        await self.smtp.__aenter__()
        return dane_ee(cert.leaf)

    def prober(self) -> Prober:
        settings = ProbeSettings(
            dns_servers=(self.resolver.address,),
            dnssec=DnssecMode.RESOLVER,
            smtp_port=self.port,
            ca_file=self.pki.ca_file,
            timeout=3.0,
            dns_timeout=2.0,
            allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
            mta_sts_port=self.sts.port,
            mta_sts_timeout=2.0,
            ehlo_name="probe.example.test",
        )
        trust = TrustStore.load(self.pki.ca_file, system=False)
        return Prober(settings, clock=system_clock, trust=trust)


@pytest.fixture
async def world(monitor_pki: Pki, tmp_path: Path) -> AsyncIterator[World]:
    port = free_port()
    records = {
        DOMAIN: {"MX": f"10 {MX}."},
        MX: {"A": MX_ADDRESS},
        f"_mta-sts.{DOMAIN}": {"TXT": "v=STSv1; id=1"},
        f"mta-sts.{DOMAIN}": {"A": STS_ADDRESS},
    }
    sts_cert = monitor_pki.serve(CertCase.TRUSTED, f"mta-sts.{DOMAIN}")
    async with (
        DnsServer(records, ipv6=False) as dns,
        PolicyServer(STS_ADDRESS, sts_cert, sts_policy()) as sts,
    ):
        anchor = dns.sign(DOMAIN)
        with Unbound(tmp_path / "unbound", forward_to=dns.address, trust_anchors=[anchor]) as ub:
            w = World(monitor_pki, dns, ub, anchor, port, sts)
            dns.set(f"_{port}._tcp.{MX}", "TLSA", await w.serve())
            try:
                yield w
            finally:
                if w.smtp is not None:
                    await w.smtp.__aexit__(None, None, None)


def admitted() -> dict[str, object]:
    return PartnerTls(
        dnssec=Dnssec.SECURE, dane=True, sts_id="1", sts_mode="enforce", sts_mx=("*.partner.test",)
    ).to_dict()


async def test_tlsa_broken_by_a_rollover_then_fixed(
    engine: Engine, session: Session, world: World
) -> None:
    add_policy(session, DOMAIN, [MX], partner=admitted())
    monitor = Monitor(engine, world.prober())
    # Given a DANE partner as it was approved: nothing to say
    assert raised(await monitor.step()) == []
    # When it rolls its certificate over without updating its TLSA record
    await world.serve(MX, "rolled.partner.test")
    report = await monitor.step()
    # Then the DANE failure is one critical alert (dane-only defers), like a downgrade
    assert Condition.TLSA_BROKEN in raised(report)
    alert = next(a for a in report.raised if a.condition is Condition.TLSA_BROKEN)
    assert alert.severity is Severity.CRITICAL
    assert alert.fingerprint == f"{MX}:tlsa-invalid"
    assert alert.actions == FIX
    assert "deferred (dane-only)" in alert.mail_impact
    assert "matches none of its usable TLSA records" in " ".join(alert.details)
    assert Condition.TLSA_BROKEN not in raised(await monitor.step())  # no repeat
    # When the partner publishes the new certificate's record: one follow-up
    new = dane_ee(world.pki.serve(CertCase.SELF_SIGNED, MX, names=(MX, "rolled.partner.test")).leaf)
    world.dns.set(f"_{world.port}._tcp.{MX}", "TLSA", new)
    report = await monitor.step()
    assert Condition.TLSA_BROKEN in resolved(report)


async def test_mta_sts_id_and_mode_changed(engine: Engine, session: Session, world: World) -> None:
    add_policy(session, DOMAIN, [MX], partner=admitted())
    monitor = Monitor(engine, world.prober())
    assert raised(await monitor.step()) == []
    # When the partner moves its policy to testing under a new id
    world.dns.set(f"_mta-sts.{DOMAIN}", "TXT", "v=STSv1; id=2")
    world.sts.body = sts_policy("testing")
    report = await monitor.step()
    assert raised(report) == [Condition.STS_CHANGED]
    (alert,) = report.raised
    assert alert.summary == (
        "partner.test changed its MTA-STS policy: id 1 → 2; mode enforce → testing."
    )
    assert alert.severity is Severity.WARNING  # dane-only does not come from MTA-STS
    assert alert.fingerprint == "2|testing|*.partner.test"
    # the downgrade's buttons, and Upgrade: it still validates as strict (DANE verified)
    assert alert.actions == (ActionId.RECHECK, ActionId.UPGRADE, ActionId.RELAX, ActionId.SUSPEND)
    # When it goes back: one follow-up
    world.dns.set(f"_mta-sts.{DOMAIN}", "TXT", "v=STSv1; id=1")
    world.sts.body = sts_policy()
    assert resolved(await monitor.step()) == [Condition.STS_CHANGED]


async def test_upgrade_records_the_new_mta_sts_policy_and_clears_the_alert(
    engine: Engine, session: Session, world: World
) -> None:
    policy = add_policy(session, DOMAIN, [MX], partner=admitted())
    assert policy.id is not None
    monitor = Monitor(engine, world.prober())
    assert raised(await monitor.step()) == []
    world.dns.set(f"_mta-sts.{DOMAIN}", "TXT", "v=STSv1; id=3")
    assert raised(await monitor.step()) == [Condition.STS_CHANGED]
    # When an admin clicks Upgrade and an approver approves
    request = request_change(
        session=session,
        action=ActionId.UPGRADE,
        policy_id=policy.id,
        requester=ANN,
        settings=monitor.settings,
        now=monitor.clock(),
    )
    assert request.items[0]["set"]["partner"]["sts_id"] == "3"
    assert request.id is not None
    approve(
        session=session,
        request_id=request.id,
        approver=BO,
        is_approver=anyone_approves,
        now=monitor.clock(),
    )
    session.refresh(policy)
    assert PartnerTls.from_dict(policy.partner).sts_id == "3"
    assert PartnerTls.from_dict(policy.partner).dane  # still DANE-verified: still dane-only
    # Then the next check clears the alert
    assert resolved(await monitor.step()) == [Condition.STS_CHANGED]


async def test_dnssec_dropped(engine: Engine, session: Session, world: World) -> None:
    add_policy(session, DOMAIN, [MX], partner=admitted())
    monitor = Monitor(engine, world.prober())
    assert raised(await monitor.step()) == []
    # When the zone is no longer signed for the resolver (its trust anchor is gone)
    world.resolver.restart(trust_anchors=[])
    report = await monitor.step()
    assert Condition.DNSSEC_DROPPED in raised(report)
    alert = next(a for a in report.raised if a.condition is Condition.DNSSEC_DROPPED)
    assert alert.fingerprint == "dnssec:insecure"
    assert alert.severity is Severity.CRITICAL
    assert alert.summary.startswith("The MX records of partner.test are no longer DNSSEC-signed")
    assert alert.actions == FIX
    # When it is signed again: one follow-up
    world.resolver.restart(trust_anchors=[world.anchor])
    assert Condition.DNSSEC_DROPPED in resolved(await monitor.step())
