"""scale: a change marker on policies and routes, the monitor's sync mark, the sweep that
last claimed an item, and an index of the alerts still to deliver

Revision ID: s0001
Revises: g0001
Create Date: 2026-12-10 09:00:00

``change_head`` and ``subject_change`` are filled by triggers on ``domain_policy`` and
``inbound_route`` (:mod:`bot.policy.changes`); the rows already there are recorded as
change 1, so the first reader after the upgrade reads them all once.

SQLite: a later migration that rebuilds ``domain_policy`` or ``inbound_route`` with
``batch_alter_table`` ("move and copy") drops their triggers with the old table; it
must install them again (``changes.install_statements``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.policy.changes import install_statements, remove_statements

revision: str = "s0001"
down_revision: str | None = "g0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNDELIVERED = (
    "(sent_at IS NULL"
    " OR (resolved_at IS NOT NULL AND notify_resolution AND resolve_sent_at IS NULL))"
)


def upgrade() -> None:
    op.create_table(
        "change_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "subject_change",
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("subject", "subject_id"),
    )
    with op.batch_alter_table("subject_change", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subject_change_seq", ["seq", "subject", "subject_id"], unique=False
        )
    op.create_table(
        "monitor_sync",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("monitor_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("swept_by", sa.String(length=100), nullable=True))
        batch_op.create_index(
            "ix_monitor_item_verdict_name", ["last_verdict", "name"], unique=False
        )
    with op.batch_alter_table("monitor_alert", schema=None) as batch_op:
        batch_op.create_index(
            "ix_monitor_alert_undelivered",
            ["attempts", "raised_at"],
            unique=False,
            sqlite_where=sa.text(_UNDELIVERED),
            postgresql_where=sa.text(_UNDELIVERED),
        )
    # what exists now is change 1; the triggers number every later change
    op.execute(
        "INSERT INTO subject_change (subject, subject_id, seq) "
        "SELECT 'policy', id, 1 FROM domain_policy "
        "UNION ALL SELECT 'route', id, 1 FROM inbound_route"
    )
    op.execute(
        "INSERT INTO change_head (id, seq) "
        "SELECT 1, CASE WHEN EXISTS (SELECT 1 FROM subject_change) THEN 1 ELSE 0 END"
    )
    op.execute("INSERT INTO monitor_sync (id, seq) VALUES (1, 0)")
    for statement in install_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in remove_statements(op.get_bind().dialect.name):
        op.execute(statement)
    with op.batch_alter_table("monitor_alert", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_monitor_alert_undelivered",
            sqlite_where=sa.text(_UNDELIVERED),
            postgresql_where=sa.text(_UNDELIVERED),
        )
    with op.batch_alter_table("monitor_item", schema=None) as batch_op:
        batch_op.drop_index("ix_monitor_item_verdict_name")
        batch_op.drop_column("swept_by")
    op.drop_table("monitor_sync")
    with op.batch_alter_table("subject_change", schema=None) as batch_op:
        batch_op.drop_index("ix_subject_change_seq")
    op.drop_table("subject_change")
    op.drop_table("change_head")
