"""Reading what must be published from the policy store.

Only policies that are ``active`` and in mode ``enforce`` are published
(``observe`` policies are monitored, not enforced). Values are read as stored
and handed to :func:`bot.export.tables.build_tables`, which re-validates them:
a row with a hostile value cannot reach Postfix.

:class:`DatabaseSource` gives the socketmap its cheap version check and its
incremental reloads: the store's change marker (:mod:`bot.policy.changes`), which
the database bumps on every write to a policy, even one made outside the services.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from bot.export.model import PublishedPolicy
from bot.export.snapshot import LiveTables
from bot.export.tables import Tables
from bot.policy import changes
from bot.policy.db import chunked, new_session
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


def _published_rows(session: Session, ids: list[int] | None) -> dict[int, PublishedPolicy | None]:
    """What each policy publishes now (``None``: nothing), for ``ids`` or for every row."""
    query = select(
        col(DomainPolicy.id),
        col(DomainPolicy.status),
        col(DomainPolicy.mode),
        col(DomainPolicy.domain),
        col(DomainPolicy.level),
        col(DomainPolicy.mx_hosts),
        col(DomainPolicy.secure_delivery),
        col(DomainPolicy.secure_receipt),
        col(DomainPolicy.partner),
    )
    if ids is None:
        batches = [query]
    else:
        batches = [query.where(col(DomainPolicy.id).in_(chunk)) for chunk in chunked(ids)]
    found: dict[int, PublishedPolicy | None] = {}
    for batch in batches:
        for row in session.execute(batch):
            row_id, status, mode, domain, level, mx, delivery, receipt, partner = row
            published = status == RecordStatus.ACTIVE and mode == PolicyMode.ENFORCE
            found[int(row_id)] = (
                _published(domain, level, mx, delivery, receipt, partner) if published else None
            )
    return found


class DatabaseSource:
    """The :class:`bot.export.snapshot.Source` backed by the policy store.

    ``version()`` is the store's change marker (:mod:`bot.policy.changes`): one row
    read by primary key, bumped by the database itself on every write to a policy,
    whether it came through the services or not. ``load()`` reads, at the first call,
    every policy; after that only the policies changed since the version it last
    applied (one indexed range read, then the rows by id in chunks), and applies
    them to its :class:`~bot.export.snapshot.LiveTables`. It reads everything again
    only when more than half of what it holds changed at once (cheaper than by id).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._live: LiveTables | None = None
        self._seq = 0
        self.full_loads = 0
        self.changes_applied = 0

    def version(self) -> Hashable:
        with new_session(self._engine) as session:
            return changes.head(session)

    def load(self) -> tuple[Hashable, Tables]:
        with new_session(self._engine) as session:
            head = changes.head(session)  # read first: the rows are at least this new
            live = self._live
            if live is not None and head != self._seq:
                ids = [
                    policy_id
                    for page in changes.changed_since(
                        session, after=self._seq, upto=head, kind=changes.ChangeKind.POLICY
                    )
                    for _, policy_id in page
                ]
                if len(ids) > max(1000, len(live) // 2):
                    live = None  # most of it changed: one full read is cheaper
                else:
                    rows = _published_rows(session, ids)
                    live.apply({policy_id: rows.get(policy_id) for policy_id in ids})
                    self.changes_applied += len(ids)
            if live is None:
                rows = _published_rows(session, None)
                live = LiveTables.build(
                    (policy_id, policy) for policy_id, policy in rows.items() if policy is not None
                )
                self.full_loads += 1
            self._live, self._seq = live, head
            return head, live.tables


def _as_names(value: Any) -> tuple[str, ...]:
    """The stored JSON as a tuple of strings; anything odd stays visibly odd."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Sequence):
        return (repr(value),)
    return tuple(v if isinstance(v, str) else repr(v) for v in value)
