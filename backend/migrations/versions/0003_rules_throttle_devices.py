"""Rule locks, sign-in throttle counters, aggregated audit rows, desktop sessions.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule_locks",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("taken", sa.Integer(), nullable=False),
    )
    op.create_table(
        "throttle_counters",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("window_ends_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
    )
    op.create_index("ix_throttle_counters_window_ends_at", "throttle_counters", ["window_ends_at"])
    # Batch mode: SQLite cannot add a constraint or drop a column in place.
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(
            sa.Column("count", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )
        batch.add_column(sa.Column("group_key", sa.String(64), nullable=True))
        batch.create_index("ix_audit_events_group_key", ["group_key"], unique=True)
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(
            sa.Column("via_desktop_app", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("via_desktop_app")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_index("ix_audit_events_group_key")
        batch.drop_column("group_key")
        batch.drop_column("count")
    op.drop_table("throttle_counters")
    op.drop_table("rule_locks")
