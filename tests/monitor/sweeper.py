"""A monitor replica for the lease tests: ``python -m tests.monitor.sweeper``.

It runs the real sweep (:func:`bot.policy.monitor.sweep.sweep`) on the real clock
against ``DATABASE_URL``, with a short lease (``--lease`` seconds, the monitor's own
``MonitorConfig.lease``) and a stand-in prober that answers after ``--delay``
seconds and prints ``probe <domain>`` for each probe it answers. It sweeps again
and again until no item is due any more, then prints ``done <checked>``.

``--hang``: the prober prints ``claimed <domain>`` and never answers, so the process
sits on its leases until it is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import timedelta

from sqlalchemy import func, select

from bot.clock import system_clock
from bot.policy.db import make_engine, new_session
from bot.policy.monitor.alerts import Thresholds
from bot.policy.monitor.models import MonitorItem
from bot.policy.monitor.sink import RecordingSink
from bot.policy.monitor.sweep import MonitorConfig, sweep
from bot.probe.model import HostResult, TargetKind, TargetResult, Verdict


class StandIn:
    def __init__(self, delay: float, hang: bool) -> None:
        self.delay, self.hang = delay, hang

    async def probe_domain(self, domain: str) -> TargetResult:
        if self.hang:
            print(f"claimed {domain}", flush=True)
            await asyncio.Event().wait()
        await asyncio.sleep(self.delay)
        print(f"probe {domain}", flush=True)
        mx = f"mx1.{domain}"
        host = HostResult(mx, "192.0.2.1", 25, Verdict.STRICT, (), reached=True)
        return TargetResult(domain, TargetKind.DOMAIN, domain, Verdict.STRICT, (host,), mx=(mx,))

    async def probe_route(self, host: str, port: int | None = None) -> TargetResult:
        raise NotImplementedError


async def main(args: argparse.Namespace) -> int:
    engine = make_engine(os.environ["DATABASE_URL"])
    config = MonitorConfig(
        period=timedelta(hours=24),
        thresholds=Thresholds(),
        lease=timedelta(seconds=args.lease),
        batch=args.batch,
    )
    prober = StandIn(args.delay, args.hang)
    checked = 0
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        report = await sweep(
            engine=engine, prober=prober, sink=RecordingSink(), clock=system_clock, config=config
        )
        checked += report.checked
        with new_session(engine) as session:
            due = session.execute(
                select(func.count())
                .select_from(MonitorItem)
                .where(MonitorItem.next_check_at <= system_clock())  # type: ignore[arg-type]
            ).scalar_one()
        if not due:
            print(f"done {checked}", flush=True)
            return 0
        await asyncio.sleep(0.1)
    print(f"timed out after {checked}", flush=True)
    return 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--lease", type=float, default=3.0)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--hang", action="store_true")
    sys.exit(asyncio.run(main(parser.parse_args())))
