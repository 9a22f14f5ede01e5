"""The evidence tables: Postfix log traffic counts, where the reader stopped, TLS-RPT reports.

``mail_traffic`` holds one count per recipient domain, day, kind and name (see
:class:`~bot.policy.evidence.postfix_log.Kind`); counts are added with an upsert,
so several batches (and restarts) add up. ``log_cursor`` is where a log reader
stopped — file inode and byte position, the per-process TLS state — written in
the same transaction as the counts, so a restart resumes exactly there.
``tlsrpt_report`` holds each TLS-RPT report once (``report_id`` unique), with its
policies (``tlsrpt_policy``) and failure details (``tlsrpt_failure``) as rows to
query by domain and MX host.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.policy.types import UTCDateTime


class MailTraffic(SQLModel, table=True):
    """How many deliveries (or TLS deferrals) to one domain on one day, by one measure."""

    __tablename__ = "mail_traffic"
    __table_args__ = (
        UniqueConstraint("domain", "day", "kind", "name", name="uq_mail_traffic_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    domain: str = Field(max_length=253)
    day: date = Field(index=True)
    kind: str = Field(max_length=16)  # Kind: delivered, version, deferred
    name: str = Field(max_length=32)  # a Level, a TLS version, a Reason
    count: int = Field(default=0, sa_type=BigInteger)


class LogCursor(SQLModel, table=True):
    """Where the reader of one log stopped; moved in the transaction that adds its counts."""

    __tablename__ = "log_cursor"

    source: str = Field(primary_key=True, max_length=500)  # the log file's absolute path
    inode: int = Field(sa_type=BigInteger)
    position: int = Field(sa_type=BigInteger)  # bytes read and counted
    state: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # parser.state()
    lines: int = Field(default=0, sa_type=BigInteger)
    unknown: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime = Field(sa_type=UTCDateTime)  # from the caller's clock


class TlsReport(SQLModel, table=True):
    """One TLS-RPT report (RFC 8460), stored once per report-id."""

    __tablename__ = "tlsrpt_report"

    id: int | None = Field(default=None, primary_key=True)
    report_id: str = Field(max_length=500, unique=True)
    organization: str = Field(max_length=500)
    contact_info: str | None = Field(default=None, max_length=500)
    start_at: datetime = Field(sa_type=UTCDateTime)
    end_at: datetime = Field(sa_type=UTCDateTime, index=True)
    via: str = Field(max_length=16)  # http, mail, file
    successful: int = Field(default=0, sa_type=BigInteger)
    failed: int = Field(default=0, sa_type=BigInteger)
    report: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # as received
    received_at: datetime = Field(sa_type=UTCDateTime)  # from the caller's clock


class TlsReportPolicy(SQLModel, table=True):
    """One ``policies[]`` entry of a report: its domain, type and session totals."""

    __tablename__ = "tlsrpt_policy"

    id: int | None = Field(default=None, primary_key=True)
    report_pk: int = Field(foreign_key="tlsrpt_report.id", index=True)
    policy_domain: str = Field(max_length=253, index=True)
    policy_type: str = Field(max_length=32)
    mx_hosts: list[str] = Field(default_factory=list, sa_type=JSON)
    successful: int = Field(default=0, sa_type=BigInteger)
    failed: int = Field(default=0, sa_type=BigInteger)


class TlsReportFailure(SQLModel, table=True):
    """One ``failure-details[]`` entry: which MX host, which result type, how many sessions."""

    __tablename__ = "tlsrpt_failure"

    id: int | None = Field(default=None, primary_key=True)
    report_pk: int = Field(foreign_key="tlsrpt_report.id", index=True)
    policy_domain: str = Field(max_length=253)
    mx_host: str | None = Field(default=None, max_length=253, index=True)
    receiving_ip: str | None = Field(default=None, max_length=64)
    sending_ip: str | None = Field(default=None, max_length=64)
    result_type: str = Field(max_length=64)
    sessions: int = Field(default=0, sa_type=BigInteger)
    end_at: datetime = Field(sa_type=UTCDateTime, index=True)  # the report's, for windows
