"""Benchmark of the Postfix log reader: lines parsed per second and peak resident memory.

Writes a log of ``--lines`` lines (default 1,000,000) for ``--queue-ids`` messages
(default 100,000) to a temporary file — the lines Postfix writes per message
(pickup, cleanup, qmgr, the smtp TLS line, one status line per recipient, some TLS
deferrals and retries, removed), 50 smtp processes interleaved, 2,000 recipient
domains — then reads it the way ``tlsbot observe postfix --once`` does (LogFile →
parser → counts committed with the position to a temporary SQLite store through the
real migrations). Targets on this machine: at least 150,000 lines/s, under 200 MB
resident. Run from the repository root::

    python3 bench/postfix_log.py [--lines 1000000] [--queue-ids 100000] [--no-store]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.clock import ManualClock
from bot.policy.db import make_engine, upgrade
from bot.policy.evidence.logfile import LogFile
from bot.policy.evidence.observe import Observer
from bot.policy.evidence.postfix_log import PostfixLogParser

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
LEVELS = ("Verified", "Verified", "Verified", "Trusted", "Untrusted", "Anonymous")


def generate(path: Path, lines: int, queue_ids: int, seed: int = 8460) -> int:
    rnd = random.Random(seed)
    per_message = max(4, lines // queue_ids)
    written = 0
    with path.open("w") as out:
        for n in range(queue_ids):
            if written >= lines:
                break
            qid = f"{0x4A0000000 + n * 7919:X}"[-11:]
            pid = 20000 + rnd.randrange(50)
            domain = f"partner{rnd.randrange(2000)}.example"
            stamp = f"Dec {1 + n * 5 // queue_ids:2d} {n % 24:02d}:{n % 60:02d}:{(n * 7) % 60:02d}"
            head = f"{stamp} gateway postfix"
            mx = f"mx{n % 3}.{domain}"
            relay = f"{mx}[192.0.2.{n % 250 + 1}]:25"
            batch = [
                f"{head}/pickup[1001]: {qid}: uid=1000 from=<app@company.example>",
                f"{head}/cleanup[1002]: {qid}: message-id=<{n}@company.example>",
                f"{head}/qmgr[1003]: {qid}: from=<app@company.example>, size=4242, nrcpt=2 "
                "(queue active)",
            ]
            kind = rnd.random()
            if kind < 0.05:  # a TLS deferral, then its retry
                reason = rnd.choice(
                    (
                        f"TLS is required, but was not offered by host {relay[:-3]}",
                        "Server certificate not verified",
                        "Cannot start TLS: handshake failure",
                    )
                )
                status = f", delay=1.2, delays=0.1/0/1/0, dsn=4.7.5, status=deferred ({reason})"
                for _ in range(per_message - 4):
                    batch.append(
                        f"{head}/smtp[{pid}]: {qid}: to=<user{n}@{domain}>, relay={relay}{status}"
                    )
            else:
                if kind < 0.9:
                    level = rnd.choice(LEVELS)
                    batch.append(
                        f"{head}/smtp[{pid}]: {level} TLS connection established to {relay}: "
                        "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange "
                        "X25519 server-signature ECDSA (prime256v1) server-digest SHA256"
                    )
                for r in range(per_message - len(batch) - 1):
                    batch.append(
                        f"{head}/smtp[{pid}]: {qid}: to=<user{n}.{r}@{domain}>, relay={relay}, "
                        "delay=0.42, delays=0.05/0.01/0.2/0.16, dsn=2.0.0, "
                        "status=sent (250 2.0.0 Ok: queued as 9B1C2D3E4F)"
                    )
            batch.append(f"{head}/qmgr[1003]: {qid}: removed")
            batch = batch[: lines - written]
            out.write("\n".join(batch) + "\n")
            written += len(batch)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--queue-ids", type=int, default=100_000)
    parser.add_argument("--no-store", action="store_true", help="parse only, no SQLite commits")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tlsbot-bench-") as tmp:
        log = Path(tmp) / "maillog"
        written = generate(log, args.lines, args.queue_ids)
        size = log.stat().st_size
        engine = None
        if not args.no_store:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'store.db'}")
            upgrade(engine)
        reader = LogFile(log)
        observer = Observer(
            reader=reader,
            parser=PostfixLogParser(now=NOW),
            clock=ManualClock(NOW),
            engine=engine,
            source=str(log) if engine is not None else None,
        )
        start = time.perf_counter()
        report = observer.run(follow=False)
        elapsed = time.perf_counter() - start
        reader.close()
        if engine is not None:
            engine.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = report.lines / elapsed
    delivered = sum(n for k, n in report.counts.items() if k[2].value == "delivered")
    deferred = sum(n for k, n in report.counts.items() if k[2].value == "deferred")
    print(f"log: {written:,} lines, {args.queue_ids:,} queue IDs, {size / 1e6:.0f} MB")
    print(f"parsed {report.lines:,} lines in {elapsed:.2f} s ({report.commits} commits)")
    print(f"counted {delivered:,} deliveries, {deferred:,} TLS deferrals, {report.unknown} unknown")
    print(f"lines/s: {rate:,.0f}   (target >= 150,000: {'ok' if rate >= 150_000 else 'MISSED'})")
    print(f"peak RSS: {peak_mb:.0f} MB   (target < 200 MB: {'ok' if peak_mb < 200 else 'MISSED'})")


if __name__ == "__main__":
    main()
