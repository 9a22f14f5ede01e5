"""Reading what must be published from the policy store.

Only policies that are ``active`` and in mode ``enforce`` are published
(``observe`` policies are monitored, not enforced). Values are read as stored
and handed to :func:`bot.export.tables.build_tables`, which re-validates them:
a row with a hostile value cannot reach Postfix.

:class:`DatabaseSource` gives the socketmap its cheap version check: the audit
chain's head (every approved change appends an audit event in the same
transaction), plus, less often, the count and newest ``updated_at`` of the
policies, so that even a change made outside the services is noticed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from bot.export.model import PublishedPolicy
from bot.export.tables import Tables, build_tables
from bot.policy.db import new_session
from bot.policy.models import AuditHead, DomainPolicy
from bot.policy.types import PolicyMode, RecordStatus
from bot.probe.partner import PartnerTls


def load_published(session: Session) -> list[PublishedPolicy]:
    """Every active policy in enforce mode, as stored (not yet validated)."""
    query = (
        select(
            col(DomainPolicy.domain),
            col(DomainPolicy.level),
            col(DomainPolicy.mx_hosts),
            col(DomainPolicy.secure_delivery),
            col(DomainPolicy.secure_receipt),
            col(DomainPolicy.partner),
        )
        .where(col(DomainPolicy.status) == RecordStatus.ACTIVE)
        .where(col(DomainPolicy.mode) == PolicyMode.ENFORCE)
        .order_by(col(DomainPolicy.domain), col(DomainPolicy.id))
    )
    return [
        _published(domain, level, mx_hosts, delivery, receipt, partner)
        for domain, level, mx_hosts, delivery, receipt, partner in session.execute(query)
    ]


def _published(
    domain: Any, level: Any, mx: Any, delivery: Any, receipt: Any, partner: Any
) -> PublishedPolicy:
    """One stored row as it must be published (its values validated later, by names)."""
    published = PartnerTls.from_dict(partner)
    return PublishedPolicy(
        domain=domain,
        level=level,
        mx_hosts=_as_names(mx),
        delivery=bool(delivery),
        receipt=bool(receipt),
        dane=published.dane,
        sts_mx=published.sts_mx if published.sts_enforced else (),
    )


def audit_head(session: Session) -> tuple[int, str]:
    """The newest audit event's sequence number and hash (0 and zeros when empty)."""
    row = session.execute(
        select(col(AuditHead.seq), col(AuditHead.hash)).where(col(AuditHead.id) == 1)
    ).first()
    return (0, "0" * 64) if row is None else (int(row[0]), str(row[1]))


def policy_fingerprint(session: Session) -> tuple[int, str]:
    """Count and newest ``updated_at`` of all policies: catches edits made past the services."""
    count, newest = session.execute(
        select(func.count(), func.max(col(DomainPolicy.updated_at))).select_from(DomainPolicy)
    ).one()
    return int(count), str(newest)


def load_changes(session: Session, *, since: datetime | None) -> list[Change]:
    """Every policy row updated after ``since`` (all rows if ``None``), published or not."""
    query = select(
        col(DomainPolicy.id),
        col(DomainPolicy.updated_at),
        col(DomainPolicy.status),
        col(DomainPolicy.mode),
        col(DomainPolicy.domain),
        col(DomainPolicy.level),
        col(DomainPolicy.mx_hosts),
        col(DomainPolicy.secure_delivery),
        col(DomainPolicy.secure_receipt),
        col(DomainPolicy.partner),
    )
    if since is not None:
        query = query.where(col(DomainPolicy.updated_at) > since)
    changes = []
    for row in session.execute(query):
        row_id, updated, status, mode, domain, level, mx, delivery, receipt, partner = row
        published = status == RecordStatus.ACTIVE and mode == PolicyMode.ENFORCE
        policy = _published(domain, level, mx, delivery, receipt, partner)
        changes.append(Change(int(row_id), updated, policy if published else None))
    return changes


@dataclass(frozen=True)
class Change:
    id: int
    updated_at: datetime | None
    policy: PublishedPolicy | None  # None: no longer published


_EPOCH = datetime.min.replace(tzinfo=UTC)


class DatabaseSource:
    """The :class:`bot.export.snapshot.Source` backed by the policy store.

    ``version()`` reads the audit head (one row by primary key) on every call and
    the policies' fingerprint (a scan of the policy table) on every
    ``fingerprint_every``-th call, so the frequent check stays cheap.

    ``load()`` reads only the rows updated since the last load (less an overlap of
    ``OVERLAP``, for clocks and transactions that commit late) and rebuilds the
    tables from the policies it keeps in memory; a full read happens at the
    first load, when the rows it knows no longer add up to the table's row count
    (a row inserted with an old timestamp, or deleted), and every ``FULL_EVERY``
    seconds as a backstop for edits made past the services.
    """

    OVERLAP = timedelta(minutes=5)
    FULL_EVERY = 300.0

    def __init__(
        self,
        engine: Engine,
        *,
        fingerprint_every: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._every = fingerprint_every
        self._clock = clock
        self._calls = 0
        self._fingerprint: tuple[int, str] | None = None
        self._policies: dict[int, PublishedPolicy] | None = None
        self._known: set[int] = set()
        self._watermark = _EPOCH
        self._full_at = 0.0
        self._seq = 0
        self.full_loads = 0

    def version(self) -> Hashable:
        with new_session(self._engine) as session:
            return self._version(session)

    def load(self) -> tuple[Hashable, Tables]:
        with new_session(self._engine) as session:
            self._calls = 0  # always a fresh fingerprint with a load
            self._version(session)  # read first: rows are at least this new
            assert self._fingerprint is not None
            rows = self._fingerprint[0]
            if self._policies is not None and not self._full_due():
                since = self._watermark - self.OVERLAP
                policies, known = self._apply(load_changes(session, since=since), self._policies)
                if known == rows:  # every row accounted for: the increment is complete
                    self._policies = policies
                else:  # a row appeared with an old timestamp, or one was deleted
                    self._policies = None
            if self._policies is None or self._full_due():
                self._known.clear()
                self._policies, _ = self._apply(load_changes(session, since=None), {})
                self._full_at = self._clock()
                self.full_loads += 1
            policies = self._policies
            version = (self._seq, *self._fingerprint, self._full_due())
            return version, build_tables(policies[key] for key in sorted(policies))

    def _apply(
        self, changes: list[Change], policies: dict[int, PublishedPolicy]
    ) -> tuple[dict[int, PublishedPolicy], int]:
        for change in changes:
            self._known.add(change.id)
            if change.policy is None:
                policies.pop(change.id, None)
            else:
                policies[change.id] = change.policy
            if change.updated_at is not None:
                self._watermark = max(self._watermark, change.updated_at)
        return policies, len(self._known)

    def _full_due(self) -> bool:
        return self._clock() - self._full_at >= self.FULL_EVERY

    def _version(self, session: Session) -> Hashable:
        self._seq, _ = audit_head(session)
        if self._fingerprint is None or self._calls % self._every == 0:
            self._fingerprint = policy_fingerprint(session)
        self._calls += 1
        return (self._seq, *self._fingerprint, self._full_due())


def _as_names(value: Any) -> tuple[str, ...]:
    """The stored JSON as a tuple of strings; anything odd stays visibly odd."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Sequence):
        return (repr(value),)
    return tuple(v if isinstance(v, str) else repr(v) for v in value)
