"""``tlsbot export postfix`` over a large store: wall time and peak memory.

    python3 bench/export_postfix.py [--policies 100000] [--postmap] \\
        [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Builds N enforced policies (two MX names each; a quarter relaxed) in a schema of its
own in the PostgreSQL database named by ``--url`` (dropped afterwards; default: a
temporary SQLite file), then runs the real command, ``python -m bot export postfix
--out DIR`` (``--postmap``: with ``--postmap``, which needs Postfix), in a child
process, and reports its wall time, its peak resident memory (``ru_maxrss`` of the
child) and the size of the files it wrote.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text

from bot.clock import system_clock
from bot.policy.db import insert_many, make_engine, upgrade
from bot.policy.models import DomainPolicy

ROOT = Path(__file__).resolve().parent.parent


def build(url: str, connect_args: dict[str, str], count: int) -> None:
    engine = make_engine(url, connect_args=connect_args)
    upgrade(engine)
    now = system_clock()
    rows = [
        {
            "created_at": now,
            "updated_at": now,
            "domain": f"partner{i}.example",
            "level": "strict" if i % 4 else "relaxed",
            "mx_hosts": [f"mx1.partner{i}.example", f"mx2.partner{i}.example"],
            "secure_delivery": True,
            "secure_receipt": True,
            "mode": "enforce",
            "status": "active",
            "version": 1,
        }
        for i in range(count)
    ]
    with engine.begin() as connection:
        insert_many(connection, insert(DomainPolicy.__table__), rows)  # type: ignore[attr-defined]
    engine.dispose()


def export(database_url: str, postmap: bool) -> int:
    with tempfile.TemporaryDirectory() as out:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TLSBOT_", "SLACK_"))},
            "DATABASE_URL": database_url,
        }
        argv = [sys.executable, "-m", "bot", "export", "postfix", "--out", out]
        started = time.perf_counter()
        done = subprocess.run(
            argv + (["--postmap"] if postmap else []),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        took = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        files = {p.name: p.stat().st_size for p in sorted(Path(out).iterdir())}
        print(
            f"tlsbot export postfix{' --postmap' if postmap else ''}: {took:.2f} s, "
            f"peak RSS {peak:.0f} MB, exit {done.returncode}"
        )
        for name, size in files.items():
            print(f"  {name:<24} {size / 1e6:8.1f} MB")
        if done.returncode:
            print(done.stderr.strip()[-2000:])
        return done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=100_000)
    parser.add_argument("--postmap", action="store_true")
    parser.add_argument("--url", default=None, help="a PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    if args.url is None:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            build(url, {}, args.policies)
            print(f"store: {args.policies} policies in SQLite")
            return export(url, args.postmap)
    schema = f"tlsbot_bench_{secrets.token_hex(4)}"
    admin = make_engine(args.url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        build(args.url, {"options": f"-csearch_path={schema}"}, args.policies)
        print(f"store: {args.policies} policies in PostgreSQL")
        sep = "&" if "?" in args.url else "?"
        return export(f"{args.url}{sep}options={quote(f'-csearch_path={schema}')}", args.postmap)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
