"""The alert buttons, as services: Re-check now, Relax to encrypt, Suspend, Upgrade, Enforce.

Relax, Suspend, Upgrade and Enforce do not change anything themselves: each opens
a change request (an ``update_policy`` item through :func:`bot.policy.requests.propose`)
carrying the monitor's latest validation as evidence, approved like any other.

==============  =====================  ==================================================
button          request kind           what approval does to the policy
==============  =====================  ==================================================
Relax           ``relax_policy``       level ``relaxed``, ``relaxed_until`` = now + RELAXED_DAYS
Suspend         ``suspend_policy``     mode ``observe``: no longer published, still watched
Upgrade         ``upgrade_policy``     level ``strict``, MX list = the hosts now validated,
                                       partner facts (DANE, MTA-STS) as validated now
Enforce         ``enforce_policy``     mode ``enforce``: published again
==============  =====================  ==================================================

Enforce is also proposed by the monitor itself when an observed policy has been
clean for TLSBOT_OBSERVE_DAYS (:func:`proposal_hook`).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.clock import Clock, as_utc
from bot.config import Settings
from bot.policy.db import new_session
from bot.policy.errors import InvalidInput, InvalidState, NotFound, PolicyError
from bot.policy.evidence.traffic import traffic_for
from bot.policy.models import ChangeRequest, DomainPolicy, Validation
from bot.policy.monitor.alerts import ActionId, Alert, Condition, SubjectKind, Watched
from bot.policy.monitor.delivery import deliver
from bot.policy.monitor.machine import Outcome
from bot.policy.monitor.models import MonitorItem
from bot.policy.monitor.sink import AlertSink
from bot.policy.monitor.store import (
    Claimed,
    load_watched,
    set_change_request,
    sync_items,
)
from bot.policy.monitor.sweep import (
    AfterRaise,
    MonitorConfig,
    Probe,
    check,
    new_owner,
    store_check,
)
from bot.policy.monitor.values import parse_action_value
from bot.policy.queries import pending_subjects
from bot.policy.requests import Rules, propose
from bot.policy.types import SYSTEM, Actor, PolicyLevel, PolicyMode, RecordStatus
from bot.policy.validations import evidence
from bot.probe.model import TargetResult
from bot.probe.partner import PartnerTls

log = logging.getLogger("tlsbot.monitor")


class MonitorRequestKind(enum.StrEnum):
    RELAX = "relax_policy"
    SUSPEND = "suspend_policy"
    UPGRADE = "upgrade_policy"
    ENFORCE = "enforce_policy"


TRAFFIC_DAYS = 7  # the traffic evidence a relax / suspend / upgrade request carries

_KIND = {
    ActionId.RELAX: MonitorRequestKind.RELAX,
    ActionId.SUSPEND: MonitorRequestKind.SUSPEND,
    ActionId.UPGRADE: MonitorRequestKind.UPGRADE,
    ActionId.ENFORCE: MonitorRequestKind.ENFORCE,
}


def action_of(kind: str) -> ActionId | None:
    """The button behind a change request of ``kind`` (None: not one an alert opens)."""
    return next((action for action, k in _KIND.items() if k.value == kind), None)


@dataclass(frozen=True, slots=True)
class Recheck:
    result: TargetResult
    outcome: Outcome | None  # None: another replica was checking it at that moment


def request_change(
    *,
    session: Session,
    action: ActionId,
    policy_id: int,
    requester: Actor,
    settings: Settings,
    now: datetime,
    note: str | None = None,
) -> ChangeRequest:
    """Open the change request behind a Relax / Suspend / Upgrade / Enforce button."""
    if action not in _KIND:
        raise InvalidInput(f"{action.label} does not open a change request.")
    policy = session.get(DomainPolicy, policy_id)
    if policy is None or policy.status != RecordStatus.ACTIVE:
        raise NotFound("That TLS policy no longer exists.")
    waiting = pending_subjects(session=session).get(policy.domain)
    if waiting is not None:
        pending = session.get(ChangeRequest, waiting)
        if pending is not None and as_utc(pending.expires_at) > now:
            raise InvalidState(
                f"Change request #{waiting} for {policy.domain} is already waiting for approval."
            )
    validation = latest_validation(session, policy)
    changes = _changes(action, policy, validation, settings, now)
    # what real mail got (Postfix's log): the approver sees it next to the probe's evidence
    days = max(settings.observe_days, 1) if action is ActionId.ENFORCE else TRAFFIC_DAYS
    traffic = traffic_for(session=session, domain=policy.domain, now=now, days=days)
    item: dict[str, Any] = {
        "op": "update_policy",
        "subject": policy.domain,
        "domain": policy.domain,
        "policy_id": policy.id,
        "version": policy.version,
        "set": changes,
        "validation_id": validation.id if validation else None,
        "evidence": evidence(validation) if validation else None,
        "traffic": traffic.to_dict(),
    }
    return propose(
        session=session,
        kind=_KIND[action],
        items=[item],
        requester=requester,
        rules=Rules.from_settings(settings),
        note=note or _NOTES[action].format(domain=policy.domain),
        extra={"source": "monitor"},
        now=now,
    )


_NOTES = {
    ActionId.RELAX: "Relax {domain} to encrypt (certificate not checked) after a monitoring alert.",
    ActionId.SUSPEND: "Suspend the policy for {domain} (observe only) after a monitoring alert.",
    ActionId.UPGRADE: "{domain} now validates as Strict - Trusted Enforced: upgrade the policy.",
    ActionId.ENFORCE: "{domain} validated cleanly in observe mode: enforce the policy.",
}


def _changes(
    action: ActionId,
    policy: DomainPolicy,
    validation: Validation | None,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    if action is ActionId.RELAX:
        until = now + timedelta(days=settings.relaxed_days)
        return {"level": str(PolicyLevel.RELAXED), "relaxed_until": until.isoformat()}
    if action is ActionId.SUSPEND:
        if policy.mode == PolicyMode.OBSERVE:
            raise InvalidState(f"The policy for {policy.domain} is already suspended (observe).")
        return {"mode": str(PolicyMode.OBSERVE)}
    if action is ActionId.ENFORCE:
        if policy.mode == PolicyMode.ENFORCE:
            raise InvalidState(f"The policy for {policy.domain} is already enforced.")
        return {"mode": str(PolicyMode.ENFORCE)}
    if validation is None or validation.verdict != "strict":
        raise InvalidState(
            f"{policy.domain} has not validated as Strict - Trusted Enforced; re-check it first."
        )
    changes: dict[str, Any] = {
        "level": str(PolicyLevel.STRICT),
        "mx_hosts": list(validation.mx_hosts),
        "relaxed_until": None,
    }
    # what the partner publishes now (DANE, MTA-STS), when it changed: enforced next
    partner = PartnerTls.from_dict(validation.result.get("partner"))
    if partner != PartnerTls.from_dict(policy.partner):
        changes["partner"] = partner.to_dict()
    return changes


def latest_validation(session: Session, policy: DomainPolicy) -> Validation | None:
    """The monitor's latest check of ``policy``, else the validation that admitted it."""
    item = session.exec(
        select(MonitorItem).where(
            col(MonitorItem.subject) == SubjectKind.POLICY.value,
            col(MonitorItem.subject_id) == policy.id,
        )
    ).first()
    for vid in (item.last_validation_id if item else None, policy.validation_id):
        if vid is not None:
            found = session.get(Validation, vid)
            if found is not None:
                return found
    return None


async def recheck(
    *,
    engine: Engine,
    prober: Probe,
    sink: AlertSink,
    kind: SubjectKind,
    subject_id: int,
    config: MonitorConfig,
    clock: Clock,
) -> Recheck:
    """Re-check one policy or route now (the *Re-check now* button), whatever its schedule."""
    owner = new_owner()
    # database work in a thread: this runs inside serve's event loop
    watched, item_id = await asyncio.to_thread(
        _watch_now, engine, kind, subject_id, owner, clock(), config
    )
    result = await check(prober, watched)
    outcome = await asyncio.to_thread(
        store_check, engine, Claimed(item_id, watched), owner, result, clock(), config
    )
    await deliver(engine=engine, sink=sink, clock=clock)
    return Recheck(result, outcome)


def _watch_now(
    engine: Engine,
    kind: SubjectKind,
    subject_id: int,
    owner: str,
    now: datetime,
    config: MonitorConfig,
) -> tuple[Watched, int]:
    with new_session(engine) as session:
        watched = load_watched(session, kind, subject_id)
        if watched is None:
            raise NotFound(f"That {kind.value} no longer exists.")
        return watched, _lease_now(session, watched, owner, now, config)


def _lease_now(
    session: Session, watched: Watched, owner: str, now: datetime, config: MonitorConfig
) -> int:
    sync_items(session=session, now=now, period=config.period)
    item = session.exec(
        select(MonitorItem)
        .where(
            col(MonitorItem.subject) == watched.kind.value,
            col(MonitorItem.subject_id) == int(watched.id),
        )
        .with_for_update()
    ).one()
    assert item.id is not None
    item.lease_owner = owner
    item.lease_until = now + config.lease
    session.add(item)
    session.commit()
    return item.id


@dataclass(frozen=True, slots=True)
class ActionDone:
    """What a button click did, for the Slack layer to show."""

    text: str  # one sentence for the person who clicked
    request_id: int | None = None  # the change request opened, if any
    recheck: Recheck | None = None


async def perform(
    *,
    engine: Engine,
    prober: Probe,
    sink: AlertSink,
    settings: Settings,
    action: str,
    value: str,
    user: Actor,
    clock: Clock,
) -> ActionDone:
    """Handle one alert button: ``action`` is its action id, ``value`` its value.

    Errors a person can cause (a stale button, a policy removed meanwhile, a request
    already pending) are :class:`~bot.policy.errors.PolicyError` with one sentence.
    """
    try:
        chosen = ActionId(action)
        kind, subject_id = parse_action_value(value)
    except ValueError:
        raise InvalidInput("That button is not one of tlsbot's monitoring buttons.") from None
    if chosen is ActionId.RECHECK:
        done = await recheck(
            engine=engine,
            prober=prober,
            sink=sink,
            kind=kind,
            subject_id=subject_id,
            config=MonitorConfig.from_settings(settings),
            clock=clock,
        )
        still = len(done.outcome.state.open) if done.outcome else 0
        text = f"Re-checked {done.result.target}: {done.result.verdict.label}." + (
            f" {still} alert(s) still open." if still else " No alert is open."
        )
        return ActionDone(text, recheck=done)
    if kind is not SubjectKind.POLICY:
        raise InvalidInput("An inbound route can only be re-checked from an alert.")
    request = await asyncio.to_thread(
        _request_now, engine, chosen, subject_id, user, settings, clock()
    )
    return ActionDone(
        f"Change request #{request.id} opened: {request.note} It needs an approver's confirmation.",
        request_id=request.id,
    )


def _request_now(
    engine: Engine,
    action: ActionId,
    policy_id: int,
    user: Actor,
    settings: Settings,
    now: datetime,
) -> ChangeRequest:
    with new_session(engine) as session:
        return request_change(
            session=session,
            action=action,
            policy_id=policy_id,
            requester=user,
            settings=settings,
            now=now,
        )


def proposal_hook(settings: Settings) -> AfterRaise:
    """After an OBSERVE_READY alert is stored: open the enforcement request, link it."""

    async def after_raise(session: Session, alert: Alert, watched: Watched) -> None:
        if alert.condition is not Condition.OBSERVE_READY:
            return
        raised = alert.raised_at
        assert raised is not None  # stamped by the state machine with the sweep's clock
        try:
            request = request_change(
                session=session,
                action=ActionId.ENFORCE,
                policy_id=int(watched.id),
                requester=SYSTEM,
                settings=settings,
                now=raised,
            )
        except PolicyError as exc:
            log.warning("could not propose enforcing %s: %s", watched.name, exc)
            return
        assert request.id is not None
        set_change_request(session=session, alert_id=alert.id, request_id=request.id)
        session.commit()

    return after_raise
