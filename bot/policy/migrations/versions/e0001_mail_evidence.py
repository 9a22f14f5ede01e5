"""mail evidence: Postfix log traffic counts, log cursors, TLS-RPT reports

Revision ID: e0001
Revises: c0001
Create Date: 2026-12-04 18:45:29.973838
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e0001"
down_revision: str | None = "c0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "log_cursor",
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("inode", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("lines", sa.BigInteger(), nullable=False),
        sa.Column("unknown", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )
    op.create_table(
        "mail_traffic",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("domain", "day", "kind", "name", name="uq_mail_traffic_key"),
    )
    with op.batch_alter_table("mail_traffic", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mail_traffic_day"), ["day"], unique=False)

    op.create_table(
        "tlsrpt_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.String(length=500), nullable=False),
        sa.Column("organization", sa.String(length=500), nullable=False),
        sa.Column("contact_info", sa.String(length=500), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("successful", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("report_id"),
    )
    with op.batch_alter_table("tlsrpt_report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tlsrpt_report_end_at"), ["end_at"], unique=False)

    op.create_table(
        "tlsrpt_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_pk", sa.Integer(), nullable=False),
        sa.Column("policy_domain", sa.String(length=253), nullable=False),
        sa.Column("mx_host", sa.String(length=253), nullable=True),
        sa.Column("receiving_ip", sa.String(length=64), nullable=True),
        sa.Column("sending_ip", sa.String(length=64), nullable=True),
        sa.Column("result_type", sa.String(length=64), nullable=False),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_pk"],
            ["tlsrpt_report.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("tlsrpt_failure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tlsrpt_failure_end_at"), ["end_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_tlsrpt_failure_mx_host"), ["mx_host"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_tlsrpt_failure_report_pk"), ["report_pk"], unique=False
        )

    op.create_table(
        "tlsrpt_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_pk", sa.Integer(), nullable=False),
        sa.Column("policy_domain", sa.String(length=253), nullable=False),
        sa.Column("policy_type", sa.String(length=32), nullable=False),
        sa.Column("mx_hosts", sa.JSON(), nullable=False),
        sa.Column("successful", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_pk"],
            ["tlsrpt_report.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("tlsrpt_policy", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tlsrpt_policy_policy_domain"), ["policy_domain"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_tlsrpt_policy_report_pk"), ["report_pk"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("tlsrpt_policy", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tlsrpt_policy_report_pk"))
        batch_op.drop_index(batch_op.f("ix_tlsrpt_policy_policy_domain"))

    op.drop_table("tlsrpt_policy")
    with op.batch_alter_table("tlsrpt_failure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tlsrpt_failure_report_pk"))
        batch_op.drop_index(batch_op.f("ix_tlsrpt_failure_mx_host"))
        batch_op.drop_index(batch_op.f("ix_tlsrpt_failure_end_at"))

    op.drop_table("tlsrpt_failure")
    with op.batch_alter_table("tlsrpt_report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tlsrpt_report_end_at"))

    op.drop_table("tlsrpt_report")
    with op.batch_alter_table("mail_traffic", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_traffic_day"))

    op.drop_table("mail_traffic")
    op.drop_table("log_cursor")
