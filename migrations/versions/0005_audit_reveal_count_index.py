"""index for counting a staff member's reveals in the last hour

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The reveal limit counts one actor's entries of one action in the last hour, holding the
    # actor's row locked: the count must not scan everyone's reveals.
    op.create_index(
        "ix_audit_entries_actor_action_at", "audit_entries", ["actor_id", "action", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_audit_entries_actor_action_at", table_name="audit_entries")
