"""case hold: the permission to pause and resume collection on a case

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 04:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Permissions of this revision (frozen here: later changes are new revisions). Pausing collection
# on a case (holdCase) and lifting the pause (resumeCase) is decided by those who manage cases.
POLICY = [(role, "case", "hold") for role in ("admin", "manager")]


def _casbin_rule() -> sa.TableClause:
    return sa.table(
        "casbin_rule", sa.column("ptype"), sa.column("v0"), sa.column("v1"), sa.column("v2")
    )


def upgrade() -> None:
    op.bulk_insert(
        _casbin_rule(), [{"ptype": "p", "v0": r, "v1": o, "v2": a} for r, o, a in POLICY]
    )


def downgrade() -> None:
    casbin_rule = _casbin_rule()
    for role, resource, action in POLICY:
        op.execute(
            casbin_rule.delete().where(
                casbin_rule.c.ptype == "p",
                casbin_rule.c.v0 == role,
                casbin_rule.c.v1 == resource,
                casbin_rule.c.v2 == action,
            )
        )
