"""Benchmark of ``tlsbot audit verify`` over a long trail: time and peak memory.

Writes ``--events`` hash-chained audit events (policy additions with their
snapshots, approvals, validations, as the services write them) into a schema of
its own in the PostgreSQL database named by ``--url`` (with COPY, so building a
million takes seconds, not the hour a million service calls would), then runs
the real command, ``python -m bot audit verify``, in a child process and
reports its wall time and peak resident memory (``ru_maxrss`` of the child).
The schema is dropped afterwards.

    python3 bench/audit_verify.py [--events 1000000] \\
        [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy import text

from bot.policy.audit import GENESIS, AuditAction, canonical
from bot.policy.db import make_engine, upgrade

ROOT = Path(__file__).resolve().parent.parent


def events(count: int, start: datetime) -> Iterator[tuple[Any, ...]]:
    """(seq, at, actor_id, actor_name, action, subject, before, after, request_id, prev, hash)."""
    prev = GENESIS
    for seq in range(1, count + 1):
        at = start + timedelta(seconds=seq)
        domain = f"d{seq}.example"
        kind = seq % 3
        if kind == 0:
            action, subject, before = AuditAction.POLICY_ADDED, domain, None
            after: Any = {
                "id": seq,
                "domain": domain,
                "status": "active",
                "version": 1,
                "level": "strict",
                "mx_hosts": [f"mx1.{domain}", f"mx2.{domain}"],
                "secure_delivery": True,
                "secure_receipt": True,
                "mode": "enforce",
                "relaxed_until": None,
                "validation_id": seq,
                "request_id": seq // 3,
            }
        elif kind == 1:
            action, subject, before = AuditAction.VALIDATION_RECORDED, domain, None
            after = {"validation_id": seq, "target": domain, "verdict": "strict", "mx_hosts": []}
        else:
            action, subject = AuditAction.REQUEST_APPROVED, f"request #{seq // 3}"
            before, after = {"state": "pending"}, {"state": "approved", "approvals": 1}
        request_id = seq // 3 if kind != 1 else None
        actor_id, actor_name = "U0APPROVER", "Bo Approver"
        digest = hashlib.sha256(
            canonical(
                at=at,
                actor_id=actor_id,
                actor_name=actor_name,
                action=str(action),
                subject=subject,
                before=before,
                after=after,
                request_id=request_id,
                prev_hash=prev,
            )
        ).hexdigest()
        yield (
            seq,
            at,
            actor_id,
            actor_name,
            str(action),
            subject,
            before,
            after,
            request_id,
            prev,
            digest,
        )
        prev = digest


def build(url: str, schema: str, count: int) -> None:
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, options=f"-csearch_path={schema}") as connection:
        last = (0, GENESIS)
        with (
            connection.cursor() as cursor,
            cursor.copy(
                "COPY audit_event (seq, at, actor_id, actor_name, action, subject, before, after, "
                "request_id, prev_hash, hash) FROM STDIN"
            ) as copy,
        ):
            for row in events(count, datetime(2026, 1, 1, tzinfo=UTC)):
                seq, at, aid, aname, action, subject, before, after, rid, prev, digest = row
                copy.write_row(
                    (
                        seq,
                        at,
                        aid,
                        aname,
                        action,
                        subject,
                        None if before is None else json.dumps(before),
                        None if after is None else json.dumps(after),
                        rid,
                        prev,
                        digest,
                    )
                )
                last = (seq, digest)
        connection.execute("UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1", last)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    schema = f"tlsbot_bench_{secrets.token_hex(4)}"
    admin = make_engine(args.url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        engine = make_engine(args.url, connect_args={"options": f"-csearch_path={schema}"})
        upgrade(engine)
        engine.dispose()
        started = time.perf_counter()
        build(args.url, schema, args.events)
        print(
            f"{args.events} audit events written           {time.perf_counter() - started:8.1f} s"
        )
        sep = "&" if "?" in args.url else "?"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TLSBOT_", "SLACK_"))},
            "DATABASE_URL": f"{args.url}{sep}options={quote(f'-csearch_path={schema}')}",
        }
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "bot", "audit", "verify"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        took = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
        print(f"tlsbot audit verify                       {took:8.1f} s   peak RSS {peak:.0f} MB")
        print(f"  exit {done.returncode}: {(done.stdout or done.stderr).strip()}")
        return done.returncode
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
