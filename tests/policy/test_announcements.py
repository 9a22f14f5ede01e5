"""Where a change request was announced: recorded once while pending, read back."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from bot.clock import system_clock
from bot.policy.announcements import announcement_of, record_announcement
from bot.policy.approvals import reject
from bot.policy.requests import Rules
from bot.policy.route_requests import propose_add_route
from bot.policy.types import Actor
from tests.policy.factories import is_approver

pytestmark = pytest.mark.db

WHERE = {"channel": "C0000001", "ts": "1700000000.000100"}


def _pending(session: Session) -> int:
    request = propose_add_route(
        session=session,
        requester=Actor("UANN", "ann"),
        route="mx1.corp.example:25",
        validation_id=None,
        rules=Rules(),
        now=system_clock(),
    )
    assert request.id is not None
    return request.id


def test_a_pending_request_records_where_it_was_announced(session: Session) -> None:
    request_id = _pending(session)
    assert announcement_of(session=session, request_id=request_id) is None
    assert record_announcement(session=session, request_id=request_id, announcement=WHERE)
    session.expire_all()
    assert announcement_of(session=session, request_id=request_id) == WHERE


def test_a_request_decided_before_the_record_keeps_no_announcement(session: Session) -> None:
    request_id = _pending(session)
    reject(
        session=session,
        request_id=request_id,
        actor=Actor("UANN", "ann"),
        is_approver=is_approver,
        reason="withdrawn",
        now=system_clock(),
    )
    assert not record_announcement(session=session, request_id=request_id, announcement=WHERE)
    session.expire_all()
    assert announcement_of(session=session, request_id=request_id) is None


def test_an_unknown_request_has_no_announcement(session: Session) -> None:
    assert not record_announcement(session=session, request_id=424242, announcement=WHERE)
    assert announcement_of(session=session, request_id=424242) is None
