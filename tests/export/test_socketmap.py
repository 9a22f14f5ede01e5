"""The socketmap server: protocol answers, limits, and refresh from the store."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Hashable

import pytest

from bot.export.model import Level, PublishedPolicy
from bot.export.netstring import Decoder, encode
from bot.export.snapshot import SnapshotCache
from bot.export.socketmap import Limits, SocketmapServer, answer
from bot.export.tables import Tables, build_tables

pytestmark = pytest.mark.timeout(20)

TABLES = build_tables(
    [
        PublishedPolicy("strict.example", Level.STRICT, ("mx.strict.example",)),
        PublishedPolicy("relaxed.example", Level.RELAXED, ("mx.relaxed.example",)),
    ]
)
SECURE = b"secure match=mx.strict.example protocols=>=TLSv1.2 ciphers=high"


class FakeSource:
    """A store whose contents and availability the test controls."""

    def __init__(self, policies: list[PublishedPolicy]) -> None:
        self.policies = policies
        self.counter = 1
        self.down = False
        self.loads = 0

    def change(self, policies: list[PublishedPolicy]) -> None:
        self.policies = policies
        self.counter += 1

    def version(self) -> Hashable:
        if self.down:
            raise ConnectionError("connection refused\nsecond line")
        return self.counter

    def load(self) -> tuple[Hashable, Tables]:
        self.loads += 1
        return self.version(), build_tables(self.policies)


@pytest.mark.parametrize(
    ("request_", "reply"),
    [
        pytest.param(b"tls_policy strict.example", b"OK " + SECURE, id="strict"),
        pytest.param(b"tls_policy STRICT.example", b"OK " + SECURE, id="case-folded"),
        pytest.param(
            b"tls_policy relaxed.example",
            b"OK encrypt protocols=>=TLSv1.2 ciphers=high",
            id="relaxed",
        ),
        pytest.param(b"tls_inbound strict.example", b"OK reject_plaintext_session", id="inbound"),
        pytest.param(
            b"tls_inbound user@strict.example", b"OK reject_plaintext_session", id="inbound-address"
        ),
        pytest.param(
            b"tls_inbound u@eu.strict.example",
            b"OK reject_plaintext_session",
            id="inbound-subdomain",
        ),
        pytest.param(b"tls_inbound eu.strict.example", b"NOTFOUND ", id="inbound-bare-subdomain"),
        pytest.param(b"tls_inbound user@other.example", b"NOTFOUND ", id="inbound-other"),
        pytest.param(b"tls_policy user@strict.example", b"NOTFOUND ", id="policy-address"),
        pytest.param(b"tls_policy other.example", b"NOTFOUND ", id="unknown-domain"),
        pytest.param(b"tls_policy .strict.example", b"NOTFOUND ", id="parent-form"),
        pytest.param(b"tls_policy \xff\xfe", b"NOTFOUND ", id="not-ascii"),
        pytest.param(b"tls_policy strict.example ", b"NOTFOUND ", id="trailing-space"),
        pytest.param(b"transport strict.example", b"PERM unknown map transport", id="unknown-map"),
        pytest.param(b"x\r\n\xff\x00 k", b"PERM unknown map x????", id="unknown-map-unprintable"),
        pytest.param(b"tls_policy", b"PERM malformed request: expected '<map> <key>'", id="no-key"),
        pytest.param(b"tls_policy ", b"PERM malformed request: expected '<map> <key>'", id="empty"),
    ],
)
def test_answer(request_: bytes, reply: bytes) -> None:
    assert answer(TABLES, request_) == encode(reply)


def test_answer_temp_without_tables() -> None:
    assert answer(None, b"tls_policy strict.example") == encode(b"TEMP policy store unavailable")
    assert answer(None, b"nosuch x") == encode(b"PERM unknown map nosuch")


@pytest.fixture
def source() -> FakeSource:
    return FakeSource([PublishedPolicy("strict.example", Level.STRICT, ("mx.strict.example",))])


@pytest.fixture
async def server(source: FakeSource) -> AsyncIterator[SocketmapServer]:
    cache = SnapshotCache(source, refresh_interval=0.02, max_stale=0.3)
    srv = SocketmapServer(
        cache, Limits(max_query=200, idle_timeout=0.5, request_timeout=0.3, max_connections=5)
    )
    await srv.start("127.0.0.1", 0)
    yield srv
    await srv.close()


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = Decoder(100_000)
        self.pending: list[bytes] = []

    @classmethod
    async def connect(cls, server: SocketmapServer) -> Client:
        return cls(*await asyncio.open_connection("127.0.0.1", server.port))

    async def replies(self, count: int) -> list[bytes]:
        while len(self.pending) < count:
            data = await asyncio.wait_for(self.reader.read(65536), 5)
            if not data:
                raise ConnectionResetError("closed")
            self.pending += self.decoder.feed(data)
        out, self.pending = self.pending[:count], self.pending[count:]
        return out

    async def ask(self, *requests: bytes) -> list[bytes]:
        self.writer.write(b"".join(encode(r) for r in requests))
        return await self.replies(len(requests))

    async def closed(self) -> bool:
        try:
            while await asyncio.wait_for(self.reader.read(65536), 5):
                pass
        except ConnectionError:
            pass  # reset or broken pipe: closed all the same
        return True

    def close(self) -> None:
        self.writer.close()


async def test_many_pipelined_requests_on_one_connection(server: SocketmapServer) -> None:
    client = await Client.connect(server)
    replies = await client.ask(*[b"tls_policy strict.example", b"tls_policy nope.example"] * 50)
    assert replies == [b"OK " + SECURE, b"NOTFOUND "] * 50
    assert await client.ask(b"tls_inbound strict.example") == [b"OK reject_plaintext_session"]
    client.close()


async def test_request_split_across_writes(server: SocketmapServer) -> None:
    client = await Client.connect(server)
    wire = encode(b"tls_policy strict.example")
    for i in range(len(wire)):
        client.writer.write(wire[i : i + 1])
        await client.writer.drain()
    assert await client.replies(1) == [b"OK " + SECURE]
    client.close()


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(b"x:tls_policy a,", id="bad-length"),
        pytest.param(b"5:hello!", id="bad-terminator"),
        pytest.param(b"201:", id="oversized"),
        pytest.param(b"99999999999", id="endless-length"),
    ],
)
async def test_malformed_request_costs_one_connection(
    server: SocketmapServer, garbage: bytes
) -> None:
    good = await Client.connect(server)
    bad = await Client.connect(server)
    bad.writer.write(garbage)
    assert (await bad.replies(1))[0].startswith(b"PERM ")
    assert await bad.closed()
    assert await good.ask(b"tls_policy strict.example") == [b"OK " + SECURE]
    fresh = await Client.connect(server)
    assert await fresh.ask(b"tls_policy strict.example") == [b"OK " + SECURE]
    good.close()
    fresh.close()


async def test_idle_connection_is_closed(server: SocketmapServer) -> None:
    client = await Client.connect(server)
    assert await client.ask(b"tls_policy strict.example") == [b"OK " + SECURE]
    assert await client.closed()


async def test_stalled_request_is_closed(server: SocketmapServer) -> None:
    client = await Client.connect(server)
    loop = asyncio.get_running_loop()
    start = loop.time()
    client.writer.write(b"25:tls_po")
    with contextlib.suppress(ConnectionError):
        for _ in range(4):  # keep it "active" but never finish the request
            await asyncio.sleep(0.1)
            client.writer.write(b"l")
    assert await client.closed()
    assert loop.time() - start < 1.5


async def test_a_busy_pipelining_client_is_not_mistaken_for_a_stalled_one(
    server: SocketmapServer,
) -> None:
    client = await Client.connect(server)
    wire = encode(b"tls_policy strict.example")
    loop = asyncio.get_running_loop()
    end = loop.time() + 0.6  # longer than request_timeout (0.3 s) and idle_timeout (0.5 s)
    half = len(wire) // 2
    client.writer.write(wire[:half])
    done = 0
    while loop.time() < end:  # always leave half a request in the server's buffer
        await asyncio.sleep(0.05)
        client.writer.write(wire[half:] + wire[:half])
        done += 1
    assert await client.replies(done) == [b"OK " + SECURE] * done
    client.close()


async def test_connection_limit(server: SocketmapServer) -> None:
    clients = [await Client.connect(server) for _ in range(5)]
    for c in clients:
        assert await c.ask(b"tls_policy strict.example") == [b"OK " + SECURE]
    extra = await Client.connect(server)
    assert await extra.closed()
    for c in clients:
        c.close()


async def test_approved_change_is_answered_without_restart(
    server: SocketmapServer, source: FakeSource
) -> None:
    client = await Client.connect(server)
    assert await client.ask(b"tls_policy new.example") == [b"NOTFOUND "]
    source.change([PublishedPolicy("new.example", Level.RELAXED)])
    await asyncio.sleep(0.15)
    assert await client.ask(b"tls_policy new.example", b"tls_policy strict.example") == [
        b"OK encrypt protocols=>=TLSv1.2 ciphers=high",
        b"NOTFOUND ",
    ]
    client.close()


async def test_unchanged_version_does_not_reload(
    server: SocketmapServer, source: FakeSource
) -> None:
    loads = source.loads
    await asyncio.sleep(0.15)
    assert source.loads == loads


async def test_store_down_answers_temp_after_max_stale(
    server: SocketmapServer, source: FakeSource
) -> None:
    client = await Client.connect(server)
    source.down = True
    assert await client.ask(b"tls_policy strict.example") == [b"OK " + SECURE]
    await asyncio.sleep(0.45)
    assert await client.ask(b"tls_policy strict.example", b"bogus x") == [
        b"TEMP policy store unavailable",
        b"PERM unknown map bogus",
    ]
    source.down = False
    await asyncio.sleep(0.1)
    assert await client.ask(b"tls_policy strict.example") == [b"OK " + SECURE]
    client.close()


async def test_store_down_at_start_answers_temp() -> None:
    source = FakeSource([])
    source.down = True
    srv = SocketmapServer(SnapshotCache(source, refresh_interval=0.02))
    await srv.start("127.0.0.1", 0)
    try:
        client = await Client.connect(srv)
        assert await client.ask(b"tls_policy strict.example") == [b"TEMP policy store unavailable"]
        client.close()
    finally:
        await srv.close()
