"""MTA-STS policies are cached by id and max_age in the store, shared by every replica.

Given a real HTTPS policy server and a real DNS server on loopback, and two probers that
stand for two replicas, each with its own engine on the same database; when they check
the same domain; then only the first fetches, until the TXT record's id changes or the
policy's max_age runs out. Runs on PostgreSQL too (``-m db``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from bot.clock import ManualClock
from bot.policy.models import MtaStsCache
from bot.policy.sts_cache import DatabaseStsCache
from bot.probe.dns import Resolver
from bot.probe.extras import gather_extras
from bot.probe.model import Code, DomainExtras
from bot.probe.prober import Prober
from bot.probe.settings import ProbeSettings
from bot.probe.sts_cache import CachedPolicy
from bot.probe.sts_parse import StsPolicy
from tests.support.certs import CertCase, Pki
from tests.support.db import TestDatabase
from tests.support.dns_server import DnsServer
from tests.support.policy_server import PolicyServer

pytestmark = [pytest.mark.db, pytest.mark.timeout(30)]

DOMAIN = "cached.test"
ADDRESS = "127.0.12.1"
START = datetime(2031, 3, 1, 8, 0, tzinfo=UTC)


def policy(mode: str = "enforce", max_age: int = 3600) -> str:
    return f"version: STSv1\nmode: {mode}\nmx: mx.cached.test\nmax_age: {max_age}\n"


@dataclass
class World:
    dns: DnsServer
    server: PolicyServer
    settings: ProbeSettings

    def txt(self, ident: str) -> None:
        self.dns.set(f"_mta-sts.{DOMAIN}", "TXT", f"v=STSv1; id={ident}")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.mint(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def world(pki: Pki) -> AsyncIterator[World]:
    cert = pki.serve(CertCase.TRUSTED, f"mta-sts.{DOMAIN}")
    records = {
        DOMAIN: {"MX": "10 mx.cached.test."},
        "mx.cached.test": {"A": "127.0.12.2"},
        f"_mta-sts.{DOMAIN}": {"TXT": "v=STSv1; id=one"},
        f"mta-sts.{DOMAIN}": {"A": ADDRESS},
    }
    async with DnsServer(records, ipv6=False) as dns, PolicyServer(ADDRESS, cert, policy()) as srv:
        settings = ProbeSettings(
            dns_servers=dns.servers,
            dns_timeout=1.0,
            ca_file=pki.ca_file,
            allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
            mta_sts_port=srv.port,
            mta_sts_timeout=2.0,
            timeout=2.0,
        )
        yield World(dns, srv, settings)


async def extras(world: World, cache: DatabaseStsCache, clock: ManualClock) -> DomainExtras:
    return await gather_extras(
        DOMAIN,
        ("mx.cached.test",),
        resolver=Resolver(world.settings),
        settings=world.settings,
        port=25,
        sts_cache=cache,
        clock=clock,
    )


async def test_replicas_share_one_fetch_until_the_id_changes(
    world: World, engine: Engine, database: TestDatabase
) -> None:
    clock = ManualClock(START)
    replica_a = DatabaseStsCache(engine)
    other_engine = database.new_engine()
    replica_b = DatabaseStsCache(other_engine)
    try:
        # Given replica A fetched the policy
        first = await extras(world, replica_a, clock)
        assert (first.mta_sts_mode, first.mta_sts_id, world.server.requests) == (
            "enforce",
            "one",
            1,
        )
        # When the partner edits the file without changing the TXT id
        world.server.body = policy(mode="testing")
        clock.advance(minutes=10)
        # Then replica B uses the shared cache, as senders do: no fetch, the cached mode
        second = await extras(world, replica_b, clock)
        assert world.server.requests == 1
        assert second.mta_sts_mode == "enforce"
        assert second.mta_sts_mx == ("mx.cached.test",)
        # When the TXT id changes, the policy is fetched again, by whichever replica
        world.txt("two")
        third = await extras(world, replica_b, clock)
        assert world.server.requests == 2
        assert (third.mta_sts_mode, third.mta_sts_id) == ("testing", "two")
        fourth = await extras(world, replica_a, clock)
        assert world.server.requests == 2
        assert fourth.mta_sts_mode == "testing"
    finally:
        other_engine.dispose()


async def test_an_expired_policy_is_fetched_again(world: World, engine: Engine) -> None:
    clock = ManualClock(START)
    cache = DatabaseStsCache(engine)
    await extras(world, cache, clock)
    clock.advance(seconds=3599)
    await extras(world, cache, clock)
    assert world.server.requests == 1
    clock.advance(seconds=1)  # max_age 3600 s has run out
    await extras(world, cache, clock)
    assert world.server.requests == 2
    with Session(engine) as session:
        row = session.scalars(select(MtaStsCache)).one()
    assert row.domain == DOMAIN
    assert row.policy_id == "one"
    assert row.expires_at == START.replace(hour=10)  # fetched at 09:00, max_age one hour


async def test_a_failed_fetch_says_what_senders_with_the_cached_policy_do(
    world: World, engine: Engine
) -> None:
    clock = ManualClock(START)
    cache = DatabaseStsCache(engine)
    await extras(world, cache, clock)
    world.txt("two")
    world.server.status = "404 Not Found"
    result = await extras(world, cache, clock)
    assert result.mta_sts_error is not None
    assert result.mta_sts_error.code is Code.STS_POLICY_FETCH_ERROR
    assert "keep applying it until 2031-03-01 09:00 UTC" in result.mta_sts_error.message
    assert result.mta_sts_mode is None


async def test_the_prober_is_given_the_cache(world: World, engine: Engine) -> None:
    clock = ManualClock(START)
    for _ in range(2):  # two probers: two replicas, one database
        prober = Prober(world.settings, clock=clock, sts_cache=DatabaseStsCache(engine))
        result = await prober.probe_domain(DOMAIN)
        assert result.extras.mta_sts_mode == "enforce"
    assert world.server.requests == 1


async def test_an_unreachable_store_costs_only_the_cache(world: World) -> None:
    from bot.policy.db import make_engine

    broken = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        cache = DatabaseStsCache(broken)
        assert await cache.get(DOMAIN) is None
        entry = CachedPolicy("x", StsPolicy("none", (), 1), START)
        await cache.put(DOMAIN, entry)  # logged, not raised
        result = await extras(world, cache, ManualClock(START))
        assert result.mta_sts_mode == "enforce"
        assert result.errors == ()
    finally:
        broken.dispose()
