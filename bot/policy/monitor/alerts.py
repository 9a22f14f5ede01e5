"""The values the alert state machine works on: what is watched, what it remembers, what it says.

Pure data, no I/O. :class:`Watched` describes a policy or an inbound route as the
policy store holds it; :class:`WatchState` is what the monitor remembers about it
between checks (stored in the database, never in the process); :class:`Alert`
is one condition raised (or, with ``resolved_at`` set, cleared) for one item.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.probe.model import Verdict
from bot.probe.partner import PartnerTls


class SubjectKind(enum.StrEnum):
    POLICY = "policy"  # an external domain's TLS policy
    ROUTE = "route"  # one of the company's inbound routes


class Condition(enum.StrEnum):
    """One alert per condition per item, until its fingerprint changes."""

    LEVEL_DROP = "level-drop"
    UNREACHABLE = "unreachable"
    CERT_EXPIRING = "certificate-expiring"
    MX_NOT_COVERED = "mx-not-covered"
    ROUTE_DEGRADED = "route-degraded"
    RELAXED_LAPSING = "relaxed-lapsing"
    UPGRADE_AVAILABLE = "upgrade-available"
    OBSERVE_READY = "observe-ready"
    # what the partner publishes, against what the policy was admitted with
    DNSSEC_DROPPED = "dnssec-dropped"  # the MX answer is no longer DNSSEC-secure
    TLSA_BROKEN = "tlsa-broken"  # a TLSA record no longer matches (or fails DNSSEC)
    STS_CHANGED = "mta-sts-changed"  # the MTA-STS policy's id, mode or mx changed
    # from real mail, not the probe (bot.policy.monitor.evidence)
    TRAFFIC_DEFERRED = "traffic-deferred"  # an enforced policy defers real deliveries
    TLSRPT_FAILURES = "tlsrpt-failures"  # TLS-RPT reports: senders fail to reach our MX


class Severity(enum.StrEnum):
    CRITICAL = "critical"  # mail is, or soon will be, deferred or refused
    WARNING = "warning"  # it will be unless someone acts
    INFO = "info"  # an opportunity: upgrade, enforce


class ActionId(enum.StrEnum):
    """Buttons offered with an alert; the values are the Slack action ids."""

    RECHECK = "monitor_recheck"
    RELAX = "monitor_relax"
    SUSPEND = "monitor_suspend"
    UPGRADE = "monitor_upgrade"
    ENFORCE = "monitor_enforce"

    @property
    def label(self) -> str:
        return _ACTION_LABELS[self]


_ACTION_LABELS = {
    ActionId.RECHECK: "Re-check now",
    ActionId.RELAX: "Relax to encrypt",
    ActionId.SUSPEND: "Suspend policy",
    ActionId.UPGRADE: "Upgrade to strict",
    ActionId.ENFORCE: "Enforce policy",
}


@dataclass(frozen=True, slots=True)
class Watched:
    """A policy or route as the policy store holds it, reduced to what the rules need."""

    kind: SubjectKind
    id: str
    name: str  # the domain, or the route's host[:port]
    level: Verdict  # the level admitted: STRICT or RELAXED
    observe: bool = False  # observe mode: monitored, not published
    match: tuple[str, ...] = ()  # the validated MX names published as match=
    relaxed_until: datetime | None = None
    created_at: datetime | None = None
    partner: PartnerTls = field(default_factory=PartnerTls)  # as the admitting validation saw

    @property
    def dane_only(self) -> bool:
        """Published as ``dane-only``: a DANE failure defers the mail."""
        return (
            self.kind is SubjectKind.POLICY
            and self.partner.dane
            and self.level is Verdict.STRICT
            and not self.observe
        )

    @property
    def key(self) -> str:
        return f"{self.kind.value}:{self.id}"

    def relaxed_end(self, relaxed_days: int) -> datetime | None:
        """When a relaxed policy lapses: ``relaxed_until``, else admission + ``relaxed_days``."""
        if self.level is not Verdict.RELAXED:
            return None
        if self.relaxed_until is not None:
            return self.relaxed_until
        if self.created_at is not None:
            return self.created_at + timedelta(days=relaxed_days)
        return None


@dataclass(frozen=True, slots=True)
class WatchState:
    """What the monitor remembers about one item between checks."""

    open: Mapping[Condition, Alert] = field(default_factory=dict)  # the alerts raised, not cleared
    unreachable_streak: int = 0
    clean_since: datetime | None = None  # observe mode: first of an unbroken run of clean checks
    last_verdict: Verdict | None = None


@dataclass(frozen=True, slots=True)
class Thresholds:
    expiry_warn_days: int = 14
    relaxed_remind_days: int = 14
    relaxed_days: int = 90  # a relaxed policy without an end date ends this long after admission
    observe_days: int = 7
    unreachable_checks: int = 2
    tlsrpt_min_sessions: int = 10  # failed sessions to one MX host in the reports of a day …
    tlsrpt_min_share: float = 0.05  # … and this share of the sessions reported with them


@dataclass(frozen=True, slots=True)
class Alert:
    """One condition of one item, raised; ``resolved_at`` set when it is the follow-up."""

    subject: SubjectKind
    subject_id: str
    subject_name: str
    condition: Condition
    fingerprint: str
    severity: Severity
    summary: str  # one line: what is wrong
    mail_impact: str  # one sentence: what will happen to mail
    details: tuple[str, ...] = ()
    actions: tuple[ActionId, ...] = ()
    raised_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None  # one sentence: why it is over
    evidence: Mapping[str, Any] = field(default_factory=dict)  # the probe result as JSON
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    change_request_id: str | None = None  # a change request the monitor opened for it
    message_ref: str | None = None  # what the sink returned for the raised message

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None

    def resolve(self, at: datetime, resolution: str) -> Alert:
        return replace(self, resolved_at=at, resolution=resolution)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subject": self.subject.value,
            "subject_id": self.subject_id,
            "subject_name": self.subject_name,
            "condition": self.condition.value,
            "fingerprint": self.fingerprint,
            "severity": self.severity.value,
            "summary": self.summary,
            "mail_impact": self.mail_impact,
            "details": list(self.details),
            "actions": [a.value for a in self.actions],
            "raised_at": self.raised_at.isoformat() if self.raised_at else None,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "resolution": self.resolution,
            "evidence": dict(self.evidence),
            "change_request_id": self.change_request_id,
            "message_ref": self.message_ref,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        def when(value: Any) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        return cls(
            id=str(data["id"]),
            subject=SubjectKind(data["subject"]),
            subject_id=str(data["subject_id"]),
            subject_name=str(data["subject_name"]),
            condition=Condition(data["condition"]),
            fingerprint=str(data["fingerprint"]),
            severity=Severity(data["severity"]),
            summary=str(data["summary"]),
            mail_impact=str(data["mail_impact"]),
            details=tuple(data.get("details") or ()),
            actions=tuple(ActionId(a) for a in data.get("actions") or ()),
            raised_at=when(data.get("raised_at")),
            resolved_at=when(data.get("resolved_at")),
            resolution=data.get("resolution"),
            evidence=dict(data.get("evidence") or {}),
            change_request_id=data.get("change_request_id"),
            message_ref=data.get("message_ref"),
        )
