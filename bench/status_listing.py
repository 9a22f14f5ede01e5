"""Benchmark of ``/tls status``: a page of the policy listing at 5,000 policies.

Builds N policies in a temporary SQLite file (or the PostgreSQL database named by
``--url``, in a schema of its own that is dropped afterwards), each with a monitor item
and a stored validation carrying a certificate (what the monitor leaves behind), a
tenth relaxed, some in observe mode, some with an open alert; then times the page a
``/tls status`` answer or a Next click loads (``bot.slack.pages.status_page``: the one
paged query with its window count, the page's validations, the gateways' state) and
renders (``status_list_message``), for the first, a middle and the last page, and for
each filter. It prints the blocks of the largest page too (a message holds 50).

Run from the repository root::

    python3 bench/status_listing.py [--domains 5000] [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from databases import on_database
from sqlalchemy import Engine, insert, select

from bot.clock import system_clock
from bot.export.gateway import GatewayName
from bot.policy.db import new_session
from bot.policy.models import DomainPolicy, Validation
from bot.policy.monitor.history import ListFilter, Listing
from bot.policy.monitor.models import MonitorAlert, MonitorItem
from bot.probe.model import CertificateInfo, HostResult, TargetKind, TargetResult, Verdict
from bot.slack.pages import STATUS_PAGE, status_page
from bot.slack.views.reports import status_list_message

GATEWAYS = (GatewayName.POSTFIX, GatewayName.MIMECAST, GatewayName.EXCHANGE)


def result(domain: str, days: int) -> dict[str, object]:
    now = system_clock()
    cert = CertificateInfo(
        subject=f"CN=mx1.{domain}",
        issuer="CN=Bench CA",
        sans=(f"mx1.{domain}",),
        not_before=now - timedelta(days=30),
        not_after=now + timedelta(days=days),
        days_to_expiry=days,
        sha256="00" * 32,
        chain_length=2,
    )
    host = HostResult(
        f"mx1.{domain}",
        "192.0.2.1",
        25,
        Verdict.STRICT,
        reached=True,
        tls_version="TLSv1.3",
        cipher="TLS_AES_256_GCM_SHA384",
        certificate=cert,
    )
    found = TargetResult(
        domain, TargetKind.DOMAIN, domain, Verdict.STRICT, (host,), mx=(host.host,)
    )
    return found.to_dict()


def seed(engine: Engine, domains: int) -> None:
    now = system_clock()
    names = [f"d{i:05d}.example" for i in range(domains)]
    with engine.begin() as connection:
        connection.execute(
            insert(Validation),
            [
                {
                    "target": n,
                    "kind": "domain",
                    "domain": n,
                    "verdict": "strict",
                    "mx_hosts": [f"mx1.{n}"],
                    "result": result(n, 10 + i % 300),
                    "actor_id": "system",
                    "actor_name": "bench",
                    "created_at": now,
                }
                for i, n in enumerate(names)
            ],
        )
        ids = dict(connection.execute(select(Validation.domain, Validation.id)).all())
        connection.execute(
            insert(DomainPolicy),
            [
                {
                    "domain": n,
                    "level": "relaxed" if i % 10 == 0 else "strict",
                    "mode": "observe" if i % 50 == 7 else "enforce",
                    "mx_hosts": [f"mx1.{n}"],
                    "validation_id": ids[n],
                    "created_at": now,
                    "updated_at": now,
                }
                for i, n in enumerate(names)
            ],
        )
        policies = dict(connection.execute(select(DomainPolicy.domain, DomainPolicy.id)).all())
        connection.execute(
            insert(MonitorItem),
            [
                {
                    "subject": "policy",
                    "subject_id": policies[n],
                    "name": n,
                    "next_check_at": now,
                    "last_checked_at": now,
                    "last_verdict": "unsupported" if i % 97 == 0 else "strict",
                    "last_validation_id": ids[n],
                    "created_at": now,
                }
                for i, n in enumerate(names)
            ],
        )
        connection.execute(
            insert(MonitorAlert),
            [
                {
                    "id": f"00000000-0000-0000-0000-{i:012d}",
                    "subject": "policy",
                    "subject_id": policies[n],
                    "name": n,
                    "condition": "certificate-expiring",
                    "fingerprint": "bench",
                    "severity": "warning",
                    "payload": {},
                    "raised_at": now,
                }
                for i, n in enumerate(names)
                if i % 41 == 0
            ],
        )


def timed(engine: Engine, listing: Listing, offset: int, runs: int = 5) -> tuple[float, int, int]:
    """The best of ``runs`` page loads and renders (ms), the total matched, the blocks."""
    best, total, blocks = float("inf"), 0, 0
    for _ in range(runs):
        start = time.perf_counter()
        with new_session(engine) as session:
            page = status_page(
                session, listing, offset=offset, gateways=GATEWAYS, now=system_clock()
            )
        message = status_list_message(page)
        best = min(best, (time.perf_counter() - start) * 1000)
        total, blocks = page.total, len(message["blocks"])
    return best, total, blocks


def run(engine: Engine, domains: int) -> None:
    start = time.perf_counter()
    seed(engine, domains)
    print(f"seeded {domains} policies, items, validations   {time.perf_counter() - start:8.2f} s")
    last = (domains - 1) // STATUS_PAGE * STATUS_PAGE
    cases = [
        ("/tls status, first page", Listing(), 0),
        ("/tls status, middle page", Listing(), last // 2 // STATUS_PAGE * STATUS_PAGE),
        ("/tls status, last page", Listing(), last),
        ("/tls status relaxed", Listing(ListFilter.RELAXED), 0),
        ("/tls status observe", Listing(ListFilter.OBSERVE), 0),
        ("/tls status at-risk", Listing(ListFilter.AT_RISK), 0),
        ("/tls status d012 (prefix)", Listing(ListFilter.PREFIX, "d012"), 0),
    ]
    for name, listing, offset in cases:
        took, total, blocks = timed(engine, listing, offset)
        print(f"{name:32} {total:5d} match  {blocks:2d} blocks  {took:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--domains", type=int, default=5000)
    parser.add_argument(
        "--url", default=None, help="a PostgreSQL URL (default: a temporary SQLite file)"
    )
    args = parser.parse_args()
    on_database(args.url, lambda engine: run(engine, args.domains))


if __name__ == "__main__":
    main()
