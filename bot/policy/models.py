"""The tables of the policy store (SQLModel; schema changes are Alembic migrations).

``XBase`` holds the fields a caller supplies, ``X(table=True)`` adds keys,
bookkeeping and timestamps. Enumerated columns are plain strings holding the
values of the ``StrEnum`` s in :mod:`bot.policy.types`, so adding a request kind
(the monitor's relax/suspend/enforce) needs no migration. Every timestamp is
timezone-aware UTC (:class:`~bot.policy.types.UTCDateTime`).

"Unique while active" (one active policy per domain, one active route per
host and port) is a partial unique index, which SQLite and PostgreSQL both have.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from bot.policy.types import (
    DraftState,
    PolicyMode,
    RecordStatus,
    RequestState,
    UTCDateTime,
)

_ACTIVE = text("status = 'active'")


class InboundRouteBase(SQLModel):
    host: str = Field(max_length=253)
    port: int = Field(default=25)


class Approved(SQLModel):
    """Columns every approved record carries: its state, and who asked, who approved, when."""

    status: str = Field(default=RecordStatus.ACTIVE, max_length=16, index=True)
    version: int = Field(default=1)
    request_id: int | None = Field(default=None, foreign_key="change_request.id")
    requested_by_id: str | None = Field(default=None, max_length=64)
    requested_by_name: str | None = Field(default=None, max_length=200)
    approved_by_id: str | None = Field(default=None, max_length=64)
    approved_by_name: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)  # from the caller's clock
    updated_at: datetime = Field(sa_type=UTCDateTime)  # from the caller's clock
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InboundRoute(Approved, InboundRouteBase, table=True):
    """One of the company's own inbound mail servers."""

    __tablename__ = "inbound_route"
    __table_args__ = (
        Index(
            "uq_inbound_route_active",
            "host",
            "port",
            unique=True,
            sqlite_where=_ACTIVE,
            postgresql_where=_ACTIVE,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    last_verdict: str | None = Field(default=None, max_length=16)
    last_validation_id: int | None = Field(default=None, foreign_key="validation.id")
    last_validated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def label(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class DomainPolicyBase(SQLModel):
    domain: str = Field(max_length=253, index=True)  # normalised (A-labels, lower case)
    level: str = Field(max_length=16)  # PolicyLevel
    mx_hosts: list[str] = Field(default_factory=list, sa_type=JSON)  # validated MX names
    secure_delivery: bool = Field(default=True)  # outbound TLS enforced
    secure_receipt: bool = Field(default=True)  # inbound plaintext refused
    mode: str = Field(default=PolicyMode.ENFORCE, max_length=16)  # PolicyMode
    relaxed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # what the partner publishes (DNSSEC, DANE, MTA-STS) as its admitting validation saw
    # it: bot.probe.partner.PartnerTls.to_dict(); None for policies admitted before
    partner: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class DomainPolicy(Approved, DomainPolicyBase, table=True):
    """The TLS policy for one external (partner) domain."""

    __tablename__ = "domain_policy"
    __table_args__ = (
        Index(
            "uq_domain_policy_active",
            "domain",
            unique=True,
            sqlite_where=_ACTIVE,
            postgresql_where=_ACTIVE,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    validation_id: int | None = Field(default=None, foreign_key="validation.id")


class ValidationBase(SQLModel):
    target: str = Field(max_length=1000)  # what was probed, as given
    kind: str = Field(max_length=16)  # TargetKind: domain, email, route
    domain: str = Field(max_length=253, index=True)
    verdict: str = Field(max_length=16)  # Verdict
    mx_hosts: list[str] = Field(default_factory=list, sa_type=JSON)  # validated hosts
    result: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # TargetResult.to_dict()


class Validation(ValidationBase, table=True):
    """One probe result with its full evidence."""

    id: int | None = Field(default=None, primary_key=True)
    actor_id: str = Field(max_length=64)
    actor_name: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)  # from the caller's clock


class Draft(SQLModel, table=True):
    """A user's unsaved batch in the Slack flow; ``version`` guards concurrent edits."""

    id: int | None = Field(default=None, primary_key=True)
    owner_id: str = Field(max_length=64, index=True)
    owner_name: str = Field(max_length=200)
    kind: str = Field(default="add_domains", max_length=32)
    state: str = Field(default=DraftState.OPEN, max_length=16)
    lines: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    next_line: int = Field(default=1)
    version: int = Field(default=1)
    request_id: int | None = Field(default=None, foreign_key="change_request.id")
    created_at: datetime = Field(sa_type=UTCDateTime)  # from the caller's clock
    updated_at: datetime = Field(sa_type=UTCDateTime)  # from the caller's clock


class ChangeRequestBase(SQLModel):
    kind: str = Field(max_length=32)  # RequestKind (open set)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # {"items": [...]}
    note: str | None = Field(default=None, sa_type=Text)


class ChangeRequest(ChangeRequestBase, table=True):
    """A proposed change to routes or policies, waiting for (or past) its approvals."""

    __tablename__ = "change_request"

    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(default=RequestState.PENDING, max_length=16, index=True)
    reason: str | None = Field(default=None, sa_type=Text)  # why rejected/expired/superseded
    result: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)  # applied effects
    requester_id: str = Field(max_length=64)
    requester_name: str = Field(max_length=200)
    required_approvals: int = Field(default=1)
    reverts_id: int | None = Field(default=None, foreign_key="change_request.id")
    lock: int = Field(default=0)  # bumped by every conditional update
    created_at: datetime = Field(sa_type=UTCDateTime)  # from the caller's clock
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by_id: str | None = Field(default=None, max_length=64)
    decided_by_name: str | None = Field(default=None, max_length=200)
    # where the request was announced for approval, e.g. {"channel": "C…", "ts": "…"}
    announcement: dict[str, Any] | None = Field(default=None, sa_type=JSON)

    @property
    def items(self) -> list[dict[str, Any]]:
        items = self.payload.get("items", [])
        assert isinstance(items, list)
        return items


class Approval(SQLModel, table=True):
    """One approver's approval of one request (at most one per pair)."""

    __table_args__ = (UniqueConstraint("request_id", "approver_id", name="uq_approval_pair"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="change_request.id", index=True)
    approver_id: str = Field(max_length=64)
    approver_name: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)  # from the caller's clock


class AuditEvent(SQLModel, table=True):
    """One append-only event; ``hash`` covers its fields and ``prev_hash``."""

    __tablename__ = "audit_event"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_type=UTCDateTime)
    actor_id: str = Field(max_length=64)
    actor_name: str = Field(max_length=200)
    action: str = Field(max_length=64, index=True)
    subject: str = Field(max_length=500)
    before: Any | None = Field(default=None, sa_type=JSON)
    after: Any | None = Field(default=None, sa_type=JSON)
    request_id: int | None = Field(default=None, index=True)  # no FK: the trail outlives rows
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The single row naming the chain's last event; appends lock it, so they are serial."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(default=0)
    hash: str = Field(default="0" * 64, max_length=64)


class Notice(SQLModel, table=True):
    """Someone must be told about a decision: written in the decision's own transaction.

    The store's outbox. A decision commits its notice with it, so a process that dies
    between the commit and telling people leaves the notice behind, and whichever
    replica delivers notices next tells them (:mod:`bot.policy.notices`).
    """

    __tablename__ = "notice"

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=32)  # NoticeTopic
    request_id: int = Field(foreign_key="change_request.id")
    created_at: datetime = Field(sa_type=UTCDateTime)  # from the caller's clock
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=500)


class SeenRequest(SQLModel, table=True):
    """An inbound request already acted on, by its key: replays and retries do nothing twice."""

    __tablename__ = "seen_request"

    key: str = Field(primary_key=True, max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)  # from the caller's clock


class GatewayMember(SQLModel, table=True):
    """A domain tlsbot keeps in one of a gateway's lists (a Mimecast profile group), as of
    its last sync: what it put there, or found there and the policy wants. A member of the
    group that is not here, and not in the policy, was added outside tlsbot (drift)."""

    __tablename__ = "gateway_member"

    gateway: str = Field(primary_key=True, max_length=32)  # GatewayName
    list_name: str = Field(primary_key=True, max_length=16)  # ListName: strict, relaxed, inbound
    domain: str = Field(primary_key=True, max_length=253)
    synced_at: datetime = Field(sa_type=UTCDateTime)  # from the caller's clock


class GatewayDrift(SQLModel, table=True):
    """A member added to or removed from a gateway's list outside tlsbot, until resolved.

    ``state``: ``open`` (left in place, alerted), ``revert`` (a Revert request was
    approved: the next sync puts the list back), ``resolved`` (gone, adopted or reverted).
    """

    __tablename__ = "gateway_drift"

    id: int | None = Field(default=None, primary_key=True)
    gateway: str = Field(max_length=32)
    list_name: str = Field(max_length=16)
    domain: str = Field(max_length=253)
    direction: str = Field(max_length=16)  # DriftDirection: added, removed
    state: str = Field(default="open", max_length=16, index=True)
    detected_at: datetime = Field(sa_type=UTCDateTime)  # from the caller's clock
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolution: str | None = Field(default=None, max_length=200)
    request_id: int | None = Field(default=None, foreign_key="change_request.id")
    alert: dict[str, Any] | None = Field(default=None, sa_type=JSON)  # {"channel", "ts"}


class GatewayHandover(SQLModel, table=True):
    """A hand-over file (script, change sheet) for a manual gateway, until an admin applies it.

    ``state``: ``pending`` (waiting to be applied), ``applied``, or ``superseded`` (a newer
    hand-over of the same gateway replaces it; applying the newer one applies both).
    """

    __tablename__ = "gateway_handover"

    id: int | None = Field(default=None, primary_key=True)
    gateway: str = Field(max_length=32, index=True)
    state: str = Field(default="pending", max_length=16, index=True)
    lists: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # ListName -> [domains]
    sha256: str = Field(max_length=64)  # of the file's bare content
    event_seq: int  # the export.published audit event
    created_at: datetime = Field(sa_type=UTCDateTime)  # from the caller's clock
    posted: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)  # messages sent
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    applied_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    applied_by_id: str | None = Field(default=None, max_length=64)
    applied_by_name: str | None = Field(default=None, max_length=200)


class MtaStsCache(SQLModel, table=True):
    """MTA-STS policies as fetched (RFC 8461 §5.1), shared by every replica's probe.

    One row per domain: the policy fetched under the TXT record's ``policy_id``, usable
    until ``expires_at`` (``fetched_at`` + ``max_age``) while the TXT record keeps that id.
    Read and written by :mod:`bot.policy.sts_cache`.
    """

    __tablename__ = "mta_sts_cache"

    domain: str = Field(primary_key=True, max_length=253)
    policy_id: str = Field(max_length=32)
    mode: str = Field(max_length=16)
    mx: list[str] = Field(default_factory=list, sa_type=JSON)
    max_age: int
    warnings: list[dict[str, str]] = Field(default_factory=list, sa_type=JSON)
    fetched_at: datetime = Field(sa_type=UTCDateTime)  # from the caller's clock
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


# The evidence tables (Postfix log counts, TLS-RPT reports) live in their own module;
# importing it here registers them wherever the policy store's tables are known.
from bot.policy.evidence import models as _evidence_models  # noqa: E402, F401
