"""Payments in a unit of work: where a debt is, the payment rows and how each was applied."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, UniqueConstraint, delete, exists, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.payments.errors import PaymentReferenceDuplicate
from domain.payments.model import Payment
from domain.payments.waterfall import (
    Application,
    ComponentAllocation,
    DebtComponent,
    InstalmentAllocation,
)
from store import tables

y = tables.payments.c
REFERENCE_UNIQUE = next(
    c
    for c in tables.payments.constraints
    if isinstance(c, UniqueConstraint) and list(c.columns) == [tables.payments.c.reference]
)


class SqlPaymentRepository:
    def __init__(self, session: AsyncSession, case_scope: ColumnElement[bool]) -> None:
        self.session = session
        self.case_scope = case_scope

    async def locate_debt(
        self, debt_id: int | None, account_number: str | None
    ) -> tuple[int, int] | None:
        # Plain columns, not a Debt: the debt is loaded (current) after its case is locked.
        d = tables.debts.c
        stmt = select(d.id, d.case_id).where(d.case_id.is_not(None))
        if debt_id is not None:
            stmt = stmt.where(d.id == debt_id)
        else:
            stmt = stmt.where(d.account_number == account_number)
        row = (await self.session.execute(stmt)).one_or_none()
        return (row.id, row.case_id) if row else None

    async def written_off_since(self, debt_id: int, case_id: int) -> datetime | None:
        from store.writeoff_queries import written_off_since

        return await written_off_since(self.session, debt_id, case_id)

    async def reference_taken(self, reference: str) -> bool:
        stmt = select(exists().where(y.reference == reference))
        return bool((await self.session.execute(stmt)).scalar())

    async def add(self, payment: Payment, application: Application) -> None:
        self.session.add(payment)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            from store.uow import is_violation_of  # store.uow builds this repository

            # Another request inserted the same reference after our check.
            if not is_violation_of(exc, REFERENCE_UNIQUE):
                raise
            raise PaymentReferenceDuplicate(
                f"a payment with reference {payment.reference!r} was already posted",
                field="reference",
            ) from None
        await self._write_applications([(payment, application)])

    async def _write_applications(self, pairs: Sequence[tuple[Payment, Application]]) -> None:
        """Inserts how each payment was applied: one multi-row insert per table."""
        components, credits = [], []
        for payment, application in pairs:
            assert payment.id is not None
            components += [
                {"payment_id": payment.id, "component": str(a.component), "amount": a.amount}
                for a in application.components
            ]
            credits += [
                {"payment_id": payment.id, "instalment_id": a.instalment_id, "amount": a.amount}
                for a in application.instalments
            ]
        if components:
            await self.session.execute(insert(tables.payment_allocations), components)
        if credits:
            await self.session.execute(insert(tables.payment_instalments), credits)

    async def replace_applications(self, pairs: Sequence[tuple[Payment, Application]]) -> None:
        if not pairs:
            return
        ids = [payment.id for payment, _ in pairs]
        for table in (tables.payment_allocations, tables.payment_instalments):
            await self.session.execute(delete(table).where(table.c.payment_id.in_(ids)))
        await self._write_applications(pairs)

    async def later_on_debt(self, payment: Payment) -> list[Payment]:
        # Not locked: their rows do not change (only their allocations), and the case lock the
        # caller holds keeps other requests away; locking them could deadlock two reversals.
        stmt = (
            select(Payment)
            .where(y.debt_id == payment.debt_id, y.id > payment.id, y.reversed.is_(False))
            .order_by(y.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def get(self, payment_id: int) -> Payment | None:
        visible = select(tables.cases.c.id).where(self.case_scope)
        # FOR NO KEY UPDATE (PostgreSQL): a reversal of an older payment, holding the case,
        # writes allocations of this one, and their foreign key takes KEY SHARE on this row;
        # FOR UPDATE would block it while this request waits for the case (a deadlock).
        stmt = (
            select(Payment)
            .where(y.id == payment_id, y.case_id.in_(visible))
            .with_for_update(of=tables.payments, key_share=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def applications_of(self, payments: Sequence[Payment]) -> list[Application]:
        """How each payment was applied, in the order given: one statement per table."""
        if not payments:
            return []
        a, pi, i = (
            tables.payment_allocations.c,
            tables.payment_instalments.c,
            tables.instalments.c,
        )
        ids = [p.id for p in payments]
        components: dict[int, list[ComponentAllocation]] = defaultdict(list)
        rows = await self.session.execute(
            select(a.payment_id, a.component, a.amount).where(a.payment_id.in_(ids)).order_by(a.id)
        )
        for row in rows:
            components[row.payment_id].append(
                ComponentAllocation(DebtComponent(row.component), row.amount)
            )
        credits: dict[int, list[InstalmentAllocation]] = defaultdict(list)
        rows = await self.session.execute(
            select(pi.payment_id, pi.instalment_id, pi.amount, i.sequence)
            .join(tables.instalments, i.id == pi.instalment_id)
            .where(pi.payment_id.in_(ids))
            .order_by(pi.id)
        )
        for row in rows:
            credits[row.payment_id].append(
                InstalmentAllocation(row.sequence, row.amount, row.instalment_id)
            )
        return [
            Application(
                p.currency,
                p.amount,
                tuple(components.get(p.id or 0, ())),
                tuple(credits.get(p.id or 0, ())),
            )
            for p in payments
        ]
