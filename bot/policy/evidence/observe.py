"""The reading loop of ``tlsbot observe postfix``: read, parse, commit counts with the position.

Counts are committed in batches (every ``batch_lines`` lines or ``batch_seconds``
seconds, and whenever the reader has caught up), each batch with the log's new
position and the parser's per-process state, in one transaction
(:func:`~bot.policy.evidence.traffic.commit_batch`). A process killed between
two commits loses nothing and counts nothing twice: the next one starts at the
last committed position with the state saved there.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Engine

from bot.clock import Clock
from bot.policy.db import new_session
from bot.policy.evidence.logfile import Chunk, Reader
from bot.policy.evidence.postfix_log import CountKey, PostfixLogParser
from bot.policy.evidence.traffic import Cursor, commit_batch


@dataclass
class ObserveReport:
    lines: int = 0
    unknown: int = 0
    commits: int = 0
    counts: Counter[CountKey] = field(default_factory=Counter)


@dataclass
class Observer:
    reader: Reader
    parser: PostfixLogParser
    clock: Clock
    engine: Engine | None = None  # None: count only, store nothing (--dry-run)
    source: str | None = None  # the cursor's key; None: no position kept (stdin)
    cursor: Cursor | None = None  # where the stored position was when we started
    batch_lines: int = 200_000
    batch_seconds: float = 1.0
    report: ObserveReport = field(default_factory=ObserveReport)
    _last: Chunk | None = None
    _lines: int = 0
    _unknown: int = 0

    def run(
        self, *, follow: bool, stop: threading.Event | None = None, poll: float = 0.5
    ) -> ObserveReport:
        stop = stop or threading.Event()
        committed_at = time.monotonic()
        while not stop.is_set():
            chunk = self.reader.read()
            if chunk is not None:
                self._feed(chunk)
                due = time.monotonic() - committed_at >= self.batch_seconds
                if self._lines >= self.batch_lines or due:
                    self.commit()
                    committed_at = time.monotonic()
                continue
            self.commit()
            committed_at = time.monotonic()
            if not follow or getattr(self.reader, "ended", False):
                break
            time.sleep(poll)  # not stop.wait(): a relative sleep, whatever the wall clock does
        self.commit()
        return self.report

    def _feed(self, chunk: Chunk) -> None:
        stats = self.parser.stats
        lines, unknown = stats.lines, stats.unknown
        self.parser.feed_all(chunk.lines)
        self._lines += stats.lines - lines
        self._unknown += stats.unknown - unknown
        self._last = chunk

    def commit(self) -> None:
        if self._last is None:
            return
        counts = self.parser.drain()
        after = None
        if self.source is not None:
            after = Cursor(self.source, self._last.inode, self._last.position, self.parser.state())
        if self.engine is not None:
            with new_session(self.engine) as session:
                commit_batch(
                    session=session,
                    counts=counts,
                    now=self.clock(),
                    before=self.cursor,
                    after=after,
                    lines=self._lines,
                    unknown=self._unknown,
                )
            self.cursor = after
        self.report.counts.update(counts)
        self.report.lines += self._lines
        self.report.unknown += self._unknown
        self.report.commits += 1
        self._lines = self._unknown = 0
        self._last = None
