"""Benchmark: 50 domains sharing 2 MX hosts, behind a 50 ms round trip.

    python3 bench/probe_shared_mx.py [--domains 50] [--rtt 0.05] [--dns-delay 0.01] [--no-extras]

Every domain has ``MX 10 mx1.shared.test.`` and ``MX 20 mx2.shared.test.`` (as thousands
of domains share Google's and Microsoft's MX hosts). Each MX host is a loopback SMTP server
with STARTTLS and a trusted certificate (tests/support/smtp_server.py) reached through a
loopback TCP proxy that delays each direction by half the round trip
(tests/support/latency_proxy.py); DNS is the loopback DNS server of the test suite, which
waits ``--dns-delay`` before each answer. The servers and proxies run in child processes.

Prints the connections each MX address received and the wall time of the batch against
one domain alone (the median of ``--repeat`` runs of each, every run with a fresh Prober).
Targets: at most 2 connections per address; batch wall time within 1.2x of one domain.

Reaches only loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
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

from cryptography import x509

from bot.clock import system_clock
from bot.probe.certs import TrustStore
from bot.probe.model import Verdict
from bot.probe.prober import Prober, Target
from bot.probe.settings import ProbeSettings
from tests.support.certs import CertCase, Pki, ServedCert
from tests.support.dns_server import DnsServer
from tests.support.latency_proxy import LatencyProxy
from tests.support.smtp_server import SmtpServer, free_port

HOSTS = {
    "mx1.shared.test": ("127.0.9.1", "127.0.10.1"),  # (SMTP server, proxy in front of it)
    "mx2.shared.test": ("127.0.9.2", "127.0.10.2"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=50)
    parser.add_argument("--rtt", type=float, default=0.05, help="round trip to the MX hosts, s")
    parser.add_argument("--dns-delay", type=float, default=0.01, help="before each DNS answer, s")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each (median)")
    parser.add_argument("--no-extras", action="store_true", help="skip MTA-STS/TLSA/TLS-RPT")
    parser.add_argument("--serve", choices=("smtp", "dns"), help=argparse.SUPPRESS)
    parser.add_argument("--manifest", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "smtp":
        return serve_smtp(args)
    if args.serve == "dns":
        return serve_dns(args)

    # The servers run in child processes, as they would on the internet: their CPU (TLS
    # handshakes, Python SMTP and DNS) does not compete with the probe's.
    directory = Path(tempfile.mkdtemp(prefix="tlsbot-bench-"))
    pki = Pki.mint(directory)
    manifest = directory / "manifest.json"
    served = {name: pki.serve(CertCase.TRUSTED, name) for name in HOSTS}
    manifest.write_text(
        json.dumps({n: [str(c.cert_file), str(c.key_file)] for n, c in served.items()})
    )
    smtp, dns = Child("smtp", "--manifest", str(manifest)), Child("dns")
    trust = TrustStore.load(pki.ca_file, system=False)
    domains = [domain(i) for i in range(args.domains)]
    settings = ProbeSettings(
        dns_servers=(tuple(dns.first["dns"]),),
        smtp_port=smtp.first["port"],
        timeout=10.0,
        allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        ehlo_name="bench.example.test",
    )

    def prober() -> Prober:
        return Prober(settings, clock=system_clock, trust=trust, extras=not args.no_extras)

    try:
        single: list[float] = []
        single_counts: dict[str, int] = {}
        for _ in range(args.repeat):
            before = smtp.ask("counts")
            started = time.monotonic()
            alone = asyncio.run(prober().probe_domain(domains[0]))
            single.append(time.monotonic() - started)
            single_counts = {a: n - before[a] for a, n in smtp.ask("counts").items()}
        batches: list[float] = []
        batch_counts: dict[str, int] = {}
        for _ in range(args.repeat):
            before = smtp.ask("counts")
            started, cpu = time.monotonic(), time.process_time()
            results = asyncio.run(prober().probe_many([Target.guess(d) for d in domains]))
            batches.append(time.monotonic() - started)
            batch_cpu = time.process_time() - cpu
            counts = {a: n - before[a] for a, n in smtp.ask("counts").items()}
            batch_counts = {a: max(n, batch_counts.get(a, 0)) for a, n in counts.items()}
    finally:
        smtp.close()
        dns.close()

    one, batch_wall = statistics.median(single), statistics.median(batches)
    verdicts: dict[str, int] = {}
    for r in results:
        verdicts[r.verdict.value] = verdicts.get(r.verdict.value, 0) + 1
    ratio = batch_wall / one
    worst = max(batch_counts.values())
    print(
        f"{args.domains} domains sharing {len(HOSTS)} MX hosts, RTT {args.rtt * 1000:g} ms, "
        f"DNS delay {args.dns_delay * 1000:g} ms, extras {'off' if args.no_extras else 'on'}"
    )
    print(f"verdicts: {verdicts} (one domain alone: {alone.verdict.value})")
    for address, count in batch_counts.items():
        print(
            f"connections to {address}: batch {count} (most in one run), "
            f"one domain alone {single_counts[address]}"
        )
    print(
        f"wall time, median of {args.repeat} runs each: batch {batch_wall:.3f} s "
        f"({', '.join(f'{s:.3f}' for s in batches)}), one domain alone {one:.3f} s "
        f"({', '.join(f'{s:.3f}' for s in single)})"
    )
    print(
        f"ratio batch / one domain: {ratio:.2f} (target <= 1.2); probe CPU in the batch "
        f"{batch_cpu:.3f} s; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(f"connections per address: at most {worst} (target <= 2)")
    ok = worst <= 2 and ratio <= 1.2 and all(r.verdict is Verdict.STRICT for r in results)
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


def domain(i: int) -> str:
    return f"d{i:02d}.shared.test"


class Child:
    """A server process of this script; speaks one JSON line per request."""

    def __init__(self, what: str, *extra: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, *sys.argv[1:], "--serve", what, *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.first = json.loads(self._stdout.readline())

    @property
    def _stdout(self) -> IO[str]:
        assert self.process.stdout is not None
        return self.process.stdout

    def ask(self, request: str) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(request + "\n")
        self.process.stdin.flush()
        return json.loads(self._stdout.readline())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def serve_smtp(args: argparse.Namespace) -> int:
    """Child: the two SMTP servers and their latency proxies, until stdin closes."""
    files = json.loads(Path(args.manifest).read_text())
    port, backend_port = free_port(), free_port()
    servers = {}
    for name, (backend, _front) in HOSTS.items():
        cert_file, key_file = (Path(p) for p in files[name])
        leaf = x509.load_pem_x509_certificate(cert_file.read_bytes())
        cert = ServedCert(cert_file, key_file, leaf)
        servers[name] = SmtpServer(backend, backend_port, cert=cert, name=name)
    proxies = [
        LatencyProxy(front, port, (backend, backend_port), delay=args.rtt / 2)
        for backend, front in HOSTS.values()
    ]

    async def run() -> None:
        for item in [*servers.values(), *proxies]:
            await item.__aenter__()
        print(json.dumps({"port": port}), flush=True)
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(None, sys.stdin.readline):
            counts = {HOSTS[n][1]: s.connections for n, s in servers.items()}
            print(json.dumps(counts), flush=True)
        for item in [*proxies, *servers.values()]:
            await item.__aexit__(None, None, None)

    asyncio.run(run())
    return 0


def serve_dns(args: argparse.Namespace) -> int:
    """Child: the loopback DNS server with the MX and A records, until stdin closes."""
    records: dict[str, dict[str, Any]] = {
        domain(i): {"MX": ["10 mx1.shared.test.", "20 mx2.shared.test."]}
        for i in range(args.domains)
    }
    for name, (_backend, front) in HOSTS.items():
        records[name] = {"A": front}
    with DnsServer(records, delay=args.dns_delay, ipv6=False) as dns:
        print(json.dumps({"dns": list(dns.servers[0])}), flush=True)
        for _line in sys.stdin:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
