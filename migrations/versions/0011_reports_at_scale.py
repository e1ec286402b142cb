"""reports at scale: each classification period's spell start; indexes of a case's snapshots on
a run and of a debt's placed snapshots

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

# Each period's spell start from the history kept so far (frozen here; the daily run keeps it
# from now on): a period's spell number is the count of current (M0) periods before it, so the
# delinquent periods after a return to current and the next return share it, and the spell
# began on the first delinquent period of its number (none: the period before was current).
BACKFILL = """
UPDATE classification_history SET spell_from = spells.began_on
FROM (
    SELECT id, min(CASE WHEN bucket <> 'M0' THEN from_date END)
        OVER (PARTITION BY case_id, spell) AS began_on
    FROM (
        SELECT id, case_id, bucket, from_date,
            count(CASE WHEN bucket = 'M0' THEN 1 END) OVER (
                PARTITION BY case_id ORDER BY from_date, id
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
            ) AS spell
        FROM classification_history
    ) AS numbered
) AS spells
WHERE classification_history.id = spells.id
"""


def upgrade() -> None:
    with op.batch_alter_table("classification_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spell_from", sa.Date(), nullable=True))
    op.execute(BACKFILL)
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
    with op.batch_alter_table("classification_history", schema=None) as batch_op:
        batch_op.drop_column("spell_from")
