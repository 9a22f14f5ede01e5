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

from collections.abc import Hashable, Sequence
from typing import Any

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from bot.export.model import PublishedPolicy
from bot.export.tables import Tables, build_tables
from bot.policy.db import new_session
from bot.policy.models import AuditHead, DomainPolicy
from bot.policy.types import PolicyMode, RecordStatus


def load_published(session: Session) -> list[PublishedPolicy]:
    """Every active policy in enforce mode, as stored (not yet validated)."""
    query = (
        select(
            col(DomainPolicy.domain),
            col(DomainPolicy.level),
            col(DomainPolicy.mx_hosts),
            col(DomainPolicy.secure_delivery),
            col(DomainPolicy.secure_receipt),
        )
        .where(col(DomainPolicy.status) == RecordStatus.ACTIVE)
        .where(col(DomainPolicy.mode) == PolicyMode.ENFORCE)
        .order_by(col(DomainPolicy.domain), col(DomainPolicy.id))
    )
    return [
        PublishedPolicy(
            domain=domain,
            level=level,
            mx_hosts=_as_names(mx_hosts),
            delivery=bool(delivery),
            receipt=bool(receipt),
        )
        for domain, level, mx_hosts, delivery, receipt in session.execute(query)
    ]


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


class DatabaseSource:
    """The :class:`bot.export.snapshot.Source` backed by the policy store.

    ``version()`` reads the audit head (one row by primary key) on every call and
    the policies' fingerprint (a scan of the policy table) on every
    ``fingerprint_every``-th call, so the frequent check stays cheap.
    """

    def __init__(self, engine: Engine, *, fingerprint_every: int = 20) -> None:
        self._engine = engine
        self._every = fingerprint_every
        self._calls = 0
        self._fingerprint: tuple[int, str] | None = None

    def version(self) -> Hashable:
        with new_session(self._engine) as session:
            return self._version(session)

    def load(self) -> tuple[Hashable, Tables]:
        with new_session(self._engine) as session:
            self._calls = 0  # always a fresh fingerprint with a load
            version = self._version(session)  # read first: rows are at least this new
            return version, build_tables(load_published(session))

    def _version(self, session: Session) -> Hashable:
        seq, _ = audit_head(session)
        if self._fingerprint is None or self._calls % self._every == 0:
            self._fingerprint = policy_fingerprint(session)
        self._calls += 1
        return (seq, *self._fingerprint)


def _as_names(value: Any) -> tuple[str, ...]:
    """The stored JSON as a tuple of strings; anything odd stays visibly odd."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Sequence):
        return (repr(value),)
    return tuple(v if isinstance(v, str) else repr(v) for v in value)
