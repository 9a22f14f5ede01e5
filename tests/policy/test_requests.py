"""Change requests: proposing, the approval rules, applying, rejecting, expiry, supersession."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from bot.policy import queries
from bot.policy.approvals import Outcome, approve, expire_due, reject
from bot.policy.audit import AuditAction, events, verify
from bot.policy.errors import InvalidInput, InvalidState, NotAllowed, NotFound
from bot.policy.models import ChangeRequest, DomainPolicy, InboundRoute
from bot.policy.requests import (
    Rules,
    propose_add_domains,
    propose_delete_policy,
    propose_remove_domains,
)
from bot.policy.route_requests import propose_add_route, propose_remove_route
from bot.policy.types import RequestState
from bot.policy.validations import record_validation
from bot.probe.model import Verdict
from tests.policy.factories import (
    ANN,
    BO,
    CY,
    EVE,
    RULES,
    is_approver,
    route_result,
    validated,
)

pytestmark = pytest.mark.db

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def _add(
    session: Session, *domains: str, rules: Rules = RULES, now: datetime = T0
) -> ChangeRequest:
    entries = [(d, validated(session, d, now=now).id) for d in domains]
    return propose_add_domains(
        session=session, requester=ANN, entries=entries, rules=rules, now=now
    )


def _policies(session: Session) -> list[str]:
    return [p.domain for p in queries.list_policies(session=session)]


def _actions(session: Session, request_id: int) -> list[str]:
    return [e.action for e in reversed(events(session=session, request_id=request_id))]


def test_proposal_is_pending_with_evidence_and_an_expiry(session: Session) -> None:
    request = _add(session, "a.example", "b.example")
    assert request.state == RequestState.PENDING
    assert request.expires_at == T0 + timedelta(hours=72)
    item = request.items[0]
    assert (item["op"], item["domain"], item["level"]) == ("add_policy", "a.example", "strict")
    assert item["evidence"]["verdict"] == "strict"
    assert item["evidence"]["mx_hosts"] == ["mx1.a.example"]
    assert _policies(session) == []  # nothing applied before approval
    assert _actions(session, request.id) == [AuditAction.REQUEST_CREATED]


def test_approval_applies_the_change_in_the_same_step(session: Session) -> None:
    request = _add(session, "a.example", "b.example")
    decision = approve(
        session=session, request_id=request.id, approver=BO, is_approver=is_approver, now=T0
    )
    assert decision.outcome is Outcome.APPLIED
    assert decision.request.state == RequestState.APPROVED
    assert _policies(session) == ["a.example", "b.example"]
    policy = queries.find_policy(session=session, domain="a.example")
    assert policy is not None
    assert (policy.level, policy.mx_hosts) == ("strict", ["mx1.a.example"])
    assert (policy.secure_delivery, policy.secure_receipt, policy.mode) == (True, True, "enforce")
    assert (policy.requested_by_id, policy.approved_by_id) == (ANN.id, BO.id)
    assert policy.request_id == request.id
    assert _actions(session, request.id) == [
        AuditAction.REQUEST_CREATED,
        AuditAction.POLICY_ADDED,
        AuditAction.POLICY_ADDED,
        AuditAction.REQUEST_APPROVED,
    ]
    assert verify(session=session).ok


@pytest.mark.parametrize(
    ("approver", "error", "match"),
    [
        pytest.param(ANN, NotAllowed, "your own", id="requester-approves-own"),
        pytest.param(EVE, NotAllowed, "Only approvers", id="not-an-approver"),
    ],
)
def test_who_may_not_approve(session: Session, approver, error, match) -> None:
    request = _add(session, "a.example")
    with pytest.raises(error, match=match):
        approve(
            session=session,
            request_id=request.id,
            approver=approver,
            is_approver=is_approver,
            now=T0,
        )
    session.expire_all()
    assert queries.get_request(session=session, request_id=request.id).state == "pending"
    assert _policies(session) == []


def test_unknown_request_id_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound, match="no change request #4242"):
        approve(session=session, request_id=4242, approver=BO, is_approver=is_approver, now=T0)


def test_double_click_changes_the_state_once(session: Session) -> None:
    request = _add(session, "a.example")
    approve(session=session, request_id=request.id, approver=BO, is_approver=is_approver, now=T0)
    with pytest.raises(InvalidState, match="already approved by Bo Approver"):
        approve(
            session=session, request_id=request.id, approver=BO, is_approver=is_approver, now=T0
        )
    assert _actions(session, request.id).count(AuditAction.REQUEST_APPROVED) == 1


def test_two_approvals_needed_from_distinct_approvers(session: Session) -> None:
    request = _add(session, "a.example", rules=Rules(required_approvals=2))
    first = approve(
        session=session, request_id=request.id, approver=BO, is_approver=is_approver, now=T0
    )
    assert (first.outcome, first.approvals) == (Outcome.WAITING, 1)
    assert "needs 1 more" in first.message
    assert _policies(session) == []
    with pytest.raises(InvalidState, match="already approved change request"):
        approve(
            session=session, request_id=request.id, approver=BO, is_approver=is_approver, now=T0
        )
    with pytest.raises(NotAllowed):
        approve(
            session=session, request_id=request.id, approver=ANN, is_approver=is_approver, now=T0
        )
    second = approve(
        session=session, request_id=request.id, approver=CY, is_approver=is_approver, now=T0
    )
    assert (second.outcome, second.approvals) == (Outcome.APPLIED, 2)
    assert _policies(session) == ["a.example"]
    assert _actions(session, request.id) == [
        AuditAction.REQUEST_CREATED,
        AuditAction.APPROVAL_RECORDED,
        AuditAction.POLICY_ADDED,
        AuditAction.REQUEST_APPROVED,
    ]


def test_rejection_needs_a_reason_and_closes_the_request(session: Session) -> None:
    request = _add(session, "a.example")
    with pytest.raises(InvalidInput, match="Give a reason"):
        reject(
            session=session,
            request_id=request.id,
            actor=BO,
            is_approver=is_approver,
            reason=" ",
            now=T0,
        )
    decision = reject(
        session=session,
        request_id=request.id,
        actor=BO,
        is_approver=is_approver,
        reason="typo",
        now=T0,
    )
    assert decision.outcome is Outcome.REJECTED
    assert (decision.request.state, decision.request.reason) == ("rejected", "typo")
    with pytest.raises(InvalidState, match="rejected by Bo Approver: typo"):
        approve(
            session=session, request_id=request.id, approver=CY, is_approver=is_approver, now=T0
        )
    assert _policies(session) == []


def test_requester_may_withdraw_but_outsiders_may_not_reject(session: Session) -> None:
    request = _add(session, "a.example")
    with pytest.raises(NotAllowed):
        reject(
            session=session,
            request_id=request.id,
            actor=EVE,
            is_approver=is_approver,
            reason="x",
            now=T0,
        )
    decision = reject(
        session=session,
        request_id=request.id,
        actor=ANN,
        is_approver=is_approver,
        reason="oops",
        now=T0,
    )
    assert decision.request.state == RequestState.REJECTED


def test_approval_after_the_time_limit_expires_the_request(session: Session) -> None:
    request = _add(session, "a.example")
    late = T0 + timedelta(hours=72, seconds=1)
    decision = approve(
        session=session, request_id=request.id, approver=BO, is_approver=is_approver, now=late
    )
    assert decision.outcome is Outcome.EXPIRED
    assert decision.request.state == RequestState.EXPIRED
    assert _policies(session) == []
    assert _actions(session, request.id)[-1] == AuditAction.REQUEST_EXPIRED


def test_expire_due_expires_only_requests_past_their_limit(session: Session) -> None:
    old = _add(session, "a.example", now=T0)
    new = _add(session, "b.example", now=T0 + timedelta(hours=10))
    decisions = expire_due(session=session, now=T0 + timedelta(hours=73))
    assert [d.request.id for d in decisions] == [old.id]
    session.expire_all()
    assert queries.get_request(session=session, request_id=old.id).state == "expired"
    assert queries.get_request(session=session, request_id=new.id).state == "pending"
    assert expire_due(session=session, now=T0 + timedelta(hours=73)) == []


@pytest.mark.usefixtures("overlapping_pending")
def test_request_is_superseded_when_its_subject_changed_meanwhile(session: Session) -> None:
    approve(
        session=session,
        request_id=_add(session, "a.example", "b.example").id,
        approver=BO,
        is_approver=is_approver,
        now=T0,
    )
    remove_a = propose_remove_domains(
        session=session, requester=ANN, domains=["b.example", "A.EXAMPLE."], rules=RULES, now=T0
    )
    delete_all = propose_delete_policy(session=session, requester=ANN, rules=RULES, now=T0)
    approve(session=session, request_id=delete_all.id, approver=BO, is_approver=is_approver, now=T0)
    decision = approve(
        session=session, request_id=remove_a.id, approver=BO, is_approver=is_approver, now=T0
    )
    assert decision.outcome is Outcome.SUPERSEDED
    assert decision.request.reason == "the TLS policy of b.example was removed meanwhile"
    assert "superseded: the TLS policy of b.example" in decision.message
    assert _actions(session, remove_a.id)[-1] == AuditAction.REQUEST_SUPERSEDED


def test_adding_a_domain_that_has_a_policy_is_refused(session: Session) -> None:
    approve(
        session=session,
        request_id=_add(session, "a.example").id,
        approver=BO,
        is_approver=is_approver,
        now=T0,
    )
    with pytest.raises(InvalidState, match=r"a\.example already has a TLS policy"):
        _add(session, "a.example")


@pytest.mark.usefixtures("overlapping_pending")
def test_two_pending_adds_of_one_domain_first_wins_second_superseded(session: Session) -> None:
    first, second = _add(session, "a.example"), _add(session, "a.example")
    approve(session=session, request_id=first.id, approver=BO, is_approver=is_approver, now=T0)
    decision = approve(
        session=session, request_id=second.id, approver=BO, is_approver=is_approver, now=T0
    )
    assert decision.outcome is Outcome.SUPERSEDED
    assert decision.request.reason == "a.example already has a TLS policy"
    assert len(session.exec(select(DomainPolicy)).all()) == 1


@pytest.mark.parametrize(
    ("verdict", "ok"),
    [
        pytest.param(Verdict.STRICT, True, id="strict"),
        pytest.param(Verdict.RELAXED, True, id="relaxed"),
        pytest.param(Verdict.UNSUPPORTED, False, id="unsupported"),
        pytest.param(Verdict.UNREACHABLE, False, id="unreachable"),
    ],
)
def test_only_strict_or_relaxed_validations_admit_a_domain(session: Session, verdict, ok) -> None:
    validation = validated(session, "a.example", verdict, now=T0)
    entries = [("a.example", validation.id)]
    if ok:
        request = propose_add_domains(
            session=session, requester=ANN, entries=entries, rules=RULES, now=T0
        )
        assert request.items[0]["level"] == verdict.value
    else:
        with pytest.raises(InvalidInput, match="only Strict or Relaxed"):
            propose_add_domains(
                session=session, requester=ANN, entries=entries, rules=RULES, now=T0
            )
        assert session.exec(select(ChangeRequest)).all() == []


def test_validation_of_another_domain_is_refused(session: Session) -> None:
    validation = validated(session, "a.example", now=T0)
    with pytest.raises(InvalidInput, match=r"is of a\.example, not b\.example"):
        propose_add_domains(
            session=session,
            requester=ANN,
            entries=[("b.example", validation.id)],
            rules=RULES,
            now=T0,
        )


def test_removing_a_domain_without_policy_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound, match=r"c\.example has no TLS policy"):
        propose_remove_domains(
            session=session, requester=ANN, domains=["c.example"], rules=RULES, now=T0
        )


def test_remove_domains_applies(session: Session) -> None:
    approve(
        session=session,
        request_id=_add(session, "a.example", "b.example").id,
        approver=BO,
        is_approver=is_approver,
        now=T0,
    )
    request = propose_remove_domains(
        session=session, requester=ANN, domains=["a.example"], rules=RULES, now=T0
    )
    approve(session=session, request_id=request.id, approver=CY, is_approver=is_approver, now=T0)
    assert _policies(session) == ["b.example"]
    removed = session.exec(select(DomainPolicy).where(DomainPolicy.domain == "a.example")).one()
    assert removed.status == "removed"
    assert removed.removed_at is not None


def test_routes_are_added_with_their_validation_and_removed(session: Session) -> None:
    validation = record_validation(
        session=session,
        result=route_result("mx.corp.example:2525", Verdict.RELAXED),
        actor=ANN,
        now=T0,
    )
    request = propose_add_route(
        session=session,
        requester=ANN,
        route="MX.corp.example:2525",
        validation_id=validation.id,
        rules=RULES,
        now=T0,
    )
    assert request.items[0]["subject"] == "mx.corp.example:2525"
    approve(session=session, request_id=request.id, approver=BO, is_approver=is_approver, now=T0)
    (route,) = queries.list_routes(session=session)
    assert (route.host, route.port, route.last_verdict) == ("mx.corp.example", 2525, "relaxed")
    summary = queries.summary(session=session)
    assert (summary.routes, summary.routes_ready) == (1, True)
    # a new validation of an existing route updates its last verdict
    record_validation(
        session=session,
        result=route_result("mx.corp.example:2525", Verdict.UNSUPPORTED),
        actor=ANN,
        now=T0,
    )
    session.expire_all()
    assert queries.list_routes(session=session)[0].last_verdict == "unsupported"
    assert queries.summary(session=session).routes_ready is False
    removal = propose_remove_route(
        session=session, requester=ANN, route="mx.corp.example:2525", rules=RULES, now=T0
    )
    approve(session=session, request_id=removal.id, approver=BO, is_approver=is_approver, now=T0)
    assert queries.list_routes(session=session) == []
    assert session.exec(select(InboundRoute)).one().status == "removed"


@pytest.mark.parametrize(
    ("route", "error"),
    [
        pytest.param("mx .corp.example", InvalidInput, id="space"),
        pytest.param("mx.corp.example:99999", InvalidInput, id="bad-port"),
        pytest.param("", InvalidInput, id="empty"),
    ],
)
def test_bad_routes_are_refused(session: Session, route: str, error) -> None:
    with pytest.raises(error):
        propose_add_route(
            session=session, requester=ANN, route=route, validation_id=None, rules=RULES, now=T0
        )


def test_removing_an_unknown_route_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound, match=r"no inbound route mx\.corp\.example:25"):
        propose_remove_route(
            session=session, requester=ANN, route="mx.corp.example", rules=RULES, now=T0
        )


def test_delete_policy_removes_every_domain_in_both_directions(session: Session) -> None:
    approve(
        session=session,
        request_id=_add(session, "a.example", "b.example").id,
        approver=BO,
        is_approver=is_approver,
        now=T0,
    )
    request = propose_delete_policy(session=session, requester=ANN, rules=RULES, now=T0)
    assert [i["subject"] for i in request.items] == ["a.example", "b.example"]
    approve(session=session, request_id=request.id, approver=BO, is_approver=is_approver, now=T0)
    assert _policies(session) == []
    assert AuditAction.POLICY_DELETED in _actions(session, request.id)
    with pytest.raises(InvalidState, match="no TLS policy to delete"):
        propose_delete_policy(session=session, requester=ANN, rules=RULES, now=T0)


def test_delete_secure_receipt_only_keeps_secure_delivery(session: Session) -> None:
    approve(
        session=session,
        request_id=_add(session, "a.example").id,
        approver=BO,
        is_approver=is_approver,
        now=T0,
    )
    request = propose_delete_policy(
        session=session,
        requester=ANN,
        rules=RULES,
        secure_delivery=False,
        secure_receipt=True,
        now=T0,
    )
    approve(session=session, request_id=request.id, approver=BO, is_approver=is_approver, now=T0)
    policy = queries.find_policy(session=session, domain="a.example")
    assert policy is not None
    assert (policy.secure_delivery, policy.secure_receipt, policy.version) == (True, False, 2)


def test_rules_come_from_settings() -> None:
    from bot.config import Settings

    settings = Settings.from_env(
        {"TLSBOT_REQUIRED_APPROVALS": "2", "TLSBOT_REQUEST_TTL_HOURS": "5", "TLSBOT_EHLO_NAME": "x"}
    )
    assert Rules.from_settings(settings) == Rules(2, 5.0)


def test_open_kinds_update_a_policy_for_the_monitor(session: Session) -> None:
    from bot.policy.requests import propose, update_policy_item

    approve(
        session=session,
        request_id=_add(session, "a.example").id,
        approver=BO,
        is_approver=is_approver,
        now=T0,
    )
    until = T0 + timedelta(days=90)
    item = update_policy_item(
        session=session,
        domain="a.example",
        changes={"level": "relaxed", "mode": "observe", "relaxed_until": until},
    )
    request = propose(
        session=session, kind="relax", items=[item], requester=ANN, rules=RULES, now=T0
    )
    approve(session=session, request_id=request.id, approver=BO, is_approver=is_approver, now=T0)
    policy = queries.find_policy(session=session, domain="a.example")
    assert (policy.level, policy.mode, policy.relaxed_until) == ("relaxed", "observe", until)
    with pytest.raises(InvalidInput, match="domain cannot be changed"):
        update_policy_item(session=session, domain="a.example", changes={"domain": "b.example"})


@pytest.mark.usefixtures("overlapping_pending")
def test_a_conflict_half_way_through_applying_leaves_nothing_applied(session: Session) -> None:
    from bot.policy.requests import propose, update_policy_item

    approve(
        session=session,
        request_id=_add(session, "a.example", "b.example").id,
        approver=BO,
        is_approver=is_approver,
        now=T0,
    )
    b_first = update_policy_item(session=session, domain="b.example", changes={"mode": "observe"})
    a_removed = propose_remove_domains(
        session=session, requester=ANN, domains=["a.example"], rules=RULES, now=T0
    ).items[0]
    a_changed = update_policy_item(session=session, domain="a.example", changes={"mode": "observe"})
    # Each item is fine on its own; together the second a.example item finds it changed.
    request = propose(
        session=session,
        kind="custom",
        items=[b_first, a_removed, a_changed],
        requester=ANN,
        rules=RULES,
        now=T0,
    )
    decision = approve(
        session=session, request_id=request.id, approver=CY, is_approver=is_approver, now=T0
    )
    assert decision.outcome is Outcome.SUPERSEDED
    assert decision.request.reason == "the TLS policy of a.example was removed meanwhile"
    session.expire_all()
    for domain in ("a.example", "b.example"):
        policy = queries.find_policy(session=session, domain=domain)
        assert (policy.mode, policy.version) == ("enforce", 1)
    assert AuditAction.POLICY_UPDATED not in _actions(session, request.id)
    assert verify(session=session).ok


def test_a_subject_already_pending_is_refused_until_that_request_is_decided(
    session: Session,
) -> None:
    first = _add(session, "a.example", "b.example")
    with pytest.raises(InvalidState, match=rf"b\.example is already in change request #{first.id}"):
        _add(session, "c.example", "b.example")
    with pytest.raises(InvalidState, match=rf"a\.example is already in change request #{first.id}"):
        _add(session, "a.example")
    assert len(session.exec(select(ChangeRequest)).all()) == 1  # nothing half-written
    reject(
        session=session,
        request_id=first.id,
        actor=BO,
        is_approver=is_approver,
        reason="typo",
        now=T0 + timedelta(minutes=1),
    )
    again = _add(session, "c.example", "b.example", now=T0 + timedelta(minutes=2))
    assert again.state == RequestState.PENDING


def test_a_pending_request_past_its_expiry_no_longer_holds_its_subject(session: Session) -> None:
    first = _add(session, "a.example")
    later = T0 + timedelta(hours=RULES.request_ttl_hours, seconds=1)
    second = _add(session, "a.example", now=later)  # the schedule has not closed `first` yet
    assert second.id != first.id
    decision = approve(
        session=session, request_id=first.id, approver=BO, is_approver=is_approver, now=later
    )
    assert decision.outcome is Outcome.EXPIRED
