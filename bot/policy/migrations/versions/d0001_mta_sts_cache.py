"""mta_sts_cache: MTA-STS policies shared by replicas; domain_policy.partner: DANE and MTA-STS

Revision ID: d0001
Revises: s0001
Create Date: 2026-12-12 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d0001"
down_revision: str | None = "s0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mta_sts_cache",
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("policy_id", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("mx", sa.JSON(), nullable=False),
        sa.Column("max_age", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("domain"),
    )
    with op.batch_alter_table("mta_sts_cache", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mta_sts_cache_expires_at"), ["expires_at"], unique=False
        )
    with op.batch_alter_table("domain_policy", schema=None) as batch_op:
        batch_op.add_column(sa.Column("partner", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("domain_policy", schema=None) as batch_op:
        batch_op.drop_column("partner")
    with op.batch_alter_table("mta_sts_cache", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mta_sts_cache_expires_at"))
    op.drop_table("mta_sts_cache")
