"""The outbox: who must be told about a decision, kept in the decision's transaction.

A decision on a change request (an approval recorded, approved, rejected, expired,
superseded) writes a :class:`~bot.policy.models.Notice` in the same transaction as
the decision itself. Telling people is the caller's part (the Slack layer updates
the approval message and writes to the requester): it :func:`claim` s due notices
with a short lease, delivers them, and marks each :func:`delivered`, or
:func:`failed` to try again later. A process killed between the decision and the
messages leaves its notices behind; the lease runs out and the next delivery, on
any replica, picks them up. Delivery is at least once: whoever delivers rebuilds
the message from the request as it is then, so a second delivery repeats the same
words.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from bot.policy.db import transaction
from bot.policy.models import Notice

LEASE = timedelta(seconds=60)  # how long a claimed notice is left to its claimer
RETRY_AFTER = timedelta(seconds=30)
MAX_ATTEMPTS = 10  # then it is given up (logged), and blocks nothing


class NoticeTopic(enum.StrEnum):
    APPROVAL_RECORDED = "approval_recorded"  # more approvals needed: update the message
    DECIDED = "decided"  # closed: update the message and tell the requester


def enqueue(*, session: Session, topic: NoticeTopic, request_id: int, now: datetime) -> None:
    """Add a notice in the caller's transaction (the caller commits it with the decision)."""
    session.add(Notice(topic=str(topic), request_id=request_id, created_at=now))


def claim(*, session: Session, now: datetime, limit: int = 50) -> list[Notice]:
    """Take up to ``limit`` undelivered notices whose lease is free, oldest first.

    Each is taken by one conditional update, so two replicas never take the same one.
    """
    free = or_(col(Notice.claimed_until).is_(None), col(Notice.claimed_until) <= now)
    query = (
        select(Notice.id)
        .where(col(Notice.delivered_at).is_(None), free, col(Notice.attempts) < MAX_ATTEMPTS)
        .order_by(col(Notice.id))
        .limit(limit)
    )
    taken: list[Notice] = []
    with transaction(session):
        for notice_id in list(session.exec(query)):
            done = session.execute(
                update(Notice)
                .where(col(Notice.id) == notice_id, col(Notice.delivered_at).is_(None), free)
                .values(claimed_until=now + LEASE, attempts=col(Notice.attempts) + 1)
                .execution_options(synchronize_session=False)
            )
            if getattr(done, "rowcount", 0) == 1:
                notice = session.get(Notice, notice_id, populate_existing=True)
                assert notice is not None
                taken.append(notice)
    return taken


def delivered(*, session: Session, notice_id: int, now: datetime) -> None:
    with transaction(session):
        session.execute(update(Notice).where(col(Notice.id) == notice_id).values(delivered_at=now))


def failed(*, session: Session, notice_id: int, now: datetime, error: str) -> None:
    """Leave the notice for a later delivery, ``RETRY_AFTER`` from ``now``."""
    with transaction(session):
        session.execute(
            update(Notice)
            .where(col(Notice.id) == notice_id)
            .values(claimed_until=now + RETRY_AFTER, last_error=error[:500])
        )


def undelivered(*, session: Session) -> int:
    """How many notices still wait (for tests and ``tlsbot doctor``)."""
    query = select(Notice.id).where(col(Notice.delivered_at).is_(None))
    return len(list(session.exec(query)))
