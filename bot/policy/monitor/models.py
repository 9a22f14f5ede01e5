"""The monitor's tables: one row per watched item (its schedule and memory), one per alert.

``monitor_item`` holds, for each active policy and inbound route, when it is
next due (``next_check_at``), the lease of the replica checking it now
(``lease_until``/``lease_owner``; ``swept_by`` names the last sweep that claimed it, so
that ``--all`` takes each item once) and what the alert state machine remembers
(unreachable streak, clean-since, last verdict). ``monitor_alert`` holds every
alert raised, open until ``resolved_at`` is set; a partial unique index keeps
at most one open alert per item and condition, whatever replicas do.
Delivery is tracked per alert (``sent_at``, ``resolve_sent_at``) so an alert
whose message failed is delivered on the next sweep; ``attempts`` and
``last_error`` record failures, and an alert the sink refused five times in a
row is given up (logged) so that it cannot block the ones behind it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from bot.policy.types import UTCDateTime

_OPEN = text("resolved_at IS NULL")
# An alert whose message, or whose follow-up, is still to be delivered.
UNDELIVERED = text(
    "(sent_at IS NULL"
    " OR (resolved_at IS NOT NULL AND notify_resolution AND resolve_sent_at IS NULL))"
)


class MonitorItem(SQLModel, table=True):
    """The schedule and state-machine memory of one watched policy or route."""

    __tablename__ = "monitor_item"
    __table_args__ = (
        UniqueConstraint("subject", "subject_id", name="uq_monitor_item_subject"),
        Index("ix_monitor_item_verdict_name", "last_verdict", "name"),  # the App Home's list
    )

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=16)  # SubjectKind
    subject_id: int
    name: str = Field(max_length=300)  # the domain or route label, for logs and queries
    next_check_at: datetime = Field(sa_type=UTCDateTime, index=True)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_owner: str | None = Field(default=None, max_length=100)
    swept_by: str | None = Field(default=None, max_length=100)  # the sweep that last claimed it
    last_checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_verdict: str | None = Field(default=None, max_length=16)
    last_validation_id: int | None = Field(default=None, foreign_key="validation.id")
    unreachable_streak: int = Field(default=0)
    clean_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    checks: int = Field(default=0)
    created_at: datetime = Field(sa_type=UTCDateTime)  # from the caller's clock


class MonitorAlert(SQLModel, table=True):
    """One alert: raised, delivered, resolved, its follow-up delivered."""

    __tablename__ = "monitor_alert"
    __table_args__ = (
        # what delivery looks for, however many alerts were delivered before
        Index(
            "ix_monitor_alert_undelivered",
            "attempts",
            "raised_at",
            sqlite_where=UNDELIVERED,
            postgresql_where=UNDELIVERED,
        ),
        Index(
            "uq_monitor_alert_open",
            "subject",
            "subject_id",
            "condition",
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
    )

    id: str = Field(primary_key=True, max_length=36)  # Alert.id (a UUID)
    subject: str = Field(max_length=16)
    subject_id: int = Field(index=True)
    name: str = Field(max_length=300)
    condition: str = Field(max_length=32)
    fingerprint: str = Field(max_length=2000)
    severity: str = Field(max_length=16)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # Alert.to_dict()
    validation_id: int | None = Field(default=None, foreign_key="validation.id")
    change_request_id: int | None = Field(default=None, foreign_key="change_request.id")
    raised_at: datetime = Field(sa_type=UTCDateTime, index=True)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolution: str | None = Field(default=None, max_length=1000)
    notify_resolution: bool = Field(default=True)  # False when superseded: no follow-up
    message_ref: str | None = Field(default=None, max_length=100)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolve_sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = Field(default=0)  # failed deliveries in a row; given up at MAX_ATTEMPTS
    last_error: str | None = Field(default=None, max_length=500)


class MonitorSync(SQLModel, table=True):
    """The single row saying up to which change (:mod:`bot.policy.changes`) the items
    follow the policies and routes: the item sync reads only what changed after it."""

    __tablename__ = "monitor_sync"

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(default=0, sa_type=BigInteger)
