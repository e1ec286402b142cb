"""Borrower flags in a unit of work: a borrower's active flags (their flag work serialised by
a lock on the borrower's row), new and lifted flags, and the borrower's cases."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.flags.errors import FlagAlreadySet
from domain.flags.model import BorrowerFlag
from store import tables
from store.protections_queries import flag_of

bf, cs, b = tables.borrower_flags.c, tables.cases.c, tables.borrowers.c


class SqlFlagRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def active(self, borrower_id: int) -> list[BorrowerFlag]:
        # The borrower's row stays locked until commit (SQLite: the write lock), so two requests
        # setting the same flag see one another.
        await self.session.execute(select(b.id).where(b.id == borrower_id).with_for_update())
        stmt = (
            select(tables.borrower_flags)
            .where(bf.borrower_id == borrower_id, bf.lifted_at.is_(None))
            .order_by(bf.id)
        )
        return [flag_of(row) for row in (await self.session.execute(stmt)).all()]

    async def add(self, flag: BorrowerFlag) -> None:
        stmt = insert(tables.borrower_flags).values(
            borrower_id=flag.borrower_id,
            flag=flag.flag.value,
            evidence_ref=flag.evidence_ref,
            note=flag.note,
            set_by=flag.set_by,
            set_at=flag.set_at,
            review_on=flag.review_on,
        )
        try:
            inserted = (await self.session.execute(stmt.returning(bf.id))).scalar_one()
        except IntegrityError as error:
            # uq_borrower_flags_active: the flag is set already (a writer that skipped the
            # borrower's lock); the unit of work rolls back.
            if "unique" not in str(error.orig).lower():
                raise
            raise FlagAlreadySet(
                f"the borrower is already flagged {flag.flag.value}", field="flag"
            ) from None
        flag.id = int(inserted)

    async def save(self, flag: BorrowerFlag) -> None:
        await self.session.execute(
            update(tables.borrower_flags)
            .where(bf.id == flag.id)
            .values(lifted_at=flag.lifted_at, lifted_by=flag.lifted_by, lift_note=flag.lift_note)
        )

    async def cases_of(self, borrower_id: int) -> list[tuple[int, str]]:
        stmt = select(cs.id, cs.portfolio).where(cs.borrower_id == borrower_id).order_by(cs.id)
        return [(row.id, row.portfolio) for row in (await self.session.execute(stmt)).all()]
