"""``tlsbot probe TARGET… [--json] [--file FILE|-] [--route HOST[:PORT]]…``

Each TARGET is a domain or an email address; ``--route`` names an inbound route;
``--file`` reads one target a line (``-`` for stdin; blank lines and ``#`` comments
skipped). Bad targets are reported on stderr, one line each, and the others are
still probed. Exit 0 when every target is strict or relaxed, 1 otherwise (including
any bad target), 2 on a usage error (nothing to probe, bad settings).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

from bot.config import Settings
from bot.probe.model import HostResult, TargetKind, TargetResult
from bot.probe.names import InvalidName, normalise_domain, parse_email, parse_route
from bot.probe.prober import Prober, Target

TICK, CROSS = "✓", "✗"
MAX_FILE_LINES = 100_000


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "probe",
        help="check whether mail domains, addresses or inbound routes support enforced TLS",
        description=(
            "Probe the MX hosts of domains (or of the domain of an email address) and "
            "inbound routes for STARTTLS, and print one verdict per target."
        ),
    )
    parser.add_argument("targets", nargs="*", metavar="TARGET", help="a domain or email address")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="FILE",
        help="read one target a line from FILE ('-' for stdin)",
    )
    parser.add_argument(
        "--route",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="an inbound route to probe (repeatable)",
    )
    parser.set_defaults(run=run)


@dataclass
class _Input:
    targets: list[Target] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (input, why)
    seen: set[tuple[TargetKind, str]] = field(default_factory=set)

    def add(self, target: Target, key: str) -> None:
        if (target.kind, key) not in self.seen:
            self.seen.add((target.kind, key))
            self.targets.append(target)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    given = _collect(args, settings.probe.smtp_port)
    for _text, why in given.errors:
        print(f"tlsbot probe: {why}", file=sys.stderr)
    if not given.targets:
        if not given.errors:
            print(
                "tlsbot probe: nothing to probe: give a TARGET, --file FILE or --route HOST",
                file=sys.stderr,
            )
            return 2
        if args.json:
            _print_json([], given.errors, sys.stdout)
        return 1
    prober = Prober(settings.probe, clock=args.clock)
    progress = _Progress(sys.stderr, len(given.targets)) if len(given.targets) > 1 else None
    results = asyncio.run(
        prober.probe_many(given.targets, on_progress=progress.update if progress else None)
    )
    if progress is not None:
        progress.finish()
    if args.json:
        _print_json(results, given.errors, sys.stdout)
    else:
        for result in results:
            _print_result(result, sys.stdout)
    ok = all(r.verdict.ok for r in results) and not given.errors
    return 0 if ok else 1


def _collect(args: argparse.Namespace, default_port: int) -> _Input:
    given = _Input()
    lines: list[str] = list(args.targets)
    for name in args.file:
        read = _read_lines(name)
        if isinstance(read, str):
            given.errors.append((name, read))
        else:
            lines += read
    for line in lines:
        _add_target(given, line)
    for route in args.route:
        try:
            host, port = parse_route(route, default_port)
        except InvalidName as exc:
            given.errors.append((route, f"bad route {exc}"))
            continue
        given.add(Target(TargetKind.ROUTE, route.strip(), port), f"{host}:{port}")
    return given


def _add_target(given: _Input, line: str) -> None:
    text = line.strip()
    if not text or text.startswith("#"):
        return
    try:
        if "@" in text:
            address, _domain = parse_email(text)
            given.add(Target(TargetKind.EMAIL, text), address.lower())
        else:
            given.add(Target(TargetKind.DOMAIN, text), normalise_domain(text))
    except InvalidName as exc:
        kind = "email address" if "@" in text else "domain"
        given.errors.append((text, f"bad {kind}: {exc}"))


def _read_lines(name: str) -> list[str] | str:
    """The lines of a file (or stdin for ``-``), or one sentence saying why not."""
    try:
        if name == "-":
            text = sys.stdin.read()
        else:
            with open(name, encoding="utf-8") as handle:
                text = handle.read()
    except OSError as exc:
        return f"cannot read {name!r}: {exc.strerror or exc}"
    except UnicodeDecodeError:
        return f"cannot read {name!r}: it is not UTF-8 text"
    lines = text.splitlines()
    if len(lines) > MAX_FILE_LINES:
        return f"{name!r} has more than {MAX_FILE_LINES} lines"
    return lines


class _Progress:
    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream, self.total = stream, total
        self.tty = stream.isatty()

    def update(self, done: int, total: int, result: TargetResult) -> None:
        text = f"probed {done}/{total}: {result.target} {result.verdict.value}"
        if self.tty:
            self.stream.write("\r\033[K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _print_json(results: list[TargetResult], errors: list[tuple[str, str]], stream: TextIO) -> None:
    document = {
        "results": [r.to_dict() for r in results],
        "errors": [{"input": text, "error": why} for text, why in errors],
    }
    json.dump(document, stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def _print_result(result: TargetResult, stream: TextIO) -> None:
    mark = TICK if result.verdict.ok else CROSS
    name = result.target if result.target == result.domain else f"{result.target} ({result.domain})"
    print(f"{mark} {name}: {result.label} [{result.verdict.value}]", file=stream)
    for reason in result.reasons:
        print(f"    {reason.code.value}: {reason.message}", file=stream)
    if result.implicit_mx:
        print("    no MX record: the domain's own address receives its mail", file=stream)
    for host in result.hosts:
        _print_host(host, stream)
    extras = result.extras
    facts = []
    if extras.mta_sts_mode:
        facts.append(f"MTA-STS {extras.mta_sts_mode}")
    if extras.tlsa:
        facts.append(f"DANE TLSA {len(extras.tlsa)} record(s)")
    if extras.tls_rpt:
        facts.append("TLS-RPT published")
    if facts:
        print("    " + "; ".join(facts), file=stream)


def _print_host(host: HostResult, stream: TextIO) -> None:
    mark = TICK if host.verdict.ok else CROSS
    where = host.address or "no address"
    if host.address and ":" in host.address:
        where = f"[{host.address}]"
    line = f"  {mark} {host.host} {where}:{host.port} {host.verdict.value}"
    if host.tls_version:
        line += f" {host.tls_version} {host.cipher}"
    cert = host.certificate
    if cert is not None:
        line += ", certificate " + _expiry(cert.not_after, cert.days_to_expiry)
    print(line, file=stream)
    for reason in host.reasons:
        print(f"      {reason.code.value}: {reason.message}", file=stream)
    if host.recipient_accepted is True:
        print("      the recipient address was accepted (RCPT TO inside TLS)", file=stream)


def _expiry(not_after: datetime, days: int) -> str:
    if days < 0:
        return f"expired {not_after:%Y-%m-%d} ({-days} days ago)"
    return f"expires {not_after:%Y-%m-%d} ({days} days)"
