"""Plain data the view builders take: loaded from the store, free of ORM objects."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from bot.export.handover import GatewayLine, PolicyGateway
from bot.policy.evidence.traffic import Traffic
from bot.policy.monitor.history import DomainStatus, Listing, PolicyLine, RiskRow
from bot.policy.validations import Checked
from bot.probe.model import Verdict


@dataclass(frozen=True, slots=True)
class RouteRow:
    id: int
    label: str  # host:port
    verdict: Verdict | None = None  # None: not validated yet
    reason: str | None = None
    checked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PendingItem:
    request_id: int
    text: str  # "add route mx1.corp.example:25"


@dataclass(frozen=True, slots=True)
class RoutesPage:
    routes: tuple[RouteRow, ...] = ()
    pending: tuple[PendingItem, ...] = ()
    problem: str | None = None  # why Next was refused, shown at the top
    validating: bool = False
    notice: str | None = None  # e.g. "Change request #3 awaits approval"


class RowState(enum.StrEnum):
    POLICY = "policy"  # an approved policy
    DRAFT = "draft"  # in this user's batch, not yet submitted
    PENDING = "pending"  # in a change request awaiting approval


@dataclass(frozen=True, slots=True)
class DomainRow:
    key: str  # "p12" for a policy id, "l3" for a draft line number
    domain: str
    state: RowState
    verdict: Verdict | None = None
    level: str | None = None  # strict / relaxed for a policy
    evidence: Checked | None = None  # the validation behind the row: its line, and More
    validating: bool = False


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    total: int


@dataclass(frozen=True, slots=True)
class DomainsPage:
    rows: tuple[DomainRow, ...]  # this page only
    page: int = 0
    pages: int = 1
    total_policies: int = 0
    draft_lines: int = 0
    progress: Progress | None = None
    pending: tuple[PendingItem, ...] = ()
    expanded: frozenset[str] = frozenset()
    notice: str | None = None


@dataclass(frozen=True, slots=True)
class BatchLine:
    number: int
    text: str
    domain: str | None
    problem: str | None  # None: clean


@dataclass(frozen=True, slots=True)
class BatchReview:
    lines: tuple[BatchLine, ...]

    @property
    def clean(self) -> tuple[BatchLine, ...]:
        return tuple(line for line in self.lines if line.problem is None)

    @property
    def problems(self) -> tuple[BatchLine, ...]:
        return tuple(line for line in self.lines if line.problem is not None)


@dataclass(frozen=True, slots=True)
class Summary:
    total_policies: int
    request_id: int | None = None
    requested: tuple[str, ...] = ()  # what the new request asks for
    pending: tuple[PendingItem, ...] = ()


@dataclass(frozen=True, slots=True)
class RequestCard:
    """A change request as the approval channel shows it."""

    id: int
    title: str  # "Add 3 external domains"
    requester_id: str
    created_at: datetime
    items: tuple[str, ...]
    state: str = "pending"
    counts: dict[str, int] = field(default_factory=dict)  # verdict -> number of items
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    approvals: tuple[str, ...] = ()  # user ids who approved so far
    required: int = 1
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class AuditLine:
    at: datetime
    actor_id: str
    action: str
    subject: str


@dataclass(frozen=True, slots=True)
class HomeData:
    levels: dict[str, int]  # strict / relaxed -> number of policies
    routes: int
    pending: tuple[PendingItem, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (domain, reason)
    audit: tuple[AuditLine, ...] = ()
    watched: tuple[RiskRow, ...] = ()  # monitored policies and routes, at risk first
    traffic: tuple[Traffic, ...] = ()  # real mail of the last days, deferrals first
    gateways: tuple[GatewayLine, ...] = ()  # each gateway in use: in force, waiting, drift


@dataclass(frozen=True, slots=True)
class DomainStatusPage:
    """``/tls status DOMAIN``: the policy, its monitoring, its real mail, its changes."""

    domain: str
    row: DomainRow | None  # None: no policy (a validation only, or nothing)
    history: DomainStatus | None
    traffic: Traffic | None
    changes: tuple[AuditLine, ...] = ()


@dataclass(frozen=True, slots=True)
class StatusPage:
    """One page of ``/tls status [FILTER]``: the policies, where each stands on the gateways."""

    lines: tuple[PolicyLine, ...]
    listing: Listing
    offset: int
    total: int  # policies matching the filter
    size: int  # policies a page
    levels: dict[str, int] = field(default_factory=dict)  # every policy, by level
    routes: int = 0
    on_gateways: dict[str, tuple[PolicyGateway, ...]] = field(default_factory=dict)
    gateways: tuple[GatewayLine, ...] = ()  # each gateway in use, as the App Home shows it
    pending: tuple[PendingItem, ...] = ()
