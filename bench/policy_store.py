"""Benchmark of the policy store on SQLite.

Prints how long ``audit verify`` takes over 100,000 events and how long the
policy list takes over 10,000 domains (plus a few related figures). Builds its
data in a temporary SQLite file through the real migrations; touches nothing
else. Run from the repository root::

    python3 bench/policy_store.py [--events 100000] [--domains 10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from bot.clock import system_clock
from bot.policy import audit, queries
from bot.policy.audit import GENESIS, AuditAction
from bot.policy.db import make_engine, new_session, transaction, upgrade
from bot.policy.models import AuditEvent, AuditHead, DomainPolicy
from bot.policy.types import Actor

ACTOR = Actor("U0BENCH", "Bench Mark")


def _timed(label: str, fn, repeat: int = 3):  # type: ignore[no-untyped-def]
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    print(f"{label:<58} {best * 1000:10.1f} ms")
    return result


def _fill_audit(engine, count: int) -> None:  # type: ignore[no-untyped-def]
    """A valid chain of ``count`` events, written in bulk (append() is timed separately)."""
    at0 = datetime(2026, 1, 1, tzinfo=UTC)
    prev, rows = GENESIS, []
    for seq in range(1, count + 1):
        at = at0 + timedelta(seconds=seq)
        after = {"level": "strict", "mx_hosts": [f"mx1.d{seq}.example"], "version": 1}
        fields = {
            "at": at,
            "actor_id": ACTOR.id,
            "actor_name": ACTOR.name,
            "action": AuditAction.POLICY_ADDED.value,
            "subject": f"d{seq}.example",
            "before": None,
            "after": after,
            "request_id": seq,
        }
        digest = audit._hash(audit.canonical(**fields, prev_hash=prev))
        rows.append({**fields, "seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    with engine.begin() as c:
        for i in range(0, len(rows), 5000):
            c.execute(insert(AuditEvent), rows[i : i + 5000])
        c.execute(AuditHead.__table__.update().values(seq=count, hash=prev))  # type: ignore[attr-defined]


def _fill_policies(engine, count: int) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    rows = [
        {
            "domain": f"partner{i:05d}.example",
            "level": "strict" if i % 3 else "relaxed",
            "mx_hosts": [f"mx1.partner{i:05d}.example", f"mx2.partner{i:05d}.example"],
            "secure_delivery": True,
            "secure_receipt": True,
            "mode": "enforce",
            "status": "active",
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    with engine.begin() as c:
        c.execute(insert(DomainPolicy), rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--domains", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        print(f"SQLite {engine.dialect.server_version_info}, temporary file database")
        start = time.perf_counter()
        _fill_audit(engine, args.events)
        took = time.perf_counter() - start
        print(f"(setup: {args.events:,} chained events written in {took:.1f} s)")
        with new_session(engine) as session:
            report = _timed(
                f"audit verify, {args.events:,} events", lambda: audit.verify(session=session)
            )
            assert report.ok, report
            assert report.count == args.events, report
        _fill_policies(engine, args.domains)
        with new_session(engine) as session:
            policies = _timed(
                f"policy list, all {args.domains:,} domains",
                lambda: queries.list_policies(session=session),
            )
            assert len(policies) == args.domains
            _timed(
                f"policy list, one page of 50 of {args.domains:,}",
                lambda: queries.list_policies(session=session, offset=5000, limit=50),
            )
            _timed("policy count (summary)", lambda: queries.summary(session=session))
        with new_session(engine) as session:

            def appends() -> None:
                with transaction(session):
                    for i in range(1000):
                        audit.append(
                            session=session,
                            actor=ACTOR,
                            action=AuditAction.EXPORT_PUBLISHED,
                            subject=f"bench {i}",
                            now=system_clock(),
                        )

            _timed("audit append x1000 (one transaction)", appends, repeat=1)
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
