"""Races on one change request change its state exactly once, with exactly one audit event.

Threads (and, once, separate processes) each with their own session and
connection start together on a barrier and approve or reject the same request.
Run on PostgreSQL with TLSBOT_TEST_DATABASE_URL set; on SQLite otherwise.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.clock import system_clock
from bot.policy import queries
from bot.policy.approvals import Outcome, approve, reject
from bot.policy.audit import AuditAction, events, verify
from bot.policy.db import make_engine, new_session
from bot.policy.errors import PolicyError
from bot.policy.models import Approval, DomainPolicy
from bot.policy.requests import Rules, propose_add_domains
from bot.policy.types import Actor
from tests.policy.factories import ANN, RULES, validated
from tests.support.db import TestDatabase

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]

APPROVERS = [Actor(f"U0APP{i}", f"Approver {i}") for i in range(8)]


def _anyone(user_id: str) -> bool:
    return user_id.startswith("U0APP")


def _proposal(session: Session, rules: Rules = RULES) -> int:
    request = propose_add_domains(
        session=session,
        requester=ANN,
        entries=[("race.example", validated(session, "race.example").id)],
        rules=rules,
        now=system_clock(),
    )
    assert request.id is not None
    return request.id


def _race(engine: Engine, calls: list[Callable[[Session], Any]]) -> list[Any]:
    """Run each call in its own thread and session, all released at once; outcomes in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        with new_session(engine) as session:
            barrier.wait(timeout=20)
            try:
                results[index] = calls[index](session)
            except PolicyError as exc:
                results[index] = exc
            except BaseException as exc:  # an unexpected error fails the test below
                results[index] = ("unexpected", exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=50)
    assert not any(isinstance(r, tuple) for r in results), results
    return results


def _kinds(results: list[Any]) -> Counter[str]:
    return Counter(r.outcome.value if hasattr(r, "outcome") else type(r).__name__ for r in results)


def _transitions(session: Session, request_id: int) -> Counter[str]:
    return Counter(e.action for e in events(session=session, request_id=request_id))


def test_many_approvers_at_once_apply_exactly_once(engine: Engine, session: Session) -> None:
    request_id = _proposal(session)
    calls = [
        (
            lambda s, a=a: approve(
                session=s,
                request_id=request_id,
                approver=a,
                is_approver=_anyone,
                now=system_clock(),
            )
        )
        for a in APPROVERS
    ]
    results = _race(engine, calls)
    assert _kinds(results) == Counter({"applied": 1, "InvalidState": len(APPROVERS) - 1})
    session.expire_all()
    assert _transitions(session, request_id)[AuditAction.REQUEST_APPROVED] == 1
    assert _transitions(session, request_id)[AuditAction.POLICY_ADDED] == 1
    assert len(session.exec(select(DomainPolicy)).all()) == 1
    assert len(session.exec(select(Approval)).all()) == 1
    assert verify(session=session).ok


def test_double_click_by_one_approver_counts_once(engine: Engine, session: Session) -> None:
    request_id = _proposal(session)
    same = APPROVERS[0]
    calls = [
        (
            lambda s: approve(
                session=s,
                request_id=request_id,
                approver=same,
                is_approver=_anyone,
                now=system_clock(),
            )
        )
        for _ in range(6)
    ]
    results = _race(engine, calls)
    assert _kinds(results) == Counter({"applied": 1, "InvalidState": 5})
    session.expire_all()
    assert _transitions(session, request_id)[AuditAction.REQUEST_APPROVED] == 1


def test_approve_and_reject_at_once_decide_once(engine: Engine, session: Session) -> None:
    request_id = _proposal(session)
    calls: list[Callable[[Session], Any]] = []
    for i, actor in enumerate(APPROVERS):
        if i % 2:
            calls.append(
                lambda s, a=actor: approve(
                    session=s,
                    request_id=request_id,
                    approver=a,
                    is_approver=_anyone,
                    now=system_clock(),
                )
            )
        else:
            calls.append(
                lambda s, a=actor: reject(
                    session=s,
                    request_id=request_id,
                    actor=a,
                    is_approver=_anyone,
                    reason="no",
                    now=system_clock(),
                )
            )
    results = _race(engine, calls)
    kinds = _kinds(results)
    assert kinds["InvalidState"] == len(APPROVERS) - 1
    assert kinds["applied"] + kinds["rejected"] == 1
    session.expire_all()
    transitions = _transitions(session, request_id)
    assert (
        transitions[AuditAction.REQUEST_APPROVED] + transitions[AuditAction.REQUEST_REJECTED] == 1
    )
    state = queries.get_request(session=session, request_id=request_id).state
    assert state == ("approved" if kinds["applied"] else "rejected")
    assert len(session.exec(select(DomainPolicy)).all()) == kinds["applied"]


def test_two_of_many_approvers_needed_applies_once_with_two(
    engine: Engine, session: Session
) -> None:
    request_id = _proposal(session, Rules(required_approvals=2))
    calls = [
        (
            lambda s, a=a: approve(
                session=s,
                request_id=request_id,
                approver=a,
                is_approver=_anyone,
                now=system_clock(),
            )
        )
        for a in APPROVERS[:4]
    ] * 2  # every approver clicks twice
    results = _race(engine, calls)
    kinds = _kinds(results)
    assert (kinds["waiting"], kinds["applied"]) == (1, 1)
    assert kinds["InvalidState"] == len(calls) - 2
    session.expire_all()
    assert len(session.exec(select(Approval)).all()) == 2
    transitions = _transitions(session, request_id)
    assert (
        transitions[AuditAction.APPROVAL_RECORDED],
        transitions[AuditAction.REQUEST_APPROVED],
    ) == (1, 1)
    assert verify(session=session).ok


def _process_approve(
    url: str, connect_args: dict[str, Any], request_id: int, index: int, barrier: Any, results: Any
) -> None:
    engine = make_engine(url, connect_args=connect_args)
    try:
        with new_session(engine) as session:
            barrier.wait(timeout=30)
            try:
                decision = approve(
                    session=session,
                    request_id=request_id,
                    approver=APPROVERS[index],
                    is_approver=_anyone,
                    now=system_clock(),
                )
                results.put(decision.outcome.value)
            except PolicyError as exc:
                results.put(type(exc).__name__)
    finally:
        engine.dispose()


def test_separate_processes_racing_apply_exactly_once(
    database: TestDatabase, engine: Engine, session: Session
) -> None:
    request_id = _proposal(session)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    results = context.Queue()
    processes = [
        context.Process(
            target=_process_approve,
            args=(database.url, database.connect_args, request_id, i, barrier, results),
        )
        for i in range(4)
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=45)
    outcomes = Counter(results.get(timeout=5) for _ in processes)
    assert outcomes == Counter({Outcome.APPLIED.value: 1, "InvalidState": 3})
    session.expire_all()
    assert _transitions(session, request_id)[AuditAction.REQUEST_APPROVED] == 1
    assert verify(session=session).ok


@pytest.mark.usefixtures("overlapping_pending")
def test_overlapping_requests_in_opposite_orders_neither_deadlock_nor_both_apply(
    engine: Engine, session: Session
) -> None:
    from bot.policy.approvals import approve as approve_
    from bot.policy.requests import propose, propose_remove_domains, update_policy_item

    domains = ("p.example", "q.example")
    setup = propose_add_domains(
        session=session,
        requester=ANN,
        entries=[(d, validated(session, d).id) for d in domains],
        rules=RULES,
        now=system_clock(),
    )
    approve_(
        session=session,
        request_id=setup.id,
        approver=APPROVERS[0],
        is_approver=_anyone,
        now=system_clock(),
    )
    remove = propose_remove_domains(
        session=session, requester=ANN, domains=domains, rules=RULES, now=system_clock()
    )
    relax = propose(
        session=session,
        kind="relax",
        items=[
            update_policy_item(session=session, domain=d, changes={"mode": "observe"})
            for d in reversed(domains)
        ],
        requester=ANN,
        rules=RULES,
        now=system_clock(),
    )
    calls = [
        (
            lambda s, r=r, a=a: approve(
                session=s, request_id=r, approver=a, is_approver=_anyone, now=system_clock()
            )
        )
        for r, a in ((remove.id, APPROVERS[1]), (relax.id, APPROVERS[2]))
    ] * 3
    results = _race(engine, calls)
    kinds = _kinds(results)
    assert (kinds["applied"], kinds["superseded"], kinds["InvalidState"]) == (1, 1, 4)
    session.expire_all()
    assert verify(session=session).ok
