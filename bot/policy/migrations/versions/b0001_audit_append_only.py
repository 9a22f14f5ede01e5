"""audit trail append-only: triggers refuse UPDATE, DELETE (and TRUNCATE) of audit_event

Revision ID: b0001
Revises: a0001
Create Date: 2026-11-29 21:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from bot.policy.append_only import install_statements, remove_statements

revision: str = "b0001"
down_revision: str | None = "a0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in install_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in remove_statements(dialect):
        op.execute(statement)
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS tlsbot_audit_append_only()")
