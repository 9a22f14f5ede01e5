"""Benchmark: a batch of 50 domains against loopback SMTP servers that answer slowly.

    python3 bench/probe_batch.py [--domains 50] [--tarpits 3] [--delay 0.05] [--timeout 5]

Every domain has one MX host on its own loopback address (127.0.5.N); each server
delays every reply by ``--delay`` seconds (a modelled internet round trip) and serves
a trusted certificate; ``--tarpits`` of them accept the connection and never greet.
DNS comes from the loopback DNS server of the test suite.

Prints:
- the batch's wall time against the slowest single-domain probe (each domain of a
  sample probed alone), with and without the tarpits (target: ratio <= 1.3);
- TCP connections opened per host (target: <= 2 for a strict host);
- peak RSS of the probing process (the servers run in a child process) (target: < 150 MB);
- what each tarpit cost against its deadline (target: no more than the deadline).

Reaches only loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from bot.clock import system_clock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509

from bot.probe.certs import TrustStore
from bot.probe.model import TargetResult, Verdict
from bot.probe.prober import Prober, Target
from bot.probe.settings import ProbeSettings
from tests.support.certs import CertCase, Pki, ServedCert
from tests.support.dns_server import DnsServer
from tests.support.smtp_server import Behaviour, SmtpFleet, SmtpServer, free_port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=50)
    parser.add_argument("--tarpits", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds before each reply")
    parser.add_argument("--timeout", type=float, default=5.0, help="per-host deadline")
    parser.add_argument("--sample", type=int, default=8, help="domains probed alone")
    parser.add_argument(
        "--no-extras", action="store_true", help="skip MTA-STS/TLSA/TLS-RPT lookups"
    )
    parser.add_argument(
        "--smtp-processes", type=int, default=2, help="server processes the hosts are spread over"
    )
    parser.add_argument("--serve", choices=("smtp", "dns"), help=argparse.SUPPRESS)
    parser.add_argument("--part", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--manifest", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "smtp":
        return serve_smtp(args)
    if args.serve == "dns":
        return serve_dns(args)

    # The servers run in child processes (SMTP hosts spread over a few, DNS in its own),
    # as they would on the internet: their CPU (TLS handshakes, Python SMTP and DNS)
    # does not compete with the probe's. Certificates are minted here, once.
    manifest = mint(args)
    smtp = [
        Child("smtp", "--part", str(i), "--manifest", str(manifest))
        for i in range(args.smtp_processes)
    ]
    dns = Child("dns")
    world = {**smtp[0].first, **dns.first}

    def counts() -> dict[str, int]:
        merged: dict[str, int] = {}
        for child in smtp:
            merged.update(child.ask("counts"))
        return merged

    domains: list[str] = world["domains"]
    tarpits = set(world["tarpits"])
    settings = ProbeSettings(
        dns_servers=((world["dns"][0], world["dns"][1]),),
        smtp_port=world["port"],
        timeout=args.timeout,
        concurrency=50,
        allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        ehlo_name="bench.example.test",
    )
    trust = TrustStore.load(Path(world["ca_file"]), system=False)
    try:
        # single-domain probes: a sample of good domains and one tarpit, each alone
        good = [d for d in domains if d not in tarpits]
        sample = good[: args.sample] + sorted(tarpits)[:1]
        single: dict[str, float] = {}
        for domain in sample:
            prober = Prober(settings, clock=system_clock, trust=trust, extras=not args.no_extras)
            started = time.monotonic()
            asyncio.run(prober.probe_domain(domain))
            single[domain] = time.monotonic() - started

        # the batch: every domain at once
        before = counts()
        prober = Prober(settings, clock=system_clock, trust=trust, extras=not args.no_extras)
        started = time.monotonic()
        cpu_started = time.process_time()
        results = asyncio.run(prober.probe_many([Target.guess(d) for d in domains]))
        batch_wall = time.monotonic() - started
        batch_cpu = time.process_time() - cpu_started
        after = counts()
        connections = {a: after[a] - before.get(a, 0) for a in after}

        # the batch without tarpits, against the slowest good domain probed alone
        prober = Prober(settings, clock=system_clock, trust=trust, extras=not args.no_extras)
        started = time.monotonic()
        asyncio.run(prober.probe_many([Target.guess(d) for d in good]))
        good_wall = time.monotonic() - started
    finally:
        for child in [*smtp, dns]:
            child.close()
    report(args, results, single, tarpits, batch_wall, good_wall, connections, batch_cpu)
    return 0


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


def plan(args: argparse.Namespace) -> list[tuple[str, str, str, bool]]:
    """(domain, MX host, address, tarpit?) of every domain of the benchmark."""
    rows = []
    for i in range(args.domains):
        domain = f"d{i:02d}.bench.test"
        address = str(ipaddress.IPv4Address("127.0.5.1") + i)
        rows.append((domain, f"mx.{domain}", address, i >= args.domains - args.tarpits))
    return rows


def mint(args: argparse.Namespace) -> Path:
    """Mint the PKI and every host's certificate; return a manifest for the server processes."""
    directory = Path(tempfile.mkdtemp(prefix="tlsbot-bench-"))
    pki = Pki.mint(directory)
    hosts = {}
    for _domain, mx, _address, _tarpit in plan(args):
        served = pki.serve(CertCase.TRUSTED, mx)
        hosts[mx] = [str(served.cert_file), str(served.key_file)]
    manifest = directory / "manifest.json"
    manifest.write_text(
        json.dumps({"port": free_port(), "ca_file": str(pki.ca_file), "hosts": hosts})
    )
    return manifest


def serve_smtp(args: argparse.Namespace) -> int:
    """Child: SMTP servers for every ``--smtp-processes``-th host, until stdin closes."""
    manifest = json.loads(Path(args.manifest).read_text())
    port = manifest["port"]
    servers = []
    for i, (_domain, mx, address, tarpit) in enumerate(plan(args)):
        if i % args.smtp_processes != args.part:
            continue
        cert_file, key_file = (Path(p) for p in manifest["hosts"][mx])
        leaf = x509.load_pem_x509_certificate(cert_file.read_bytes())
        servers.append(
            SmtpServer(
                address,
                port,
                Behaviour.TARPIT if tarpit else Behaviour.STARTTLS,
                cert=ServedCert(cert_file, key_file, leaf),
                reply_delay=args.delay,
                name=mx,
            )
        )
    with SmtpFleet(servers) as fleet:
        world = {
            "port": port,
            "ca_file": manifest["ca_file"],
            "domains": [row[0] for row in plan(args)],
            "tarpits": [row[0] for row in plan(args) if row[3]],
        }
        print(json.dumps(world), flush=True)
        for line in sys.stdin:
            if line.strip() == "counts":
                print(json.dumps({s.address: s.connections for s in fleet.servers}), flush=True)
    return 0


def serve_dns(args: argparse.Namespace) -> int:
    """Child: the loopback DNS server with the MX and A records, until stdin closes."""
    records: dict[str, dict[str, str]] = {}
    for domain, mx, address, _tarpit in plan(args):
        records[domain] = {"MX": f"10 {mx}."}
        records[mx] = {"A": address}
    with DnsServer(records, ipv6=False) as dns:
        print(json.dumps({"dns": list(dns.servers[0])}), flush=True)
        for _line in sys.stdin:
            pass
    return 0


def report(
    args: argparse.Namespace,
    results: list[TargetResult],
    single: dict[str, float],
    tarpits: set[str],
    batch_wall: float,
    good_wall: float,
    connections: dict[str, int],
    batch_cpu: float,
) -> None:
    verdicts: dict[str, int] = {}
    for r in results:
        verdicts[r.verdict.value] = verdicts.get(r.verdict.value, 0) + 1
    slowest_single = max(single.values())
    slowest_good = max(v for d, v in single.items() if d not in tarpits)
    strict_hosts = [h for r in results for h in r.hosts if r.verdict is Verdict.STRICT]
    per_host_batch = [h.connections for h in strict_hosts]
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"domains: {len(results)} ({len(tarpits)} tarpits), reply delay {args.delay * 1000:g} ms,"
        f" deadline {args.timeout:g} s, extras {'off' if args.no_extras else 'on'},"
        f" load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(f"verdicts: {verdicts}")
    print(
        f"slowest single-domain probe: {slowest_single:.3f} s"
        f" (slowest good domain alone: {slowest_good:.3f} s)"
    )
    print(
        f"batch of {len(results)} incl. tarpits: {batch_wall:.3f} s"
        f"  ratio {batch_wall / slowest_single:.2f} (target <= 1.3)"
    )
    print(
        f"batch of {len(results) - len(tarpits)} good domains: {good_wall:.3f} s"
        f"  ratio {good_wall / slowest_good:.2f} (target <= 1.3)"
    )
    print(
        f"TCP connections per strict host (from the probe): max {max(per_host_batch)},"
        f" mean {sum(per_host_batch) / len(per_host_batch):.2f} (target <= 2)"
    )
    print(
        f"TCP connections per host seen by the servers during the batch: max"
        f" {max(connections.values())}, total {sum(connections.values())}"
        f" for {len(connections)} hosts"
    )
    for r in results:
        if r.domain in tarpits:
            h = r.hosts[0]
            print(
                f"tarpit {r.domain}: host probe {h.elapsed_ms / 1000:.3f} s against a"
                f" {args.timeout:g} s deadline ({h.reasons[0].code.value}),"
                f" {h.connections} connection(s); whole domain with DNS {r.elapsed_ms / 1000:.3f} s"
            )
    print(
        f"CPU used by the probing process for the batch: {batch_cpu:.3f} s"
        f" ({batch_cpu / len(results) * 1000:.1f} ms per domain)"
    )
    print(f"peak RSS: {peak_kb / 1024:.1f} MB (target < 150 MB)")


if __name__ == "__main__":
    raise SystemExit(main())
