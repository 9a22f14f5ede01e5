"""Small shared values of the policy store: the actor, the enums, the UTC column type.

"Now" is not here: it comes from the caller's clock (:mod:`bot.clock`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from bot.policy.levels import PolicyLevel, PolicyMode

__all__ = ["PolicyLevel", "PolicyMode"]  # and the rest below; the two enums live in levels


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: a Slack user id (``U…``, or ``system``) and a display name."""

    id: str
    name: str

    def __str__(self) -> str:
        return f"{self.name} ({self.id})" if self.name and self.name != self.id else self.id


SYSTEM = Actor("system", "tlsbot")


class RecordStatus(enum.StrEnum):
    ACTIVE = "active"
    REMOVED = "removed"


class RequestKind(enum.StrEnum):
    """What a change request does. Stored as a plain string: new kinds need no migration."""

    ADD_DOMAINS = "add_domains"
    REMOVE_DOMAINS = "remove_domains"
    ADD_ROUTE = "add_route"
    REMOVE_ROUTE = "remove_route"
    DELETE_POLICY = "delete_policy"
    REVERT = "revert"


class RequestState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


class DraftState(enum.StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"
    DISCARDED = "discarded"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite as on PostgreSQL.

    SQLite keeps no zone, so values are stored as naive UTC there and given
    their zone back on the way out; naive datetimes are refused on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC timestamp is needed")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
