"""reports at scale: indexes of a case's snapshots on a run and of a debt's placed snapshots

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 17:50:56.020284
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLACED = sa.text("agency_id IS NOT NULL")


def upgrade() -> None:
    # A report reads, per complaint, promise or recovery, its case's snapshots on the run of its
    # day, and per payment its debt's last snapshot with an agency: one probe each.
    with op.batch_alter_table("debt_snapshots", schema=None) as batch_op:
        batch_op.create_index("ix_debt_snapshots_case_as_of", ["case_id", "as_of"], unique=False)
        batch_op.create_index(
            "ix_debt_snapshots_placed",
            ["debt_id", "as_of"],
            unique=False,
            postgresql_where=PLACED,
            sqlite_where=PLACED,
        )


def downgrade() -> None:
    with op.batch_alter_table("debt_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_debt_snapshots_placed", postgresql_where=PLACED, sqlite_where=PLACED)
        batch_op.drop_index("ix_debt_snapshots_case_as_of")
