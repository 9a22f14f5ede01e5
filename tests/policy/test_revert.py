"""Rollback: an applied request is undone by a new, approved request that inverts exactly it."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.clock import system_clock
from bot.policy import queries
from bot.policy.approvals import Outcome, approve, reject
from bot.policy.errors import InvalidState, NotAllowed
from bot.policy.models import DomainPolicy
from bot.policy.requests import (
    propose_add_domains,
    propose_delete_policy,
    propose_remove_domains,
    revert,
)
from bot.policy.route_requests import propose_add_route
from bot.policy.types import RequestKind
from bot.probe.model import Verdict
from tests.policy.factories import ANN, BO, CY, RULES, is_approver, validated

pytestmark = pytest.mark.db


def _approved(session: Session, request) -> None:
    decision = approve(
        session=session,
        request_id=request.id,
        approver=BO,
        is_approver=is_approver,
        now=system_clock(),
    )
    assert decision.outcome is Outcome.APPLIED


def _add(session: Session, *domains: str, verdict: Verdict = Verdict.STRICT):
    request = propose_add_domains(
        session=session,
        requester=ANN,
        entries=[(d, validated(session, d, verdict).id) for d in domains],
        rules=RULES,
        now=system_clock(),
    )
    _approved(session, request)
    return request


def _active(session: Session) -> list[str]:
    return [p.domain for p in queries.list_policies(session=session)]


def test_reverting_an_add_removes_exactly_those_domains(session: Session) -> None:
    _add(session, "keep.example")
    added = _add(session, "a.example", "b.example")
    undo = revert(
        session=session, request_id=added.id, requester=CY, rules=RULES, now=system_clock()
    )
    assert (undo.kind, undo.reverts_id, undo.state) == (RequestKind.REVERT, added.id, "pending")
    assert [i["op"] for i in undo.items] == ["remove_policy", "remove_policy"]
    assert _active(session) == ["a.example", "b.example", "keep.example"]  # not yet approved
    with pytest.raises(NotAllowed):  # the revert is a request like any other: not by its requester
        approve(
            session=session,
            request_id=undo.id,
            approver=CY,
            is_approver=is_approver,
            now=system_clock(),
        )
    _approved(session, undo)
    assert _active(session) == ["keep.example"]


def test_reverting_a_removal_restores_the_policy_as_it_was(session: Session) -> None:
    _add(session, "a.example", verdict=Verdict.RELAXED)
    before = queries.find_policy(session=session, domain="a.example")
    removal = propose_remove_domains(
        session=session, requester=ANN, domains=["a.example"], rules=RULES, now=system_clock()
    )
    _approved(session, removal)
    assert _active(session) == []
    undo = revert(
        session=session, request_id=removal.id, requester=ANN, rules=RULES, now=system_clock()
    )
    _approved(session, undo)
    after = queries.find_policy(session=session, domain="a.example")
    assert after is not None
    assert after.id != before.id
    assert (after.level, after.mx_hosts, after.validation_id) == (
        before.level,
        before.mx_hosts,
        before.validation_id,
    )
    assert (after.secure_delivery, after.secure_receipt) == (True, True)


def test_reverting_a_partial_delete_restores_the_direction(session: Session) -> None:
    _add(session, "a.example")
    delete = propose_delete_policy(
        session=session,
        requester=ANN,
        rules=RULES,
        secure_delivery=True,
        secure_receipt=False,
        now=system_clock(),
    )
    _approved(session, delete)
    policy = queries.find_policy(session=session, domain="a.example")
    assert (policy.secure_delivery, policy.secure_receipt) == (False, True)
    _approved(
        session,
        revert(
            session=session, request_id=delete.id, requester=ANN, rules=RULES, now=system_clock()
        ),
    )
    session.expire_all()
    policy = queries.find_policy(session=session, domain="a.example")
    assert (policy.secure_delivery, policy.secure_receipt) == (True, True)


def test_reverting_a_route_addition_removes_it(session: Session) -> None:
    request = propose_add_route(
        session=session,
        requester=ANN,
        route="mx.corp.example",
        validation_id=None,
        rules=RULES,
        now=system_clock(),
    )
    _approved(session, request)
    assert len(queries.list_routes(session=session)) == 1
    _approved(
        session,
        revert(
            session=session, request_id=request.id, requester=ANN, rules=RULES, now=system_clock()
        ),
    )
    assert queries.list_routes(session=session) == []


def test_a_revert_can_itself_be_reverted(session: Session) -> None:
    added = _add(session, "a.example")
    undo = revert(
        session=session, request_id=added.id, requester=ANN, rules=RULES, now=system_clock()
    )
    _approved(session, undo)
    _approved(
        session,
        revert(session=session, request_id=undo.id, requester=ANN, rules=RULES, now=system_clock()),
    )
    assert _active(session) == ["a.example"]


def test_only_applied_requests_can_be_reverted(session: Session) -> None:
    pending = propose_add_domains(
        session=session,
        requester=ANN,
        entries=[("a.example", validated(session, "a.example").id)],
        rules=RULES,
        now=system_clock(),
    )
    with pytest.raises(InvalidState, match="only an applied request can be reverted"):
        revert(
            session=session, request_id=pending.id, requester=ANN, rules=RULES, now=system_clock()
        )


def test_one_revert_at_a_time_but_again_after_a_rejected_one(session: Session) -> None:
    added = _add(session, "a.example")
    first = revert(
        session=session, request_id=added.id, requester=ANN, rules=RULES, now=system_clock()
    )
    with pytest.raises(InvalidState, match=f"is pending as #{first.id}"):
        revert(session=session, request_id=added.id, requester=ANN, rules=RULES, now=system_clock())
    reject(
        session=session,
        request_id=first.id,
        actor=BO,
        is_approver=is_approver,
        reason="no",
        now=system_clock(),
    )
    second = revert(
        session=session, request_id=added.id, requester=ANN, rules=RULES, now=system_clock()
    )
    _approved(session, second)
    with pytest.raises(InvalidState, match=f"was applied as #{second.id}"):
        revert(session=session, request_id=added.id, requester=ANN, rules=RULES, now=system_clock())


def test_revert_is_refused_when_the_change_was_changed_since(session: Session) -> None:
    added = _add(session, "a.example")
    _approved(
        session,
        propose_remove_domains(
            session=session, requester=ANN, domains=["a.example"], rules=RULES, now=system_clock()
        ),
    )
    with pytest.raises(InvalidState, match=r"policy of a\.example was removed meanwhile"):
        revert(session=session, request_id=added.id, requester=ANN, rules=RULES, now=system_clock())
    assert session.exec(select(DomainPolicy).where(DomainPolicy.status == "active")).all() == []
