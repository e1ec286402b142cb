"""Promises in a unit of work: a case's promises, the facts of its payments, contact credits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.arrangements.ports import ContactCredit
from domain.arrangements.promises import PaymentFact, Promise
from domain.portfolios import local_date
from store import tables

p = tables.promises.c


class SqlPromiseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_case(self, case_id: int) -> list[Promise]:
        # The case is locked by the unit of work that asks, so its promises change one
        # request at a time; a second call returns the same objects with their changes.
        stmt = select(Promise).where(p.case_id == case_id).order_by(p.id)
        return list((await self.session.execute(stmt)).scalars())

    async def add(self, promise: Promise) -> None:
        self.session.add(promise)
        await self.session.flush()

    async def payment_facts(self, case_id: int, time_zone: str) -> list[PaymentFact]:
        await self.session.flush()  # a payment posted or reversed in this unit of work counts
        y = tables.payments.c
        stmt = (
            select(y.id, y.amount, y.paid_at, y.reversed)
            .where(y.case_id == case_id)
            .order_by(y.paid_at, y.id)
        )
        return [
            PaymentFact(row.id, row.amount, local_date(time_zone, row.paid_at), row.reversed)
            for row in (await self.session.execute(stmt)).all()
        ]

    async def contact_credit(self, contact_id: int) -> ContactCredit | None:
        t = tables.contacts.c
        stmt = select(t.case_id, t.staff_id, t.agency_id, t.blocked, t.outcome).where(
            t.id == contact_id
        )
        row = (await self.session.execute(stmt)).one_or_none()
        if row is None:
            return None
        return ContactCredit(
            row.case_id, row.staff_id, row.agency_id, bool(row.blocked), row.outcome is not None
        )
