"""Benchmark of the monitor's bookkeeping: what a sweep costs beyond the probes themselves.

Builds N policies in a temporary SQLite file (or the PostgreSQL database named by
``--url``, in a schema of its own that is dropped afterwards), answers every
probe instantly from memory (a tenth of the domains with a self-signed
certificate, so alerts are raised and delivered), and times:

- the first sync (an item for each of the N new policies);
- the first sweep with every item due, shared by ``--processes`` worker processes
  (as replicas share it: each claims what is due, ``FOR UPDATE SKIP LOCKED``);
- a steady sweep (every item due again, same state: no new alerts);
- an idle sweep (nothing due: what every replica pays each time it wakes), the
  median and the worst of ``--idle-runs``, with the number of statements it sent;
- ``at_risk_first`` (the App Home's list) over all items.

Run from the repository root::

    python3 bench/monitor_sweep.py [--domains 2000] [--processes 3] \\
        [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import secrets
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, event, func, insert, select, text, update

from bot.clock import ManualClock, system_clock
from bot.policy.db import insert_many, make_engine, new_session, upgrade
from bot.policy.models import DomainPolicy
from bot.policy.monitor.delivery import deliver
from bot.policy.monitor.history import at_risk_first
from bot.policy.monitor.models import MonitorAlert, MonitorItem
from bot.policy.monitor.sink import RecordingSink
from bot.policy.monitor.store import sync_items
from bot.policy.monitor.sweep import MonitorConfig, sweep
from bot.probe.model import Code, HostResult, Reason, TargetKind, TargetResult, Verdict


class InstantProber:
    async def probe_domain(self, domain: str) -> TargetResult:
        broken = domain.endswith("0.example")  # a tenth of them
        verdict = Verdict.RELAXED if broken else Verdict.STRICT
        reasons = (Reason(Code.SELF_SIGNED, "self-signed"),) if broken else ()
        mx = f"mx1.{domain}"
        host = HostResult(mx, "192.0.2.1", 25, verdict, reasons, reached=True)
        return TargetResult(domain, TargetKind.DOMAIN, domain, verdict, (host,), mx=(mx,))

    async def probe_route(self, host: str, port: int | None = None) -> TargetResult:
        raise NotImplementedError


def open_engine(url: str, schema: str | None) -> Engine:
    if schema is None:
        return make_engine(url)
    return make_engine(url, connect_args={"options": f"-csearch_path={schema}"})


def worker(url: str, schema: str | None, now: datetime, out: Any) -> None:
    """One replica: one sweep of what is due, at ``now``."""
    engine = open_engine(url, schema)
    sink = RecordingSink()
    started = time.perf_counter()
    report = asyncio.run(
        sweep(
            engine=engine,
            prober=InstantProber(),
            sink=sink,
            clock=ManualClock(now),
            config=MonitorConfig(),
        )
    )
    out.put((report.checked, len(report.raised), report.delivered, time.perf_counter() - started))
    engine.dispose()


def shared_sweep(url: str, schema: str | None, processes: int, now: datetime) -> tuple[float, str]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    workers = [ctx.Process(target=worker, args=(url, schema, now, out)) for _ in range(processes)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    results = [out.get(timeout=3600) for _ in workers]
    for w in workers:
        w.join()
    took = time.perf_counter() - started
    checked = [r[0] for r in results]
    detail = (
        f"checked {sum(checked)} ({' + '.join(map(str, checked))}), "
        f"raised {sum(r[1] for r in results)}, delivered {sum(r[2] for r in results)}"
    )
    return took, detail


def make_all_due(engine: Engine, now: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(update(MonitorItem).values(next_check_at=now - timedelta(minutes=1)))


class StatementCounter:
    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: object) -> None:
        self.count += 1


def run(url: str, schema: str | None, domains: int, processes: int, idle_runs: int) -> None:
    engine = open_engine(url, schema)
    now = system_clock()
    started = time.perf_counter()
    rows = [
        {
            "domain": f"d{i}.example",
            "level": "strict",
            "mx_hosts": [f"mx1.d{i}.example"],
            "secure_delivery": True,
            "secure_receipt": True,
            "mode": "enforce",
            "status": "active",
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(domains)
    ]
    with engine.begin() as connection:
        insert_many(connection, insert(DomainPolicy.__table__), rows)  # type: ignore[attr-defined]
    del rows
    print(
        f"{domains} policies written                        {time.perf_counter() - started:8.2f} s"
    )

    started = time.perf_counter()
    with new_session(engine) as session:
        sync_items(session=session, now=now, period=MonitorConfig().period)
    print(
        f"first sync: {domains} items                      {time.perf_counter() - started:8.2f} s"
    )

    make_all_due(engine, now)
    took, detail = shared_sweep(url, schema, processes, now)
    print(f"first sweep, all due, {processes} processes        {took:8.2f} s   {detail}")
    print(f"  per check                                      {took / domains * 1000:8.2f} ms")

    later = now + timedelta(minutes=1)
    make_all_due(engine, later)
    took, detail = shared_sweep(url, schema, processes, later)
    print(f"steady sweep, all due again, {processes} processes {took:8.2f} s   {detail}")

    clock = ManualClock(later)  # every item's next slot is after this: nothing is due
    started = time.perf_counter()
    sink = RecordingSink()
    drained = 0
    while sent := asyncio.run(deliver(engine=engine, sink=sink, clock=clock)):
        drained += sent
    took = time.perf_counter() - started
    print(f"alerts left to deliver, delivered                {took:8.2f} s   {drained}")

    counter = StatementCounter(engine)
    prober, config = InstantProber(), MonitorConfig()
    times, statements = [], []
    for _ in range(idle_runs):
        before = counter.count
        started = time.perf_counter()
        report = asyncio.run(
            sweep(engine=engine, prober=prober, sink=sink, clock=clock, config=config)
        )
        times.append((time.perf_counter() - started) * 1000)
        statements.append(counter.count - before)
        assert report.checked == 0, report
        assert report.delivered == 0, report
    print(
        f"idle sweep (nothing due), {idle_runs} runs: median {statistics.median(times):.1f} ms, "
        f"max {max(times):.1f} ms, {statistics.median(statements):.0f} statements each"
    )

    with new_session(engine) as session:
        alerts = session.execute(select(func.count()).select_from(MonitorAlert)).scalar_one()
        started = time.perf_counter()
        rows_shown = at_risk_first(session=session, limit=20)
        took = (time.perf_counter() - started) * 1000
    print(
        f"at_risk_first, 20 of {domains} items ({alerts} alerts)   {took:8.1f} ms"
        f"   first: {rows_shown[0].name if rows_shown else '-'}"
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=3, help="replicas sharing a sweep")
    parser.add_argument("--idle-runs", type=int, default=20)
    parser.add_argument(
        "--url", default=None, help="a PostgreSQL URL (default: a temporary SQLite file)"
    )
    args = parser.parse_args()
    if args.url is None:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
            print("SQLite")
            run(url, None, args.domains, args.processes, args.idle_runs)
        return
    schema = f"tlsbot_bench_{secrets.token_hex(4)}"
    admin = make_engine(args.url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        engine = open_engine(args.url, schema)
        upgrade(engine)
        engine.dispose()
        print("PostgreSQL")
        run(args.url, schema, args.domains, args.processes, args.idle_runs)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
