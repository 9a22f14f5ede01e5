"""Socketmap throughput and latency, the way Postfix uses it.

    python3 bench/socketmap.py [--policies 10000] [--connections 50] [--seconds 5]

Builds a SQLite policy store with N policies (migrated schema, rows inserted in
bulk), starts ``tlsbot socketmap``'s server in its own process (as in
production) on a free loopback port, then opens C persistent connections from a
second process. Each connection behaves like a Postfix socketmap client: one
request, wait for the reply, next request (no pipelining). Keys are a mix of
known domains (80 %) and unknown ones, over both maps. Prints lookups per
second and latency percentiles measured by the client, request sent to reply
decoded, first flat out, then at an offered 10,000 lookups/s (``--rates``).
``--churn 1`` simulates an approval every second, so every second the server
reloads all policies while answering. Reaches only 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from bot.export.netstring import Decoder, encode
from bot.policy.db import make_engine, upgrade
from bot.policy.models import DomainPolicy


def build_store(path: Path, count: int) -> str:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    approved = datetime.now(UTC) - timedelta(days=1)  # policies approved in the past
    rows = [
        {
            "created_at": approved,
            "updated_at": approved,
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
        connection.execute(insert(DomainPolicy.__table__), rows)  # type: ignore[attr-defined]
    engine.dispose()
    return url


def serve(url: str, port: int, ready: mp.synchronize.Event, stop: mp.synchronize.Event) -> None:
    from bot.commands.socketmap import SWITCH_INTERVAL
    from bot.export.snapshot import SnapshotCache
    from bot.export.socketmap import SocketmapServer
    from bot.export.store import DatabaseSource

    async def main() -> None:
        sys.setswitchinterval(SWITCH_INTERVAL)  # as `tlsbot socketmap` does
        engine = make_engine(url)
        server = SocketmapServer(SnapshotCache(DatabaseSource(engine), refresh_interval=0.25))
        await server.start("127.0.0.1", port)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await server.close()
        print(f"server: {server.lookups} lookups answered", file=sys.stderr)

    asyncio.run(main())


class Conn(asyncio.Protocol):
    def __init__(
        self, keys: list[bytes], latencies: list[int], until: float, interval: float
    ) -> None:
        self.keys, self.latencies, self.until = keys, latencies, until
        self.interval = interval  # seconds between requests on this connection; 0: flat out
        self.loop = asyncio.get_running_loop()
        self.next_at = self.loop.time() + random.random() * interval
        self.decoder = Decoder(100_000)
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent = 0
        self.transport: asyncio.Transport | None = None
        self.errors = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._next()

    def _next(self) -> None:
        if self.interval:
            self.next_at += self.interval
            delay = self.next_at - self.loop.time()
            if delay > 0:
                self.loop.call_later(delay, self._send)
                return
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        if time.monotonic() >= self.until:
            self.transport.close()
            if not self.done.done():
                self.done.set_result(None)
            return
        self.t0 = time.perf_counter_ns()
        self.transport.write(random.choice(self.keys))

    def data_received(self, data: bytes) -> None:
        for reply in self.decoder.feed(data):
            self.latencies.append(time.perf_counter_ns() - self.t0)
            if not reply.startswith((b"OK ", b"NOTFOUND")):
                self.errors += 1
            self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


def client(
    port: int,
    count: int,
    connections: int,
    seconds: float,
    rate: float,
    out: mp.Queue,  # type: ignore[type-arg]
) -> None:
    known = [f"partner{i}.example" for i in range(0, count, 7)]
    keys = []
    for i in range(5000):
        name = random.choice(known) if i % 5 else f"stranger{i}.example"
        table = "tls_policy" if i % 2 else "tls_inbound"
        key = f"sender@{name}" if table == "tls_inbound" and i % 4 == 1 else name
        keys.append(encode(f"{table} {key}".encode()))

    async def run(duration: float) -> tuple[list[int], int]:
        loop = asyncio.get_running_loop()
        latencies: list[int] = []
        until = time.monotonic() + duration
        conns = []
        for _ in range(connections):
            _, proto = await loop.create_connection(
                lambda: Conn(keys, latencies, until, connections / rate if rate else 0.0),
                "127.0.0.1",
                port,
            )
            conns.append(proto)
        await asyncio.gather(*(c.done for c in conns))
        return latencies, sum(c.errors for c in conns)

    asyncio.run(run(1.0))  # warm-up
    started = time.perf_counter()
    latencies, errors = asyncio.run(run(seconds))
    out.put((latencies, errors, time.perf_counter() - started))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--rates",
        default="0,10000",
        help="offered loads in lookups/s, comma separated; 0 = as fast as possible",
    )
    parser.add_argument(
        "--churn",
        type=float,
        default=0.0,
        help="seconds between simulated approvals (each makes the server reload); 0 = none",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        url = build_store(Path(tmp) / "bench.db", args.policies)
        print(f"store: {args.policies} policies in SQLite, built in {time.perf_counter() - t:.1f}s")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        ctx = mp.get_context("spawn")
        ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
        server = ctx.Process(target=serve, args=(url, port, ready, stop))
        server.start()
        if not ready.wait(60):
            print("server did not start", file=sys.stderr)
            return 1
        churner = None
        if args.churn:
            churner = ctx.Process(target=churn, args=(url, args.churn, stop))
            churner.start()
        for rate in (float(r) for r in args.rates.split(",")):
            worker = ctx.Process(
                target=client,
                args=(port, args.policies, args.connections, args.seconds, rate, out),
            )
            worker.start()
            latencies, errors, elapsed = out.get(timeout=args.seconds + 60)
            worker.join()
            report(rate, latencies, errors, elapsed, args.connections)
        stop.set()
        server.join(10)
        if churner is not None:
            churner.join(10)
    return 0


def churn(url: str, every: float, stop: mp.synchronize.Event) -> None:
    """Bump the audit head and one policy every ``every`` s, as an approval would."""
    from sqlalchemy import text

    engine = make_engine(url)
    n = 0
    while not stop.wait(every):
        n += 1
        with engine.begin() as connection:
            connection.execute(text("UPDATE audit_head SET seq = seq + 1"))
            connection.execute(
                text("UPDATE domain_policy SET level = :level, updated_at = :now WHERE id = 1"),
                {"level": "relaxed" if n % 2 else "strict", "now": datetime.now(UTC)},
            )
    engine.dispose()


def report(rate: float, latencies: list[int], errors: int, elapsed: float, conns: int) -> None:
    lat_ms = sorted(x / 1e6 for x in latencies)

    def pct(p: float) -> float:
        return lat_ms[min(len(lat_ms) - 1, int(p / 100 * len(lat_ms)))]

    offered = f"offered {rate:,.0f}/s" if rate else "flat out"
    print(
        f"[{offered}] {len(lat_ms)} lookups over {conns} persistent connections in "
        f"{elapsed:.2f}s on {os.cpu_count()} CPUs: {len(lat_ms) / elapsed:,.0f} lookups/s"
    )
    print(
        f"    latency ms: p50 {pct(50):.3f}  p90 {pct(90):.3f}  p99 {pct(99):.3f}  "
        f"max {lat_ms[-1]:.3f}  mean {statistics.fmean(lat_ms):.3f}; errors {errors}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
