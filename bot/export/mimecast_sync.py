"""Keeping the three Mimecast profile groups equal to the approved policy.

Mimecast has no API for Secure Delivery or Secure Receipt policies, but a policy
applies to a profile group, and API 2.0 manages a group's members. The one-time
setup (docs/mimecast.md) makes three groups and points the policies at them;
from then on :func:`sync` keeps each group's *domain* members equal to its list
(:meth:`~bot.export.names.Enforcement.lists`: strict, relaxed, inbound).

For one group, with D the domains the policy wants, A the group's members now
and K what tlsbot left there at its last sync (:class:`GatewayMember`),
:func:`plan_group` decides:

* add D − A that are new to the policy (not in K); remove A − D that tlsbot had put
  there (in K): these follow approved changes;
* A − D − K were added in the console outside tlsbot, and D ∩ K − A were removed
  there: that is *drift*. It is reported and left as it is until a change request
  decides: *Adopt* changes the policy to match the group, *Revert* (once approved,
  the drift's state is ``revert``) makes the next sync put the group back.

Every sync that is not a dry run is one ``gateway.synced`` audit event naming what
was added, removed, what failed and the drift. Address members (users) are never
touched: tlsbot manages domain members only.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from bot.config import MimecastSettings
from bot.export.gateway import Gateway, GatewayName, Reach
from bot.export.mimecast import ItemFailure, MimecastClient
from bot.export.names import ListName, enforcement
from bot.export.store import audit_head, load_published
from bot.policy import audit
from bot.policy.db import session_scope
from bot.policy.models import GatewayDrift, GatewayMember
from bot.policy.types import SYSTEM, Actor

T = TypeVar("T")
NAME = GatewayName.MIMECAST
GATEWAY = Gateway(NAME, "Mimecast", Reach.API)


class DriftDirection(enum.StrEnum):
    ADDED = "added"  # in the group, added outside tlsbot, not in the policy
    REMOVED = "removed"  # in the policy, removed from the group outside tlsbot


class DriftState(enum.StrEnum):
    OPEN = "open"
    REVERT = "revert"  # a Revert request was approved: the next sync puts it back
    RESOLVED = "resolved"


class Runner(Protocol):
    """Runs ``fn(session)`` in one transaction off the event loop (``Store`` in Slack)."""

    def run(self, fn: Callable[[Session], T]) -> Awaitable[T]: ...


class EngineRunner:
    """A :class:`Runner` over an engine, for the command line."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _run(self, fn: Callable[[Session], T]) -> T:
        with session_scope(self.engine) as session:
            return fn(session)

    async def run(self, fn: Callable[[Session], T]) -> T:
        return await asyncio.to_thread(self._run, fn)


@dataclass(frozen=True)
class GroupPlan:
    list_name: ListName
    group_id: str
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    drift_added: tuple[str, ...] = ()  # left in place
    drift_removed: tuple[str, ...] = ()  # left out
    members: int = 0  # domain members found

    @property
    def changes(self) -> int:
        return len(self.add) + len(self.remove)


def plan_group(
    list_name: ListName,
    group_id: str,
    *,
    desired: Iterable[str],
    actual: Iterable[str],
    known: Iterable[str],
    revert: Iterable[tuple[str, DriftDirection]] = (),
) -> GroupPlan:
    """What one sync does to one group (pure; see the module docstring)."""
    d, a, k = set(desired), set(actual), set(known)
    put_back = {dom for dom, way in revert if way is DriftDirection.REMOVED}
    take_out = {dom for dom, way in revert if way is DriftDirection.ADDED}
    missing, extra = d - a, a - d
    removed_outside, added_outside = missing & k, extra - k
    return GroupPlan(
        list_name,
        group_id,
        add=tuple(sorted((missing - k) | (removed_outside & put_back))),
        remove=tuple(sorted((extra & k) | (added_outside & take_out))),
        drift_added=tuple(sorted(added_outside - take_out)),
        drift_removed=tuple(sorted(removed_outside - put_back)),
        members=len(a),
    )


@dataclass
class GroupResult:
    plan: GroupPlan
    actual: frozenset[str] = frozenset()  # domain members found before the sync's calls
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, ItemFailure]] = field(default_factory=list)  # ("add"|"remove", …)


@dataclass
class SyncReport:
    dry_run: bool
    groups: list[GroupResult]
    new_drift: list[int] = field(default_factory=list)  # GatewayDrift ids first seen now
    event_seq: int | None = None
    source_seq: int = 0

    @property
    def failed(self) -> int:
        return sum(len(g.failed) for g in self.groups)

    @property
    def drift(self) -> int:
        return sum(len(g.plan.drift_added) + len(g.plan.drift_removed) for g in self.groups)

    def lines(self) -> list[str]:
        """The plan (and, after a sync, the outcome) per group, for people."""
        out = []
        for group in self.groups:
            plan = group.plan
            head = (
                f"mimecast {plan.list_name.value} (group {plan.group_id}): {plan.members} "
                f"domain members; {len(plan.add)} to add, {len(plan.remove)} to remove"
            )
            out.append(head)
            out += [f"  + {d}" for d in plan.add]
            out += [f"  - {d}" for d in plan.remove]
            out += [
                f"  ! drift: {d} was added in the Mimecast console outside tlsbot "
                "(left in place until Adopt or Revert is approved)"
                for d in plan.drift_added
            ]
            out += [
                f"  ! drift: {d} was removed in the Mimecast console outside tlsbot "
                "(left out until Adopt or Revert is approved)"
                for d in plan.drift_removed
            ]
            out += [f"  x failed to {verb} {failure}" for verb, failure in group.failed]
        return out


def groups_of(settings: MimecastSettings) -> dict[ListName, str]:
    return {
        ListName.STRICT: settings.strict_group,
        ListName.RELAXED: settings.relaxed_group,
        ListName.INBOUND: settings.inbound_group,
    }


@dataclass(frozen=True)
class _Known:
    desired: dict[ListName, tuple[str, ...]]
    known: dict[ListName, set[str]]
    revert: dict[ListName, list[tuple[str, DriftDirection]]]
    source_seq: int


def _load(session: Session) -> _Known:
    source_seq, _ = audit_head(session)
    desired = enforcement(load_published(session)).lists()
    known: dict[ListName, set[str]] = {kind: set() for kind in ListName}
    for row in session.exec(select(GatewayMember).where(col(GatewayMember.gateway) == NAME)):
        if row.list_name in known:
            known[ListName(row.list_name)].add(row.domain)
    revert: dict[ListName, list[tuple[str, DriftDirection]]] = {kind: [] for kind in ListName}
    query = select(GatewayDrift).where(
        col(GatewayDrift.gateway) == NAME, col(GatewayDrift.state) == DriftState.REVERT
    )
    for drift in session.exec(query):
        revert[ListName(drift.list_name)].append((drift.domain, DriftDirection(drift.direction)))
    return _Known(desired, known, revert, source_seq)


async def sync(
    *,
    runner: Runner,
    client: MimecastClient,
    now: Callable[[], datetime],
    dry_run: bool = False,
    actor: Actor = SYSTEM,
) -> SyncReport:
    """Plan every group, apply the plan unless ``dry_run``, record it; returns the report."""
    async with client.lock:
        return await _sync(runner=runner, client=client, now=now, dry_run=dry_run, actor=actor)


async def _sync(
    *,
    runner: Runner,
    client: MimecastClient,
    now: Callable[[], datetime],
    dry_run: bool,
    actor: Actor,
) -> SyncReport:
    state = await runner.run(_load)
    groups = groups_of(client.settings)
    report = SyncReport(dry_run=dry_run, groups=[], source_seq=state.source_seq)
    async with client:
        for kind, group_id in groups.items():
            members = await client.members(group_id)
            actual = {m.domain for m in members if m.domain}
            plan = plan_group(
                kind,
                group_id,
                desired=state.desired[kind],
                actual=actual,
                known=state.known[kind],
                revert=state.revert[kind],
            )
            result = GroupResult(plan, frozenset(actual))
            report.groups.append(result)
            if dry_run:
                continue
            if plan.add:
                done = await client.add(group_id, plan.add)
                result.added = done.done
                result.failed += [("add", f) for f in done.failed]
            if plan.remove:
                done = await client.remove(group_id, plan.remove)
                result.removed = done.done
                result.failed += [("remove", f) for f in done.failed]
    if dry_run:
        return report
    at = now()

    def record(session: Session) -> tuple[int, list[int]]:
        return _record(session, report, state, actor, at)

    report.event_seq, report.new_drift = await runner.run(record)
    return report


def _record(
    session: Session, report: SyncReport, state: _Known, actor: Actor, at: datetime
) -> tuple[int, list[int]]:
    audit.lock_chain(session)
    session.execute(delete(GatewayMember).where(col(GatewayMember.gateway) == NAME))
    drift_now: dict[tuple[str, str, str], None] = {}
    summary: dict[str, Any] = {}
    for group in report.groups:
        plan, kind = group.plan, group.plan.list_name.value
        known = state.known[plan.list_name]
        after = (set(group.actual) | set(group.added)) - set(group.removed)
        keep = (
            (after & set(state.desired[plan.list_name]))
            | set(plan.drift_removed)
            | ({f.domain for _, f in group.failed} & known)  # retried next time
        )
        for domain in sorted(keep):
            session.add(GatewayMember(gateway=NAME, list_name=kind, domain=domain, synced_at=at))
        for domain in plan.drift_added:
            drift_now[(kind, domain, DriftDirection.ADDED)] = None
        for domain in plan.drift_removed:
            drift_now[(kind, domain, DriftDirection.REMOVED)] = None
        summary[kind] = {
            "group": plan.group_id,
            "added": group.added,
            "removed": group.removed,
            "failed": [f"{verb} {failure}" for verb, failure in group.failed],
            "drift_added": list(plan.drift_added),
            "drift_removed": list(plan.drift_removed),
        }
    new_drift = _update_drift(session, report, drift_now, at)
    event = audit.append(
        session=session,
        actor=actor,
        action=audit.AuditAction.GATEWAY_SYNCED,
        subject=f"{NAME.value}",
        after={"source_seq": state.source_seq, "groups": summary, "new_drift": new_drift},
        now=at,
    )
    return event.seq, new_drift


def _update_drift(
    session: Session, report: SyncReport, drift_now: dict[tuple[str, str, str], None], at: datetime
) -> list[int]:
    """Open rows for new drift; resolve rows whose drift is gone (or was reverted)."""
    failed = {(g.plan.list_name.value, f.domain) for g in report.groups for _, f in g.failed}
    query = select(GatewayDrift).where(
        col(GatewayDrift.gateway) == NAME, col(GatewayDrift.state) != DriftState.RESOLVED
    )
    for row in session.exec(query):
        key = (row.list_name, row.domain, row.direction)
        if key in drift_now:
            drift_now.pop(key)  # still drift, already known
            continue
        if row.state == DriftState.REVERT and (row.list_name, row.domain) in failed:
            continue  # the revert failed: try again next time
        row.resolution = (
            "reverted by tlsbot"
            if row.state == DriftState.REVERT
            else "the group matches the policy"
        )
        row.state = DriftState.RESOLVED
        row.resolved_at = at
        session.add(row)
    new: list[GatewayDrift] = []
    for list_name, domain, direction in drift_now:
        row = GatewayDrift(
            gateway=NAME,
            list_name=list_name,
            domain=domain,
            direction=direction,
            state=DriftState.OPEN,
            detected_at=at,
        )
        session.add(row)
        new.append(row)
    session.flush()
    return [row.id for row in new if row.id is not None]
