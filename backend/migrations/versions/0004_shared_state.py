"""State several instances share: hand-off codes, job leases, the sampling instance.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoff_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("sealed_token", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_handoff_codes_expires_at", "handoff_codes", ["expires_at"])
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.Column("last_run_by", sa.String(200), nullable=True),
        sa.Column("last_outcome", sa.String(20), nullable=False),
        sa.Column("last_error", sa.String(1000), nullable=True),
    )
    # Batch mode: SQLite cannot alter a table in place (adding a column it can, but the
    # batch keeps the migration one shape for both engines).
    with op.batch_alter_table("metric_samples") as batch:
        batch.add_column(sa.Column("instance", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("metric_samples") as batch:
        batch.drop_column("instance")
    op.drop_table("job_leases")
    op.drop_index("ix_handoff_codes_expires_at", table_name="handoff_codes")
    op.drop_table("handoff_codes")
