"""Keys of inbound requests already acted on, so a replay or a retry does nothing twice.

The caller names a request by a key that is the same for every copy of it (Slack's
``event_id`` or ``trigger_id``, or a digest of the body) and asks :func:`first_time`
before acting. The key is the row's primary key, so two replicas that receive two
copies at the same moment cannot both be first: one insert wins, the other finds
the row. Keys older than :data:`KEEP` are forgotten; a copy arriving later than
that is refused by its signature's timestamp anyway.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from bot.policy.db import transaction
from bot.policy.models import SeenRequest

KEEP = timedelta(hours=2)  # longer than any replay window (5 min) and Slack's retries


def first_time(*, session: Session, key: str, now: datetime) -> bool:
    """Record ``key``; True if no copy of this request was recorded before."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    with transaction(session):
        # RETURNING, not rowcount: an ORM-enabled INSERT reports rowcount -1 on psycopg
        inserted = session.execute(
            insert(SeenRequest)
            .values(key=key[:128], created_at=now)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(col(SeenRequest.key))
        ).first()
        fresh = inserted is not None
        forget_before(session=session, cutoff=now - KEEP)  # an index range: cheap when empty
    return fresh


def forget_before(*, session: Session, cutoff: datetime) -> int:
    """Drop keys recorded before ``cutoff`` (in the caller's transaction)."""
    done = session.execute(delete(SeenRequest).where(col(SeenRequest.created_at) < cutoff))
    return int(getattr(done, "rowcount", 0))
