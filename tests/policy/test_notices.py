"""The outbox: every decision writes its notice with it, and a notice is taken once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from bot.policy import notices
from bot.policy.approvals import approve, reject
from bot.policy.errors import NotAllowed
from bot.policy.notices import NoticeTopic
from bot.policy.requests import Rules, propose_add_domains
from tests.policy.factories import ANN, BO, CY, is_approver, validated

T0 = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


def _request(session: Session, rules: Rules) -> int:
    request = propose_add_domains(
        session=session,
        requester=ANN,
        entries=[("a.example", validated(session, "a.example", now=T0).id)],
        rules=rules,
        now=T0,
    )
    assert request.id is not None
    return request.id


def test_each_decision_leaves_one_notice_and_a_refused_one_none(session: Session) -> None:
    rid = _request(session, Rules(required_approvals=2))
    with pytest.raises(NotAllowed):
        approve(session=session, request_id=rid, approver=ANN, is_approver=is_approver, now=T0)
    assert notices.undelivered(session=session) == 0  # nothing decided, nothing to tell
    approve(session=session, request_id=rid, approver=BO, is_approver=is_approver, now=T0)
    reject(session=session, request_id=rid, actor=CY, is_approver=is_approver, reason="no", now=T0)
    taken = notices.claim(session=session, now=T0)
    assert [(n.topic, n.request_id) for n in taken] == [
        (NoticeTopic.APPROVAL_RECORDED, rid),
        (NoticeTopic.DECIDED, rid),
    ]


def test_a_claimed_notice_is_not_taken_again_until_its_lease_ends(session: Session) -> None:
    rid = _request(session, Rules())
    approve(session=session, request_id=rid, approver=BO, is_approver=is_approver, now=T0)
    (first,) = notices.claim(session=session, now=T0)
    assert notices.claim(session=session, now=T0 + timedelta(seconds=1)) == []
    (again,) = notices.claim(session=session, now=T0 + notices.LEASE + timedelta(seconds=1))
    assert again.id == first.id
    assert again.id is not None
    notices.delivered(session=session, notice_id=again.id, now=T0)
    assert notices.claim(session=session, now=T0 + timedelta(days=1)) == []
    assert notices.undelivered(session=session) == 0
