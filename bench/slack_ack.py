"""Benchmark: how fast the bot acknowledges Slack while a 50-domain validation runs.

    python3 bench/slack_ack.py [--requests 200] [--concurrency 20] [--delay 1.0]

Three processes, as in production: this one runs the bot (HTTP mode on loopback,
the real prober, SQLite in a temporary directory or DATABASE_URL, migrated
first); a "mail" child serves the loopback DNS and 10 SMTP servers that delay
every reply by ``--delay`` seconds; a "slack" child plays Slack: the Web API
stand-in, and the user. The user adds 50 external domains, which starts their
validation; while it runs, ``--requests`` signed requests (slash commands help,
status and check; button clicks More and page turns on the domains view) are
sent, ``--concurrency`` at a time. Prints p50, p99 and the slowest time to
acknowledge (the HTTP answer received), how many answers came while the
validation was still running, and how long the validation took.

Target: p99 under 300 ms. Exit 1 if missed. Reaches only loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiohttp import web

from bot.clock import system_clock
from bot.config import Secret, Settings
from bot.policy.db import make_engine, upgrade
from bot.probe.certs import TrustStore
from bot.probe.prober import Prober
from bot.probe.settings import ProbeSettings
from bot.slack.app import build_app
from bot.slack.ids import Action, Block, Field
from bot.slack.server import bound_port, start_http
from bot.slack.services import Services
from bot.slack.store import Store
from tests.support.certs import CertCase, Pki
from tests.support.dns_server import DnsServer
from tests.support.slack_api import SlackApi
from tests.support.slack_client import SlackClient
from tests.support.smtp_server import SmtpFleet, SmtpServer, free_port

SECRET = "bench-signing-secret"
USER = "UBENCH001"
DOMAINS = 50
SERVERS = 10


# ---- the bot (this process)


async def run_bot(args: argparse.Namespace) -> int:
    mail = Child("mail", args)
    slack = Child("slack", args)
    workdir = Path(tempfile.mkdtemp(prefix="tlsbot-bench-"))
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{workdir}/bench.db"
    engine = make_engine(url)
    upgrade(engine)
    probe = ProbeSettings(
        dns_servers=((mail.first["dns"][0], mail.first["dns"][1]),),
        smtp_port=mail.first["port"],
        timeout=20.0,
        allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        ehlo_name="bench.test",
    )
    settings = Settings(
        database_url=url,
        slack_bot_token=Secret("xoxb-bench"),
        slack_signing_secret=Secret(SECRET),
        slack_api_url=slack.first["api"],
        approvers=("UAPPROVE1",),
        approval_channel="CAPPROVE1",
        probe=probe,
    )
    prober = Prober(
        probe, clock=system_clock, trust=TrustStore.load(Path(mail.first["ca_file"]), system=False)
    )
    services = Services.for_settings(
        settings, store=Store(engine), prober=prober, clock=system_clock
    )
    served: list[float] = []
    http = aiohttp.ClientSession()
    app = build_app(settings, services=services, http=http)
    runner = await start_http(app, "127.0.0.1", 0, services)
    handler = runner.app.router.routes()
    for route in list(handler):
        if route.method == "POST":
            inner = route.handler

            async def timed(request: web.Request, inner: Any = inner) -> web.StreamResponse:
                started = time.monotonic()
                try:
                    return await inner(request)  # type: ignore[no-any-return]
                finally:
                    served.append((time.monotonic() - started) * 1000)

            route._handler = timed  # type: ignore[attr-defined]
    try:
        events = f"http://127.0.0.1:{bound_port(runner)}/slack/events"
        report = await asyncio.to_thread(slack.ask, events)
        report["served"] = served[-args.requests :]
    finally:
        await services.background.drain(120)
        await runner.cleanup()
        await http.close()
        slack.close()
        mail.close()
        engine.dispose()
    return print_report(args, report)


def print_report(args: argparse.Namespace, report: dict[str, Any]) -> int:
    ms = sorted(report["times"])
    p50 = statistics.median(ms)
    p99 = ms[max(0, round(0.99 * len(ms)) - 1)]
    print(f"requests: {len(ms)} ({args.concurrency} at a time), failures: {report['failures']}")
    print(f"answered while the 50-domain validation ran: {report['during']} of {len(ms)}")
    print(f"ack time: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms (target p99 < 300)")
    inside = sorted(report["served"])
    print(
        f"inside the bot (request read to answer written): p50 {statistics.median(inside):.1f} ms, "
        f"p99 {inside[max(0, round(0.99 * len(inside)) - 1)]:.1f} ms"
    )
    print(f"burst took {report['burst']:.2f} s; the validation took {report['validation']:.2f} s")
    print(f"domains on the first page that support TLS: {report['supported']} of 25")
    return 0 if p99 < 300 and report["failures"] == 0 else 1


class Child:
    """A process of this script speaking one JSON line per request."""

    def __init__(self, role: str, args: argparse.Namespace) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--role", role, *sys.argv[1:]],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.first: dict[str, Any] = json.loads(self._out.readline())

    @property
    def _out(self) -> IO[str]:
        assert self.process.stdout is not None
        return self.process.stdout

    def ask(self, line: str) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return json.loads(self._out.readline())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


# ---- the mail world (child)


def serve_mail(args: argparse.Namespace) -> int:
    pki = Pki.mint(Path(tempfile.mkdtemp(prefix="tlsbot-bench-pki-")))
    port = free_port()
    records: dict[str, dict[str, str]] = {}
    for i in range(1, DOMAINS + 1):
        records[f"d{i}.bench.test"] = {"MX": f"10 mx{i % SERVERS}.bench.test."}
    for n in range(SERVERS):
        records[f"mx{n}.bench.test"] = {"A": f"127.0.6.{n + 1}"}
    servers = [
        SmtpServer(
            f"127.0.6.{n + 1}",
            port,
            cert=pki.serve(CertCase.TRUSTED, f"mx{n}.bench.test"),
            reply_delay=args.delay,
            name=f"mx{n}.bench.test",
        )
        for n in range(SERVERS)
    ]
    with DnsServer(records, ipv6=False) as dns, SmtpFleet(servers):
        world = {"dns": list(dns.servers[0]), "port": port, "ca_file": str(pki.ca_file)}
        print(json.dumps(world), flush=True)
        for _line in sys.stdin:
            pass
    return 0


# ---- Slack: the Web API stand-in and the user (child)


def serve_slack(args: argparse.Namespace) -> int:
    return asyncio.run(_slack(args))


async def _slack(args: argparse.Namespace) -> int:
    api = SlackApi()
    await api.start()
    print(json.dumps({"api": api.base_url + "api/"}), flush=True)
    events = (await asyncio.to_thread(sys.stdin.readline)).strip()
    client = SlackClient(events, SECRET, api)
    async with aiohttp.ClientSession() as session:
        client.session = session  # Slack keeps its connections open too
        report = await scenario(api, client, args)
    print(json.dumps(report), flush=True)
    await asyncio.to_thread(sys.stdin.read)
    await api.stop()
    return 0


async def scenario(api: SlackApi, slack: SlackClient, args: argparse.Namespace) -> dict[str, Any]:
    await slack.command("add", user=USER)
    await api.wait_for("views.open")
    view_id = next(iter(api.views))
    view = await wait_view(api, view_id, "tls_domains_add")
    text = "\n".join(f"d{i}.bench.test" for i in range(1, DOMAINS + 1))
    await slack.submit(view, {Block.DOMAINS: {Field.DOMAINS: text}}, user=USER)
    validation_started = time.monotonic()
    await slack.submit(api.views[view_id], user=USER)  # Add: the validation starts
    domains_view = api.views[view_id]

    kinds = itertools.cycle(["help", "status", "check", "more", "page"])
    gate = asyncio.Semaphore(args.concurrency)
    times: list[float] = []
    done_at: list[float] = []
    failures = 0

    async def one(kind: str, n: int) -> None:
        nonlocal failures
        async with gate:
            if kind == "more":
                answer = await slack.click_in_view(
                    domains_view, Action.DOMAIN_MORE, "l1", user=USER
                )
            elif kind == "page":
                answer = await slack.click_in_view(
                    domains_view, Action.DOMAINS_PAGE, "1", user=USER
                )
            elif kind == "check":
                answer = await slack.command(f"check d{n % DOMAINS + 1}.bench.test", user=USER)
            else:
                answer = await slack.command(kind, user=USER)
            times.append(answer.elapsed * 1000)
            done_at.append(time.time())
            failures += answer.status != 200

    started = time.monotonic()
    await asyncio.gather(*(one(next(kinds), n) for n in range(args.requests)))
    burst = time.monotonic() - started
    final = await wait_view(api, view_id, "Page 1 of 2", done=True, limit=300)
    finished = time.time()
    return {
        "times": times,
        "during": sum(1 for t in done_at if t < finished),
        "failures": failures,
        "burst": burst,
        "validation": time.monotonic() - validation_started,
        "supported": str(final).count("Supports TLS"),
    }


async def wait_view(
    api: SlackApi, view_id: str, word: str, *, done: bool = False, limit: float = 120
) -> dict[str, Any]:
    """Wait for ``word`` in the view (and, with ``done``, for every row to have a result)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        view = api.views.get(view_id)
        text = str(view)
        finished = "Validating" not in text and "not validated yet" not in text
        if view is not None and word in text and (finished or not done):
            return view
        await asyncio.sleep(0.02)
    raise TimeoutError(f"the view never showed {word!r}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--delay", type=float, default=1.0, help="SMTP reply delay, seconds")
    parser.add_argument("--role", choices=("mail", "slack"), help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.role == "mail":
        sys.exit(serve_mail(parsed))
    if parsed.role == "slack":
        sys.exit(serve_slack(parsed))
    sys.exit(asyncio.run(run_bot(parsed)))
