"""The alert buttons: each opens the right change request with the new evidence, approved like
any other; approving it changes the policy and the monitor's next check clears the alert."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.clock import system_clock
from bot.config import Settings
from bot.policy.approvals import Outcome, approve
from bot.policy.errors import InvalidInput, InvalidState, NotFound
from bot.policy.models import ChangeRequest, DomainPolicy
from bot.policy.monitor.actions import perform, recheck, request_change
from bot.policy.monitor.alerts import ActionId, Condition, SubjectKind
from bot.policy.monitor.models import MonitorItem
from bot.policy.monitor.sink import RecordingSink
from bot.policy.types import RecordStatus
from bot.probe.model import Verdict
from tests.monitor.harness import (
    ANN,
    BO,
    Monitor,
    add_policy,
    anyone_approves,
    raised,
    resolved,
)
from tests.monitor.results import host, result
from tests.monitor.scripted import ScriptedProber
from tests.monitor.world import MonitorWorld
from tests.support.certs import CertCase, Pki
from tests.support.smtp_server import Behaviour

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]

MX1 = "mx1.partner.test"


@pytest.fixture
async def world(monitor_pki: Pki) -> AsyncIterator[MonitorWorld]:
    w = await MonitorWorld.start(monitor_pki, {"partner.test": [MX1]})
    async with w:
        yield w


def click(monitor: Monitor, session: Session, action: ActionId, policy_id: int) -> ChangeRequest:
    return request_change(
        session=session,
        action=action,
        policy_id=policy_id,
        requester=ANN,
        settings=monitor.settings,
        now=monitor.clock(),
    )


def approved(monitor: Monitor, session: Session, request: ChangeRequest) -> DomainPolicy:
    assert request.id is not None
    decision = approve(
        session=session,
        request_id=request.id,
        approver=BO,
        is_approver=anyone_approves,
        now=monitor.clock(),
    )
    assert decision.outcome is Outcome.APPLIED
    (policy,) = session.exec(select(DomainPolicy)).all()
    session.refresh(policy)
    return policy


def last_validation_id(session: Session, policy_id: int) -> int | None:
    item = session.exec(select(MonitorItem).where(col(MonitorItem.subject_id) == policy_id)).one()
    session.refresh(item)
    return item.last_validation_id


async def test_relax_opens_a_request_with_the_new_evidence_and_approval_clears_the_alert(
    engine: Engine, session: Session, world: MonitorWorld
) -> None:
    policy = add_policy(session, "partner.test", [MX1])
    assert policy.id is not None
    monitor = Monitor(engine, world.prober())
    await world.mx[MX1].serve(CertCase.SELF_SIGNED)
    assert raised(await monitor.step()) == [Condition.LEVEL_DROP]

    request = click(monitor, session, ActionId.RELAX, policy.id)

    assert request.kind == "relax_policy"
    assert request.state == "pending"
    assert request.requester_id == ANN.id
    (item,) = request.items
    assert item["op"] == "update_policy"
    assert item["policy_id"] == policy.id
    assert item["set"]["level"] == "relaxed"
    until = item["set"]["relaxed_until"]
    assert until.startswith((monitor.clock() + timedelta(days=90)).date().isoformat())
    assert item["evidence"]["verdict"] == "relaxed"
    assert item["evidence"]["validation_id"] == last_validation_id(session, policy.id)
    session.refresh(policy)
    assert policy.level == "strict"  # nothing changes before approval

    policy = approved(monitor, session, request)
    assert policy.level == "relaxed"
    assert policy.relaxed_until is not None
    report = await monitor.step()
    assert resolved(report) == [Condition.LEVEL_DROP]
    assert "now Relaxed Encryption Mode" in (report.resolved[0].resolution or "")


async def test_suspend_opens_a_request_to_observe_and_the_alert_says_mail_is_unaffected(
    engine: Engine, session: Session, world: MonitorWorld
) -> None:
    policy = add_policy(session, "partner.test", [MX1])
    assert policy.id is not None
    monitor = Monitor(engine, world.prober())
    await world.mx[MX1].serve(CertCase.TRUSTED, Behaviour.NO_STARTTLS)
    report = await monitor.step()
    assert raised(report) == [Condition.LEVEL_DROP]
    assert ActionId.SUSPEND in report.raised[0].actions

    request = click(monitor, session, ActionId.SUSPEND, policy.id)
    assert request.kind == "suspend_policy"
    assert request.items[0]["set"] == {"mode": "observe"}
    assert request.items[0]["evidence"]["verdict"] == "unsupported"
    policy = approved(monitor, session, request)
    assert policy.mode == "observe"
    assert policy.status == RecordStatus.ACTIVE  # still watched
    # the drop is still there: no repeat, no follow-up
    report = await monitor.step()
    assert raised(report) == []
    assert resolved(report) == []
    with pytest.raises(InvalidState, match="already suspended"):
        click(monitor, session, ActionId.SUSPEND, policy.id)


async def test_lapsing_relaxed_policy_now_strict_offers_an_upgrade(
    engine: Engine, session: Session, world: MonitorWorld
) -> None:
    monitor = Monitor(engine, world.prober())
    policy = add_policy(
        session,
        "partner.test",
        [MX1],
        level="relaxed",
        relaxed_until=monitor.clock() + timedelta(days=10),
    )
    assert policy.id is not None
    report = await monitor.step()
    assert raised(report) == [Condition.RELAXED_LAPSING, Condition.UPGRADE_AVAILABLE]
    lapsing, upgrade = report.raised
    assert "lapses in 9 day(s)" in lapsing.summary
    assert lapsing.actions[0] is ActionId.UPGRADE  # it validates as strict now
    assert upgrade.actions == (ActionId.UPGRADE, ActionId.RECHECK)
    assert raised(await monitor.step()) == []

    request = click(monitor, session, ActionId.UPGRADE, policy.id)
    assert request.kind == "upgrade_policy"
    assert request.items[0]["set"] == {"level": "strict", "mx_hosts": [MX1], "relaxed_until": None}
    policy = approved(monitor, session, request)
    assert policy.level == "strict"
    assert policy.relaxed_until is None
    report = await monitor.step()
    assert sorted(resolved(report)) == sorted(
        [Condition.RELAXED_LAPSING, Condition.UPGRADE_AVAILABLE]
    )
    assert all("upgraded" in (a.resolution or "") for a in report.resolved)


async def test_observe_mode_clean_for_the_observe_days_proposes_enforcement(
    engine: Engine, session: Session, world: MonitorWorld
) -> None:
    monitor = Monitor(engine, world.prober())
    policy = add_policy(session, "partner.test", [MX1], mode="observe", created_at=monitor.clock())
    reports = [await monitor.step(timedelta(days=1)) for _ in range(7)]
    assert [raised(r) for r in reports] == [[]] * 6 + [[Condition.OBSERVE_READY]]
    (request,) = session.exec(select(ChangeRequest)).all()
    assert request.kind == "enforce_policy"
    assert request.requester_id == "system"
    assert request.items[0]["set"] == {"mode": "enforce"}
    (sent,) = monitor.sink.sent
    assert sent.change_request_id == str(request.id)  # the alert points at the request
    assert raised(await monitor.step(timedelta(days=1))) == []  # proposed once
    policy = approved(monitor, session, request)
    assert policy.mode == "enforce"
    report = await monitor.step()
    assert resolved(report) == [Condition.OBSERVE_READY]
    assert "now enforced" in (report.resolved[0].resolution or "")


async def test_recheck_now_checks_at_once_whatever_the_schedule(
    engine: Engine, session: Session, world: MonitorWorld
) -> None:
    policy = add_policy(session, "partner.test", [MX1])
    assert policy.id is not None
    monitor = Monitor(engine, world.prober())
    await world.mx[MX1].serve(CertCase.SELF_SIGNED)
    done = await recheck(
        engine=engine,
        prober=monitor.prober,
        sink=monitor.sink,
        kind=SubjectKind.POLICY,
        subject_id=policy.id,
        config=monitor.config,
        clock=monitor.clock,
    )
    assert done.result.verdict == "relaxed"
    assert done.outcome is not None
    assert [a.condition for a in done.outcome.raised] == [Condition.LEVEL_DROP]
    assert [a.condition for a in monitor.sink.sent] == [Condition.LEVEL_DROP]
    item = session.exec(select(MonitorItem)).one()
    assert item.checks == 1
    assert item.lease_owner is None
    assert item.next_check_at > monitor.clock()


@pytest.mark.parametrize(
    ("action", "error", "match"),
    [
        pytest.param(ActionId.UPGRADE, InvalidState, "re-check it first", id="upgrade-unvalidated"),
        pytest.param(ActionId.ENFORCE, InvalidState, "already enforced", id="enforce-enforced"),
        pytest.param(ActionId.RECHECK, InvalidInput, "does not open", id="recheck-is-no-request"),
    ],
)
def test_buttons_that_cannot_apply_say_why(
    session: Session, action: ActionId, error: type[Exception], match: str
) -> None:
    policy = add_policy(session, "partner.test", [MX1])
    assert policy.id is not None
    monitor = Monitor(engine=None, prober=None)  # type: ignore[arg-type]
    with pytest.raises(error, match=match):
        click(monitor, session, action, policy.id)


def test_a_removed_policy_has_no_buttons_left(session: Session) -> None:
    policy = add_policy(session, "partner.test", [MX1], status=RecordStatus.REMOVED)
    assert policy.id is not None
    monitor = Monitor(engine=None, prober=None)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        click(monitor, session, ActionId.RELAX, policy.id)


async def test_perform_handles_a_click_end_to_end(engine: Engine, session: Session) -> None:
    policy = add_policy(session, "click.test", ["mx1.click.test"])
    bad = result("click.test", host("mx1.click.test", Verdict.RELAXED))
    monitor = Monitor(engine, ScriptedProber({"click.test": bad}))
    common = {
        "engine": engine,
        "prober": monitor.prober,
        "sink": monitor.sink,
        "settings": monitor.settings,
        "user": ANN,
        "clock": monitor.clock,
    }
    checked = await perform(action="monitor_recheck", value=str(policy.id), **common)
    assert checked.text == "Re-checked click.test: Relaxed Encryption Mode. 1 alert(s) still open."
    assert [a.condition for a in monitor.sink.sent] == [Condition.LEVEL_DROP]
    relaxed = await perform(action="monitor_relax", value=str(policy.id), **common)
    assert relaxed.request_id is not None
    assert relaxed.text.startswith(f"Change request #{relaxed.request_id} opened: Relax click.test")
    with pytest.raises(InvalidState, match=f"#{relaxed.request_id} for click.test is already"):
        await perform(action="monitor_suspend", value=str(policy.id), **common)


@pytest.mark.parametrize(
    ("action", "value", "match"),
    [
        pytest.param("monitor_explode", "1", "not one of tlsbot's", id="unknown-action"),
        pytest.param("monitor_relax", "abc", "not one of tlsbot's", id="bad-value"),
        pytest.param("monitor_relax", "route:1", "can only be re-checked", id="route-relax"),
    ],
)
async def test_perform_refuses_stale_or_forged_clicks(
    engine: Engine, action: str, value: str, match: str
) -> None:
    with pytest.raises(InvalidInput, match=match):
        await perform(
            engine=engine,
            prober=ScriptedProber(),
            sink=RecordingSink(),
            settings=Settings(),
            action=action,
            value=value,
            user=ANN,
            clock=system_clock,
        )
