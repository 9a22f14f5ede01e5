"""``/tls status`` and ``tlsbot serve`` with 100,000 policies: query times, resident memory.

    python3 bench/status_serve.py [--policies 100000] \\
        [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Builds, in a schema of its own in the PostgreSQL database named by ``--url`` (dropped
afterwards; default: a temporary SQLite file): N enforced policies, their monitor
items, one validation each (a tenth of them failed: self-signed), and the alerts of a
real monitor sweep over 2,000 of them. Then:

1. times, in this process, the store reads behind ``/tls status`` as the current
   listeners run them (median and worst of ``--runs``): the first page (no argument:
   ``status_page``), a filtered page (``/tls status at-risk``: those whose last check
   found a self-signed certificate), one domain (``/tls status DOMAIN``:
   ``domain_status_page``), the App Home (``home_data``), and the domains view's first
   and a deep page (``domains_page``);
2. starts the real ``python -m bot serve`` (HTTP mode, its monitor and schedule
   running; Slack is a stand-in on loopback) and sends it signed requests: ``/tls
   status``, ``/tls status at-risk``, ``/tls status DOMAIN`` and App Home openings;
   reports how long each took to be answered (the private reply or the published
   Home) and the process's resident memory (VmRSS after start-up and at the end, and
   VmHWM, the peak).

Reaches only 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, func, insert, select, text, update

from bot.clock import ManualClock, system_clock
from bot.policy.db import insert_many, make_engine, new_session, upgrade
from bot.policy.models import DomainPolicy, Draft, Validation
from bot.policy.monitor.history import Listing
from bot.policy.monitor.models import MonitorAlert, MonitorItem
from bot.policy.monitor.sink import RecordingSink
from bot.policy.monitor.store import sync_items
from bot.policy.monitor.sweep import MonitorConfig, sweep
from bot.probe.model import Code, HostResult, Reason, TargetKind, TargetResult, Verdict
from bot.slack.pages import domain_status_page, domains_page, home_data, status_page
from tests.support.slack_api import SlackApi
from tests.support.slack_client import SlackClient

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-signing-secret"
APPROVER = "U0BENCHAPP"
CHANNEL = "C0BENCH01"


def probe_result(domain: str) -> TargetResult:
    broken = domain.endswith("0.example")
    verdict = Verdict.RELAXED if broken else Verdict.STRICT
    reasons = (Reason(Code.SELF_SIGNED, "the certificate is self-signed"),) if broken else ()
    mx = f"mx1.{domain}"
    host = HostResult(
        mx,
        "192.0.2.1",
        25,
        verdict,
        reasons,
        reached=True,
        starttls_offered=True,
        tls_version="TLSv1.3",
        cipher="TLS_AES_256_GCM_SHA384",
    )
    return TargetResult(domain, TargetKind.DOMAIN, domain, verdict, (host,), mx=(mx,))


class InstantProber:
    async def probe_domain(self, domain: str) -> TargetResult:
        return probe_result(domain)

    async def probe_route(self, host: str, port: int | None = None) -> TargetResult:
        raise NotImplementedError


def build(engine: Engine, count: int) -> None:
    now = system_clock()
    started = time.perf_counter()
    names = [f"d{i}.example" for i in range(count)]
    with engine.begin() as connection:
        insert_many(
            connection,
            insert(DomainPolicy.__table__),  # type: ignore[attr-defined]
            [
                {
                    "domain": n,
                    "level": "strict",
                    "mx_hosts": [f"mx1.{n}"],
                    "secure_delivery": True,
                    "secure_receipt": True,
                    "mode": "enforce",
                    "status": "active",
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in names
            ],
        )
        insert_many(
            connection,
            insert(Validation.__table__),  # type: ignore[attr-defined]
            [
                {
                    "target": n,
                    "kind": "domain",
                    "domain": n,
                    "verdict": probe_result(n).verdict.value,
                    "mx_hosts": [f"mx1.{n}"],
                    "result": probe_result(n).to_dict(),
                    "actor_id": "system",
                    "actor_name": "tlsbot monitor",
                    "created_at": now - timedelta(hours=1),
                }
                for n in names
            ],
        )
    with new_session(engine) as session:
        sync_items(session=session, now=now, period=timedelta(hours=24))
    with engine.begin() as connection:  # 2,000 fall due: a real sweep raises their alerts
        first = connection.execute(select(func.min(MonitorItem.id))).scalar_one()
        connection.execute(
            update(MonitorItem)
            .where(MonitorItem.id < first + 2000)  # type: ignore[arg-type,operator]
            .values(next_check_at=now - timedelta(minutes=1))
        )
    asyncio.run(
        sweep(
            engine=engine,
            prober=InstantProber(),
            sink=RecordingSink(),
            clock=ManualClock(now),
            config=MonitorConfig(),
        )
    )
    with engine.begin() as connection:  # nothing due while serve runs: its monitor idles
        connection.execute(update(MonitorItem).values(next_check_at=now + timedelta(days=1)))
        alerts = connection.execute(select(func.count()).select_from(MonitorAlert)).scalar_one()
    took = time.perf_counter() - started
    print(f"store: {count} policies, items, validations, {alerts} alerts; built in {took:.1f} s")


def timed(label: str, runs: int, fn: Callable[[], object]) -> None:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    print(f"  {label:<52} median {statistics.median(times):7.1f} ms   max {max(times):7.1f} ms")


def status_queries(engine: Engine, count: int, runs: int) -> None:
    domain = f"d{count // 2 + 10}.example"  # a broken one, with an open alert
    now = system_clock()
    draft = Draft(owner_id="UADMIN01", owner_name="admin", created_at=now, updated_at=now)

    def status(listing: Listing) -> Callable[[], None]:
        def run() -> None:
            with new_session(engine) as session:
                page = status_page(session, listing, offset=0, gateways=(), now=now)
                assert page.lines, page

        return run

    def one_domain() -> None:
        with new_session(engine) as session:
            page = domain_status_page(session, domain, now=now, relaxed_days=90)
            assert page.row is not None, page
            assert page.history is not None, page

    def home() -> None:
        with new_session(engine) as session:
            home_data(session, now=now)

    def listing(page: int) -> Callable[[], None]:
        def run() -> None:
            with new_session(engine) as session:
                domains_page(session, draft, page=page)

        return run

    print(f"store reads behind /tls status, {runs} runs each:")
    timed("/tls status (first page: status_page)", runs, status(Listing()))
    timed("/tls status at-risk (a filtered page)", runs, status(Listing.parse("at-risk")))
    timed(f"/tls status {domain} (domain_status_page)", runs, one_domain)
    timed("App Home (home_data)", runs, home)
    timed("domains view, first page (domains_page 0)", runs, listing(0))
    timed("domains view, page 5,000 (domains_page)", runs, listing(5000))


def memory(pid: int) -> dict[str, int]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) // 1024
    return found


async def serve_and_ask(url: str, count: int, requests: int) -> None:
    api = SlackApi()
    api_url = await api.start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TLSBOT_", "SLACK_"))}
    env.update(
        DATABASE_URL=url,
        SLACK_BOT_TOKEN="xoxb-bench",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=api_url,
        TLSBOT_APPROVERS=APPROVER,
        TLSBOT_APPROVAL_CHANNEL=CHANNEL,
        TLSBOT_DNS_SERVERS="127.0.0.1:9",
        PORT=str(port),
    )
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if child.poll() is not None:
                    raise RuntimeError(child.stderr.read() if child.stderr else "died") from None
                await asyncio.sleep(0.1)
        print(f"serve: listening after {time.perf_counter() - started:.1f} s")
        await asyncio.sleep(5)  # its schedule's first round (sweep, expiry, notices) runs
        print(f"  after start-up: {memory(child.pid)}")
        slack = SlackClient(f"http://127.0.0.1:{port}/slack/events", SECRET, api)
        domain = f"d{count // 2 + 10}.example"
        for label, ask, method in (
            ("/tls status", lambda: slack.command("status"), "response_url"),
            ("/tls status at-risk", lambda: slack.command("status at-risk"), "response_url"),
            (f"/tls status {domain}", lambda: slack.command(f"status {domain}"), "response_url"),
            ("App Home opened", lambda: slack.home_opened(), "views.publish"),
        ):
            times = []
            for _ in range(requests):
                before = len(api.calls)
                sent = time.monotonic()
                answer = await ask()
                assert answer.status == 200, answer
                while not any(c.method.startswith(method) for c in api.calls[before:]):
                    await asyncio.sleep(0.005)
                times.append((time.monotonic() - sent) * 1000)
            print(
                f"  {label:<40} answered in median {statistics.median(times):6.0f} ms, "
                f"max {max(times):6.0f} ms"
            )
        print(f"  at the end: {memory(child.pid)} (VmHWM: the peak resident memory)")
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
        await api.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--url", default=None, help="a PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    if args.url is None:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            engine = make_engine(url)
            upgrade(engine)
            build(engine, args.policies)
            status_queries(engine, args.policies, args.runs)
            engine.dispose()
            asyncio.run(serve_and_ask(url, args.policies, args.requests))
        return 0
    schema = f"tlsbot_bench_{secrets.token_hex(4)}"
    admin = make_engine(args.url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        engine = make_engine(args.url, connect_args={"options": f"-csearch_path={schema}"})
        upgrade(engine)
        build(engine, args.policies)
        status_queries(engine, args.policies, args.runs)
        engine.dispose()
        sep = "&" if "?" in args.url else "?"
        url = f"{args.url}{sep}options={quote(f'-csearch_path={schema}')}"
        asyncio.run(serve_and_ask(url, args.policies, args.requests))
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
