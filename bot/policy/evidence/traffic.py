"""Traffic counts in the store: adding a batch (with where the reader stopped) and reading them.

:func:`commit_batch` adds a batch of counts and moves the log cursor in one
transaction, and only if the cursor is still where this reader found it — a
second reader of the same log (or a restart racing the old process) cannot make
a line count twice: its commit is refused with :class:`CursorMoved`.

:func:`traffic_for` / :func:`traffic_by_domain` sum the last days into a
:class:`Traffic` per domain, the one typed value the monitor, the change request
and Slack read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from bot.policy.errors import PolicyError
from bot.policy.evidence.models import LogCursor, MailTraffic
from bot.policy.evidence.postfix_log import CountKey, Kind, Level

# levels that satisfy a policy, by its level
GOOD_LEVELS = {
    "strict": frozenset({Level.VERIFIED.value, Level.TRUSTED.value}),
    "relaxed": frozenset(
        {Level.VERIFIED.value, Level.TRUSTED.value, Level.UNTRUSTED.value, Level.ANONYMOUS.value}
    ),
}


class CursorMoved(PolicyError):
    """Another reader moved this log's cursor since we read it: nothing was added."""


@dataclass(frozen=True, slots=True)
class Cursor:
    source: str
    inode: int
    position: int
    state: Mapping[str, Any] = field(default_factory=dict)


def load_cursor(*, session: Session, source: str) -> Cursor | None:
    row = session.get(LogCursor, source)
    if row is None:
        return None
    return Cursor(row.source, row.inode, row.position, dict(row.state or {}))


def commit_batch(
    *,
    session: Session,
    counts: Counter[CountKey],
    now: datetime,
    before: Cursor | None = None,
    after: Cursor | None = None,
    lines: int = 0,
    unknown: int = 0,
) -> None:
    """Add ``counts`` and move the cursor from ``before`` to ``after``, in one transaction."""
    if after is not None:
        _move_cursor(session, before, after, now, lines, unknown)
    rows = [
        {"domain": d, "day": day, "kind": str(k), "name": str(n), "count": c}
        for (d, day, k, n), c in counts.items()
        if c
    ]
    if rows:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = insert(MailTraffic)
        statement = statement.on_conflict_do_update(
            index_elements=["domain", "day", "kind", "name"],
            set_={"count": col(MailTraffic.count) + statement.excluded.count},
        )
        session.connection().execute(statement, rows)  # executemany, no ORM bookkeeping
    session.commit()


def _move_cursor(
    session: Session,
    before: Cursor | None,
    after: Cursor,
    now: datetime,
    lines: int,
    unknown: int,
) -> None:
    if before is None:
        if session.get(LogCursor, after.source) is not None:
            session.rollback()
            raise CursorMoved(f"another reader already keeps a position in {after.source}")
        session.add(
            LogCursor(
                source=after.source,
                inode=after.inode,
                position=after.position,
                state=dict(after.state),
                lines=lines,
                unknown=unknown,
                updated_at=now,
            )
        )
        session.flush()
        return
    moved = session.execute(
        update(LogCursor)
        .where(
            col(LogCursor.source) == before.source,
            col(LogCursor.inode) == before.inode,
            col(LogCursor.position) == before.position,
        )
        .values(
            inode=after.inode,
            position=after.position,
            state=dict(after.state),
            updated_at=now,
            lines=col(LogCursor.lines) + lines,
            unknown=col(LogCursor.unknown) + unknown,
        )
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise CursorMoved(f"another reader moved the position in {after.source}; stopping")


@dataclass(frozen=True, slots=True)
class Traffic:
    """What real mail to one domain got over some days."""

    domain: str
    since: date
    until: date
    delivered: Mapping[str, int] = field(default_factory=dict)  # Level → n
    versions: Mapping[str, int] = field(default_factory=dict)  # TLSv1.3 → n
    deferred: Mapping[str, int] = field(default_factory=dict)  # Reason → n
    days: int = 0  # days with any count

    @property
    def deliveries(self) -> int:
        return sum(self.delivered.values())

    @property
    def deferrals(self) -> int:
        return sum(self.deferred.values())

    def below(self, level: str) -> int:
        """Deliveries that the policy ``level`` (strict, relaxed) would not have allowed."""
        good = GOOD_LEVELS.get(level, GOOD_LEVELS["strict"])
        return sum(n for name, n in self.delivered.items() if name not in good)

    def clean_for(self, level: str) -> bool:
        return self.below(level) == 0 and self.deferrals == 0

    def summary(self) -> str:
        """One sentence: "1,204 deliveries in the last 7 days, all over trusted TLS (TLSv1.3)"."""
        span = f"{self.since:%Y-%m-%d} to {self.until:%Y-%m-%d}"
        if not self.deliveries and not self.deferrals:
            return f"No deliveries to {self.domain} in Postfix's log from {span}."
        parts = ", ".join(
            f"{n:,} {name}" for name, n in sorted(self.delivered.items(), key=lambda kv: -kv[1])
        )
        text = f"{self.deliveries:,} deliveries to {self.domain} from {span}"
        text += f" ({parts})" if parts else ""
        if self.versions:
            names = ", ".join(v for v in sorted(self.versions) if v != "none")
            text += f", over {names}" if names else ""
        if self.deferrals:
            why = ", ".join(f"{n:,} {r}" for r, n in sorted(self.deferred.items()))
            text += f"; {self.deferrals:,} deferred for TLS ({why})"
        return text + "."

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "delivered": dict(self.delivered),
            "versions": dict(self.versions),
            "deferred": dict(self.deferred),
            "days": self.days,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Traffic:
        return cls(
            domain=str(data["domain"]),
            since=date.fromisoformat(data["since"]),
            until=date.fromisoformat(data["until"]),
            delivered={str(k): int(v) for k, v in (data.get("delivered") or {}).items()},
            versions={str(k): int(v) for k, v in (data.get("versions") or {}).items()},
            deferred={str(k): int(v) for k, v in (data.get("deferred") or {}).items()},
            days=int(data.get("days") or 0),
        )


def window(now: datetime, days: int) -> tuple[date, date]:
    """The last ``days`` days up to and including ``now``'s (UTC) day."""
    until = now.date()
    return until - timedelta(days=max(1, days) - 1), until


def traffic_by_domain(
    *, session: Session, now: datetime, days: int, domains: Iterable[str] | None = None
) -> dict[str, Traffic]:
    since, until = window(now, days)
    query = select(MailTraffic).where(col(MailTraffic.day) >= since, col(MailTraffic.day) <= until)
    wanted = None if domains is None else sorted(set(domains))
    if wanted is not None:
        if not wanted:
            return {}
        query = query.where(col(MailTraffic.domain).in_(wanted))
    sums: dict[str, dict[str, Counter[str]]] = {}
    seen_days: dict[str, set[date]] = {}
    for row in session.exec(query):
        by_kind = sums.setdefault(row.domain, {k.value: Counter() for k in Kind})
        by_kind.setdefault(row.kind, Counter())[row.name] += row.count
        seen_days.setdefault(row.domain, set()).add(row.day)
    return {
        domain: Traffic(
            domain=domain,
            since=since,
            until=until,
            delivered=dict(k[Kind.DELIVERED.value]),
            versions=dict(k[Kind.VERSION.value]),
            deferred=dict(k[Kind.DEFERRED.value]),
            days=len(seen_days[domain]),
        )
        for domain, k in sums.items()
    }


def traffic_for(*, session: Session, domain: str, now: datetime, days: int) -> Traffic:
    found = traffic_by_domain(session=session, now=now, days=days, domains=[domain])
    since, until = window(now, days)
    return found.get(domain) or Traffic(domain, since, until)


def deferrals_since(
    *, session: Session, domains: Iterable[str] | None, since: date
) -> dict[str, dict[str, int]]:
    """TLS deferrals per domain and reason from day ``since`` on (``None``: every domain)."""
    query = select(MailTraffic).where(
        col(MailTraffic.kind) == Kind.DEFERRED.value, col(MailTraffic.day) >= since
    )
    if domains is not None:
        wanted = sorted(set(domains))
        if not wanted:
            return {}
        query = query.where(col(MailTraffic.domain).in_(wanted))
    out: dict[str, dict[str, int]] = {}
    for row in session.exec(query):
        reasons = out.setdefault(row.domain, {})
        reasons[row.name] = reasons.get(row.name, 0) + row.count
    return out
