"""Where a change request was announced for approval, so its message can be updated later.

The store does not know what a channel or a message is: an announcement is a
small JSON object the caller chooses (the Slack layer stores ``{"channel": …,
"ts": …}``). It is recorded once, after the message was posted, by one
conditional update that only touches a request still *pending*: a request
decided between the post and the record keeps no announcement, and the caller,
told so, shows the decision at once instead.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from bot.policy.db import transaction
from bot.policy.models import ChangeRequest
from bot.policy.types import RequestState


def record_announcement(*, session: Session, request_id: int, announcement: dict[str, Any]) -> bool:
    """Store where request ``request_id`` was announced; False if it is no longer pending."""
    with transaction(session):
        changed = session.execute(
            update(ChangeRequest)
            .where(
                col(ChangeRequest.id) == request_id,
                col(ChangeRequest.state) == RequestState.PENDING,
            )
            .values(announcement=announcement, lock=col(ChangeRequest.lock) + 1)
            .execution_options(synchronize_session=False)
        )
    return bool(getattr(changed, "rowcount", 0))


def announcement_of(*, session: Session, request_id: int) -> dict[str, Any] | None:
    """Where request ``request_id`` was announced (None: never, or unknown request)."""
    request = session.get(ChangeRequest, request_id)
    return dict(request.announcement) if request and request.announcement else None
