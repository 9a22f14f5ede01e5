"""Socketmap at scale: how long one approved change takes to be served, and what lookups
cost while it is applied.

    python3 bench/socketmap_change.py [--policies 100000] [--changes 10] \\
        [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Builds N enforced policies in a schema of its own in the PostgreSQL database named
by ``--url`` (dropped afterwards; default: a temporary SQLite file), starts
``tlsbot socketmap``'s server in its own process (its settings: 250 ms refresh, the
same GIL switch interval) on a free loopback port, and keeps a steady load of
lookups on it from a second process (``--connections`` persistent connections, one
request at a time as Postfix does, ``--rate`` lookups/s in all, 80 % known domains).
Then, ``--changes`` times, an approver approves a change request that removes one
policy (the real services: ``propose_remove_domains`` and ``approve``), and a
watcher connection asks for that domain every millisecond until the server answers
``NOTFOUND``. Reported: the server's first load, the time from each approval's
commit to the new answer (median and worst), and the lookup latency percentiles
of the load, over the whole run and within the windows from each commit to
100 ms after its new answer was served. Reaches only 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import resource
import secrets
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text

from bot.clock import system_clock
from bot.export.netstring import Decoder, encode
from bot.policy.approvals import approve
from bot.policy.db import insert_many, make_engine, new_session, upgrade
from bot.policy.models import DomainPolicy
from bot.policy.requests import Rules, propose_remove_domains
from bot.policy.types import Actor

REQUESTER = Actor("U0BENCHREQ", "Bench Requester")
APPROVER = Actor("U0BENCHAPP", "Bench Approver")


def connect_args(schema: str | None) -> dict[str, str]:
    return {} if schema is None else {"options": f"-csearch_path={schema}"}


def build_store(url: str, schema: str | None, count: int) -> None:
    engine = make_engine(url, connect_args=connect_args(schema))
    upgrade(engine)
    now = system_clock()
    rows = [
        {
            "created_at": now,
            "updated_at": now,
            "domain": f"partner{i}.example",
            "level": "strict" if i % 4 else "relaxed",
            "mx_hosts": [f"mx1.partner{i}.example", f"mx2.partner{i}.example"],
            "secure_delivery": True,
            "secure_receipt": True,
            "mode": "enforce",
            "status": "active",
            "version": 1,
        }
        for i in range(count)
    ]
    with engine.begin() as connection:
        insert_many(connection, insert(DomainPolicy.__table__), rows)  # type: ignore[attr-defined]
    engine.dispose()


def serve(url: str, schema: str | None, port: int, ready: Any, stop: Any, out: Any) -> None:
    from bot.commands.socketmap import SWITCH_INTERVAL
    from bot.export.snapshot import SnapshotCache
    from bot.export.socketmap import SocketmapServer
    from bot.export.store import DatabaseSource

    async def main() -> None:
        sys.setswitchinterval(SWITCH_INTERVAL)  # as `tlsbot socketmap` does
        engine = make_engine(url, connect_args=connect_args(schema))
        source = DatabaseSource(engine)
        server = SocketmapServer(SnapshotCache(source, refresh_interval=0.25))
        started = time.perf_counter()
        await server.start("127.0.0.1", port)
        loaded = time.perf_counter() - started
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await server.close()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out.put((loaded, rss, server.lookups, source.full_loads, source.changes_applied))

    asyncio.run(main())


class Conn(asyncio.Protocol):
    """One Postfix-like client connection: a request, its reply, the next request."""

    def __init__(self, keys: list[bytes], samples: list[tuple[float, int]], interval: float):
        self.keys, self.samples, self.interval = keys, samples, interval
        self.loop = asyncio.get_running_loop()
        self.decoder = Decoder(100_000)
        self.next_at = self.loop.time() + random.random() * interval
        self.transport: asyncio.Transport | None = None
        self.stopped = False
        self.t0 = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._schedule()

    def _schedule(self) -> None:
        self.next_at += self.interval
        self.loop.call_later(max(0.0, self.next_at - self.loop.time()), self._send)

    def _send(self) -> None:
        if self.stopped or self.transport is None:
            return
        self.sent_at = time.monotonic()
        self.t0 = time.perf_counter_ns()
        self.transport.write(random.choice(self.keys))

    def data_received(self, data: bytes) -> None:
        for _ in self.decoder.feed(data):
            self.samples.append((self.sent_at, time.perf_counter_ns() - self.t0))
            self._schedule()


def load(port: int, count: int, connections: int, rate: float, stop: Any, out: Any) -> None:
    known = [f"partner{i}.example" for i in range(0, count, 7)]
    keys = []
    for i in range(5000):
        name = random.choice(known) if i % 5 else f"stranger{i}.example"
        table = "tls_policy" if i % 2 else "tls_inbound"
        keys.append(encode(f"{table} {name}".encode()))

    async def run() -> list[tuple[float, int]]:
        loop = asyncio.get_running_loop()
        samples: list[tuple[float, int]] = []
        conns = []
        for _ in range(connections):
            _, proto = await loop.create_connection(
                lambda: Conn(keys, samples, connections / rate), "127.0.0.1", port
            )
            conns.append(proto)
        while not stop.is_set():
            await asyncio.sleep(0.05)
        for c in conns:
            c.stopped = True
            if c.transport is not None:
                c.transport.close()
        return samples

    out.put(asyncio.run(run()))


async def wait_for_notfound(port: int, domain: str, timeout: float = 10.0) -> float:
    """Ask for ``domain`` every millisecond until NOTFOUND; the monotonic time it came."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    decoder = Decoder(100_000)
    request = encode(f"tls_policy {domain}".encode())
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            writer.write(request)
            replies: list[bytes] = []
            while not replies:
                replies = decoder.feed(await reader.read(4096))
            if replies[0].startswith(b"NOTFOUND"):
                return time.monotonic()
            await asyncio.sleep(0.001)
        raise TimeoutError(f"{domain} still served after {timeout} s")
    finally:
        writer.close()


def approve_removal(engine: Any, domain: str) -> float:
    """Remove ``domain``'s policy through the services; the monotonic time of the commit."""
    rules = Rules(required_approvals=1, request_ttl_hours=72)
    with new_session(engine) as session:
        request = propose_remove_domains(
            session=session, requester=REQUESTER, domains=[domain], rules=rules, now=system_clock()
        )
        assert request.id is not None
        approve(
            session=session,
            request_id=request.id,
            approver=APPROVER,
            is_approver=lambda user: user == APPROVER.id,
            now=system_clock(),
        )
    return time.monotonic()


def percentiles(latencies_ns: list[int]) -> str:
    if not latencies_ns:
        return "no lookups"
    ms = sorted(x / 1e6 for x in latencies_ns)

    def pct(p: float) -> float:
        return ms[min(len(ms) - 1, int(p / 100 * len(ms)))]

    return (
        f"{len(ms)} lookups: p50 {pct(50):.3f}  p99 {pct(99):.3f}  p99.9 {pct(99.9):.3f}  "
        f"max {ms[-1]:.3f} ms"
    )


def run(args: argparse.Namespace, url: str, schema: str | None) -> int:
    started = time.perf_counter()
    build_store(url, schema, args.policies)
    print(f"store: {args.policies} policies, built in {time.perf_counter() - started:.1f} s")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    ready, stop, server_out = ctx.Event(), ctx.Event(), ctx.Queue()
    server = ctx.Process(target=serve, args=(url, schema, port, ready, stop, server_out))
    server.start()
    if not ready.wait(300):
        print("server did not start", file=sys.stderr)
        return 1
    load_stop, load_out = ctx.Event(), ctx.Queue()
    loader = ctx.Process(
        target=load, args=(port, args.policies, args.connections, args.rate, load_stop, load_out)
    )
    loader.start()
    time.sleep(2.0)  # the load settles
    engine = make_engine(url, connect_args=connect_args(schema))
    windows, delays = [], []
    for k in range(args.changes):
        domain = f"partner{7 * k + 3}.example"
        committed = approve_removal(engine, domain)
        served = asyncio.run(wait_for_notfound(port, domain))
        delays.append(served - committed)
        windows.append((committed, served + 0.1))
        time.sleep(0.5)
    engine.dispose()
    time.sleep(1.0)
    load_stop.set()
    samples = load_out.get(timeout=60)
    loader.join(10)
    stop.set()
    loaded, rss, lookups, full_loads, applied = server_out.get(timeout=60)
    server.join(10)

    print(f"server: first load of {args.policies} policies {loaded:.2f} s; peak RSS {rss:.0f} MB")
    print(
        f"approved change → new answer served, {args.changes} changes: "
        f"median {statistics.median(delays) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms"
    )
    print(f"server: {full_loads} full load(s), {applied} changed policies applied one by one")
    during = [lat for at, lat in samples if any(a <= at <= b for a, b in windows)]
    print(
        f"load at {args.rate:,.0f}/s over {args.connections} connections, whole run: "
        f"{percentiles([lat for _, lat in samples])}"
    )
    print(f"  while changes were applied (commit → served + 100 ms): {percentiles(during)}")
    print(f"  the server answered {lookups} lookups in all")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rate", type=float, default=5000.0, help="lookups/s offered in all")
    parser.add_argument("--url", default=None, help="a PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    if args.url is None:
        with tempfile.TemporaryDirectory() as tmp:
            return run(args, f"sqlite:///{tmp}/bench.db", None)
    schema = f"tlsbot_bench_{secrets.token_hex(4)}"
    admin = make_engine(args.url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        return run(args, args.url, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
