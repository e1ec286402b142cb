"""Legal holds in a unit of work (the case's row lock, taken first by the service, serialises
every change of a case's holds), and a batch of cases' holds for ``Case.legalHolds``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.retention.model import LegalHold
from store import tables

lh, cs = tables.legal_holds.c, tables.cases.c


def hold_of(row: Any) -> LegalHold:
    """A legal hold from its row."""
    return LegalHold(
        case_id=row.case_id,
        reason=row.reason,
        placed_at=row.placed_at,
        placed_by=row.placed_by,
        released_at=row.released_at,
        released_by=row.released_by,
        id=row.id,
    )


class SqlLegalHoldRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, hold_id: int) -> LegalHold | None:
        stmt = select(tables.legal_holds).where(lh.id == hold_id)
        row = (await self.session.execute(stmt)).one_or_none()
        return None if row is None else hold_of(row)

    async def in_force(self, case_id: int) -> LegalHold | None:
        stmt = (
            select(tables.legal_holds)
            .where(lh.case_id == case_id, lh.released_at.is_(None))
            .order_by(lh.id)
            .limit(1)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return None if row is None else hold_of(row)

    async def add(self, hold: LegalHold) -> None:
        stmt = insert(tables.legal_holds).values(
            case_id=hold.case_id,
            reason=hold.reason,
            placed_by=hold.placed_by,
            placed_at=hold.placed_at,
        )
        hold.id = int((await self.session.execute(stmt.returning(lh.id))).scalar_one())

    async def save(self, hold: LegalHold) -> None:
        await self.session.execute(
            update(tables.legal_holds)
            .where(lh.id == hold.id)
            .values(released_at=hold.released_at, released_by=hold.released_by)
        )


async def holds_by_case_id(
    session: AsyncSession, case_ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[list[LegalHold]]:
    """Returns each case's legal holds, newest first (one statement, through the case scope)."""
    stmt = (
        select(tables.legal_holds)
        .join(tables.cases, cs.id == lh.case_id)
        .where(lh.case_id.in_(case_ids))
        .order_by(lh.placed_at.desc(), lh.id.desc())
    )
    if scope is not None:
        stmt = stmt.where(scope)
    grouped: dict[int, list[LegalHold]] = defaultdict(list)
    for row in (await session.execute(stmt)).all():
        grouped[row.case_id].append(hold_of(row))
    return [grouped.get(i, []) for i in case_ids]


async def hold_by_id(
    session: AsyncSession, hold_id: int, scope: ColumnElement[bool] | None = None
) -> LegalHold | None:
    """Returns a hold by id if its case is in the scope, else None."""
    stmt = (
        select(tables.legal_holds).join(tables.cases, cs.id == lh.case_id).where(lh.id == hold_id)
    )
    if scope is not None:
        stmt = stmt.where(scope)
    row = (await session.execute(stmt)).one_or_none()
    return None if row is None else hold_of(row)
