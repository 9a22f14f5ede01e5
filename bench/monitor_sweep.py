"""Benchmark of the monitor's bookkeeping: what a sweep costs beyond the probes themselves.

Builds N policies in a temporary SQLite file (or the PostgreSQL database named by
``--url``, in a schema of its own that is dropped afterwards), answers every
probe instantly from memory (a tenth of the domains with a self-signed
certificate, so alerts are raised and delivered), and times:

- the first ``--once --all`` sweep (claims, N validations, alerts, delivery);
- a second one (same state: no new alerts);
- an idle ``--once`` sweep (nothing due: what cron pays every few minutes);
- ``at_risk_first`` over all items.

Run from the repository root::

    python3 bench/monitor_sweep.py [--domains 2000] [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from databases import on_database
from sqlalchemy import Engine, insert

from bot.clock import ManualClock, system_clock
from bot.policy.db import new_session
from bot.policy.models import DomainPolicy
from bot.policy.monitor.history import at_risk_first
from bot.policy.monitor.sink import RecordingSink
from bot.policy.monitor.sweep import MonitorConfig, sweep
from bot.probe.model import Code, HostResult, Reason, TargetKind, TargetResult, Verdict


class InstantProber:
    def __init__(self, broken: set[str]) -> None:
        self.broken = broken

    async def probe_domain(self, domain: str) -> TargetResult:
        verdict = Verdict.RELAXED if domain in self.broken else Verdict.STRICT
        reasons = (Reason(Code.SELF_SIGNED, "self-signed"),) if domain in self.broken else ()
        mx = f"mx1.{domain}"
        host = HostResult(mx, "192.0.2.1", 25, verdict, reasons, reached=True)
        return TargetResult(domain, TargetKind.DOMAIN, domain, verdict, (host,), mx=(mx,))

    async def probe_route(self, host: str, port: int | None = None) -> TargetResult:
        raise NotImplementedError


async def run(engine: Engine, domains: int) -> None:
    names = [f"d{i}.example" for i in range(domains)]
    clock = ManualClock(system_clock())  # the bench's one clock, moved by hand
    with engine.begin() as connection:
        connection.execute(
            insert(DomainPolicy),
            [
                {
                    "domain": n,
                    "level": "strict",
                    "mx_hosts": [f"mx1.{n}"],
                    "created_at": clock(),
                    "updated_at": clock(),
                }
                for n in names
            ],
        )
    prober = InstantProber(set(names[::10]))
    sink, config = RecordingSink(), MonitorConfig()

    async def once(everything: bool) -> float:
        start = time.perf_counter()
        await sweep(
            engine=engine,
            prober=prober,
            sink=sink,
            clock=clock,
            config=config,
            everything=everything,
        )
        return time.perf_counter() - start

    first = await once(True)
    print(f"first --all sweep, {domains} domains, {len(sink.sent)} alerts   {first:8.2f} s")
    print(f"  per check                                      {first / domains * 1000:8.2f} ms")
    clock.advance(minutes=1)
    second = await once(True)
    print(f"second --all sweep (no new alerts)               {second:8.2f} s")
    clock.advance(minutes=1)
    idle = await once(False)
    print(f"idle --once sweep (nothing due)                  {idle * 1000:8.1f} ms")
    start = time.perf_counter()
    with new_session(engine) as session:
        at_risk_first(session=session, limit=50)
    took = (time.perf_counter() - start) * 1000
    print(f"at_risk_first over {domains} items                  {took:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--domains", type=int, default=2000)
    parser.add_argument(
        "--url", default=None, help="a PostgreSQL URL (default: a temporary SQLite file)"
    )
    args = parser.parse_args()
    on_database(args.url, lambda engine: asyncio.run(run(engine, args.domains)))


if __name__ == "__main__":
    main()
