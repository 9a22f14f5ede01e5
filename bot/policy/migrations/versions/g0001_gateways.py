"""gateways: Mimecast group members as last synced, drift, and hand-overs of manual gateways

Revision ID: g0001
Revises: e0001
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "g0001"
down_revision: str | None = "e0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gateway_member",
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("list_name", sa.String(length=16), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("gateway", "list_name", "domain"),
    )
    op.create_table(
        "gateway_drift",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("list_name", sa.String(length=16), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=200), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("alert", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["change_request.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("gateway_drift", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gateway_drift_state"), ["state"], unique=False)
    op.create_table(
        "gateway_handover",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("lists", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted", sa.JSON(), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_by_id", sa.String(length=64), nullable=True),
        sa.Column("applied_by_name", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("gateway_handover", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gateway_handover_gateway"), ["gateway"], unique=False)
        batch_op.create_index(batch_op.f("ix_gateway_handover_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gateway_handover", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_handover_state"))
        batch_op.drop_index(batch_op.f("ix_gateway_handover_gateway"))
    op.drop_table("gateway_handover")
    with op.batch_alter_table("gateway_drift", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_drift_state"))
    op.drop_table("gateway_drift")
    op.drop_table("gateway_member")
