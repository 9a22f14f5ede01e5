"""`tlsbot sync mimecast` against the Mimecast API stand-in: first sync, changes after
approvals, the dry-run plan, retries, per-item failures, pagination and drift."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from bot import cli
from bot.export.mimecast import MimecastClient
from bot.export.mimecast_sync import DriftDirection, plan_group
from bot.export.names import ListName
from bot.policy.models import AuditEvent, GatewayDrift
from bot.probe.model import Verdict
from tests.export.helpers import approve_added, approve_removed
from tests.export.mimecast_support import (
    INBOUND,
    RELAXED,
    STRICT,
    env_for,
    mimecast,
    run_sync,
    settings_of,
)
from tests.support.db import TestDatabase
from tests.support.mimecast_api import MimecastApi

pytestmark = [pytest.mark.db, pytest.mark.timeout(30)]
__all__ = ["mimecast"]  # the fixture

MEMBERS = "/api/directory/get-group-members"
ADD = "/api/directory/add-group-member"
REMOVE = "/api/directory/remove-group-member"


def synced_events(session: Session) -> list[AuditEvent]:
    query = select(AuditEvent).where(col(AuditEvent.action) == "gateway.synced")
    return list(session.exec(query.order_by(col(AuditEvent.seq))))


@pytest.fixture
def world(
    mimecast: MimecastApi, session: Session, database: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> MimecastApi:
    env_for(mimecast, monkeypatch, database)
    approve_added(session, "partner.example")
    approve_added(session, "bank.example")
    approve_added(session, "old-crm.example", Verdict.RELAXED)
    return mimecast


async def test_a_first_sync_fills_the_empty_groups_and_is_recorded(
    world: MimecastApi, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_sync() == 0
    assert world.domains(STRICT) == ["bank.example", "partner.example"]
    assert world.domains(RELAXED) == ["old-crm.example"]
    assert world.domains(INBOUND) == ["bank.example", "old-crm.example", "partner.example"]
    out = capsys.readouterr().out
    assert "mimecast strict (group eNoG-strict): 0 domain members; 2 to add, 0 to remove" in out
    assert "  + partner.example" in out
    assert "synced: 6 added, 0 removed, 0 failed, 0 drifted" in out
    assert len(world.of("/oauth/token")) == 1  # one token for the whole sync
    (event,) = synced_events(session)
    assert event.after["groups"]["strict"]["added"] == ["bank.example", "partner.example"]
    assert event.after["groups"]["inbound"]["group"] == INBOUND
    # every add call carried {"id", "domain"} items for the right group
    for call in world.of(ADD):
        assert all(set(item) == {"id", "domain"} for item in call.body["data"])
    assert await run_sync() == 0  # a second sync finds nothing to do
    assert len(world.of(ADD)) == 3
    assert synced_events(session)[-1].after["groups"]["strict"]["added"] == []


async def test_approved_additions_and_removals_reach_the_groups(
    world: MimecastApi, session: Session
) -> None:
    assert await run_sync() == 0
    approve_removed(session, "bank.example")
    approve_added(session, "supplier.example")
    assert await run_sync() == 0
    assert world.domains(STRICT) == ["partner.example", "supplier.example"]
    assert world.domains(INBOUND) == ["old-crm.example", "partner.example", "supplier.example"]
    groups = synced_events(session)[-1].after["groups"]
    assert groups["strict"]["added"] == ["supplier.example"]
    assert groups["strict"]["removed"] == ["bank.example"]
    assert groups["inbound"]["removed"] == ["bank.example"]


async def test_the_dry_run_prints_the_plan_and_changes_nothing(
    world: MimecastApi, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_sync() == 0
    approve_removed(session, "partner.example")
    before = len(synced_events(session))
    capsys.readouterr()
    assert await run_sync("--dry-run") == 0
    out = capsys.readouterr().out
    assert "mimecast strict (group eNoG-strict): 2 domain members; 0 to add, 1 to remove" in out
    assert "  - partner.example" in out
    assert "dry run: 2 changes planned; nothing changed or recorded" in out
    assert world.domains(STRICT) == ["bank.example", "partner.example"]
    assert len(synced_events(session)) == before
    assert len(world.of(REMOVE)) == 0


async def test_429_waits_for_the_rate_limit_reset_and_5xx_backs_off(world: MimecastApi) -> None:
    world.fail_next(MEMBERS, 429, reset_ms=400)
    world.fail_next(ADD, 503, times=2)
    assert await run_sync() == 0
    statuses = [c.status for c in world.of(MEMBERS)]
    assert statuses[:2] == [429, 200]
    first, retry = world.of(MEMBERS)[:2]
    assert retry.at - first.at >= 0.4  # honoured X-RateLimit-Reset (milliseconds)
    assert [c.status for c in world.of(ADD)][:3] == [503, 503, 200]
    assert world.domains(STRICT) == ["bank.example", "partner.example"]


async def test_a_failed_item_is_reported_and_retried_next_time(
    world: MimecastApi, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    world.fail_domains = {"bank.example"}
    assert await run_sync() == 1
    captured = capsys.readouterr()
    assert "  x failed to add bank.example: err_domain_invalid Domain is not valid" in captured.out
    assert "2 items failed" in captured.err
    assert world.domains(STRICT) == ["partner.example"]
    assert synced_events(session)[-1].after["groups"]["strict"]["failed"] == [
        "add bank.example: err_domain_invalid Domain is not valid"
    ]
    world.fail_domains = set()
    assert await run_sync() == 0
    assert world.domains(STRICT) == ["bank.example", "partner.example"]


async def test_drift_both_ways_is_named_left_in_place_and_remembered(
    world: MimecastApi, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_sync() == 0
    world.add_in_console(STRICT, "extra.example")
    world.remove_in_console(INBOUND, "partner.example")
    capsys.readouterr()
    assert await run_sync() == 1
    out = capsys.readouterr().out
    assert "! drift: extra.example was added in the Mimecast console outside tlsbot" in out
    assert "! drift: partner.example was removed in the Mimecast console outside tlsbot" in out
    assert "extra.example" in world.domains(STRICT)  # left in place
    assert "partner.example" not in world.domains(INBOUND)  # not put back
    rows = session.exec(select(GatewayDrift)).all()
    assert sorted((r.list_name, r.domain, r.direction, r.state) for r in rows) == [
        ("inbound", "partner.example", "removed", "open"),
        ("strict", "extra.example", "added", "open"),
    ]
    assert await run_sync() == 1  # still drift, not alerted again
    session.expire_all()
    assert len(session.exec(select(GatewayDrift)).all()) == 2
    assert synced_events(session)[-1].after["new_drift"] == []
    world.remove_in_console(STRICT, "extra.example")  # the console is put right by hand
    world.add_in_console(INBOUND, "partner.example")
    assert await run_sync() == 0
    session.expire_all()
    assert {r.state for r in session.exec(select(GatewayDrift))} == {"resolved"}


async def test_pages_are_followed_to_the_end(mimecast: MimecastApi) -> None:
    mimecast.group(STRICT, *(f"p{i:03d}.example" for i in range(250)))
    mimecast.groups[STRICT].append(
        {"emailAddress": "someone@corp.example", "domain": "corp.example", "type": "internal"}
    )
    client = MimecastClient(settings_of(mimecast), page_size=100)
    async with client:
        members = await client.members(STRICT)
    assert len([m for m in members if m.domain]) == 250
    assert [m.email for m in members if m.email] == ["someone@corp.example"]
    calls = mimecast.of(MEMBERS)
    assert len(calls) == 3
    assert "pageToken" not in calls[0].body["meta"]["pagination"]
    assert all(c.body["meta"]["pagination"]["pageSize"] == 100 for c in calls)
    assert all("pageToken" in c.body["meta"]["pagination"] for c in calls[1:])


async def test_the_token_is_cached_and_fetched_again_when_refused(mimecast: MimecastApi) -> None:
    client = MimecastClient(settings_of(mimecast))
    async with client:
        await client.members(STRICT)
        await client.members(RELAXED)
        assert len(mimecast.of("/oauth/token")) == 1
        mimecast.expire_tokens()
        await client.members(INBOUND)
    assert len(mimecast.of("/oauth/token")) == 2
    assert [c.status for c in mimecast.of(MEMBERS)] == [200, 200, 401, 200]


async def test_wrong_credentials_are_one_line_and_nothing_is_recorded(
    world: MimecastApi,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MIMECAST_CLIENT_SECRET", "wrong")
    assert await run_sync() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "MIMECAST_CLIENT_SECRET" in err
    assert synced_events(session) == []


def test_missing_settings_name_the_variable(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sync", "mimecast"]) == 2
    assert "MIMECAST_BASE_URL" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("desired", "actual", "known", "revert", "expected"),
    [
        pytest.param({"a"}, set(), set(), (), (("a",), (), (), ()), id="new-in-policy-added"),
        pytest.param(set(), {"a"}, {"a"}, (), ((), ("a",), (), ()), id="left-policy-removed"),
        pytest.param(set(), {"x"}, set(), (), ((), (), ("x",), ()), id="added-outside-is-drift"),
        pytest.param({"a"}, set(), {"a"}, (), ((), (), (), ("a",)), id="removed-outside-is-drift"),
        pytest.param(
            set(),
            {"x"},
            set(),
            (("x", DriftDirection.ADDED),),
            ((), ("x",), (), ()),
            id="revert-add",
        ),
        pytest.param(
            {"a"},
            set(),
            {"a"},
            (("a", DriftDirection.REMOVED),),
            (("a",), (), (), ()),
            id="revert-removal",
        ),
        pytest.param({"a"}, {"a"}, set(), (), ((), (), (), ()), id="found-in-place-is-in-sync"),
    ],
)
def test_plan_table(
    desired: set[str],
    actual: set[str],
    known: set[str],
    revert: tuple[tuple[str, DriftDirection], ...],
    expected: tuple[tuple[str, ...], ...],
) -> None:
    plan = plan_group(
        ListName.STRICT, "g", desired=desired, actual=actual, known=known, revert=revert
    )
    assert (plan.add, plan.remove, plan.drift_added, plan.drift_removed) == expected
