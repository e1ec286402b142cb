"""Plans and settlements in effect, in a unit of work: a case's approved restructuring as the
plans' rule reads it (``domain.restructuring.plans.InEffect``), the facts of its payments, and
the evaluation written back (the row and its instalments, ``version`` bumped only from the
version read: the row is locked while it is evaluated, and a write that lost a race raises
``ConcurrencyConflict``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import ConcurrencyConflict
from domain.portfolios import local_date
from domain.restructuring import plans
from domain.restructuring.plans import InEffect, PlanInstalment, PlanPayment
from store import plan_queries, tables

r = tables.restructurings.c
ri = tables.restructuring_instalments.c
y = tables.payments.c

_APPROVED = (plans.ACTIVE, plans.COMPLETED, plans.BROKEN)


class SqlPlanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def current(self, case_id: int) -> InEffect | None:
        # The case is locked by the unit of work that asks (approval locks the case too); the
        # row is locked as well, for the daily run's set-based break that locks no case.
        stmt = (
            select(tables.restructurings)
            .where(
                r.case_id == case_id,
                r.kind.in_((plans.PLAN, plans.SETTLEMENT)),
                r.status.in_(_APPROVED),
                r.decided_at.is_not(None),
            )
            .order_by(r.id.desc())
            .limit(1)
            .with_for_update()
        )
        row = (await self.session.execute(stmt)).first()
        if row is None:
            return None
        lines = await self.session.execute(
            select(ri.id, ri.sequence, ri.due_date, ri.amount, ri.amount_paid, ri.paid_on)
            .where(ri.restructuring_id == row.id)
            .order_by(ri.sequence)
        )
        return InEffect(
            id=row.id,
            case_id=row.case_id,
            kind=row.kind,
            status=row.status,
            currency=row.currency,
            approved_at=row.decided_at,
            grace_days=int(row.grace_days or 0),
            balance=row.balance,
            concession=row.concession,
            paid_amount=row.paid_amount,
            payments_in_row=int(row.payments_in_row),
            settlement_amount=row.settlement_amount,
            settle_by=row.settle_by,
            previous_stage=row.previous_stage,
            debt_ids=None if row.debt_ids is None else tuple(int(x) for x in row.debt_ids),
            debt_statuses=tuple(
                sorted((int(k), str(v)) for k, v in (row.debt_statuses or {}).items())
            ),
            version=int(row.version),
            instalments=tuple(
                PlanInstalment(
                    line.sequence,
                    line.due_date,
                    line.amount,
                    line.amount_paid,
                    line.paid_on,
                    line.id,
                )
                for line in lines
            ),
        )

    async def payment_facts(self, case_id: int, time_zone: str) -> list[PlanPayment]:
        await self.session.flush()  # a payment posted or reversed in this unit of work counts
        stmt = (
            select(y.id, y.amount, y.paid_at, y.reversed)
            .where(y.case_id == case_id)
            .order_by(y.paid_at, y.id)
        )
        return [
            PlanPayment(
                row.id,
                row.amount,
                row.paid_at,
                local_date(time_zone, row.paid_at),
                bool(row.reversed),
            )
            for row in (await self.session.execute(stmt)).all()
        ]

    async def payments_in_row_needed(self, at: datetime) -> int:
        return await plan_queries.payments_in_row_in_effect(self.session, at)

    async def save(self, before: InEffect, after: InEffect, at: datetime) -> None:
        ended = (
            at
            if before.status == plans.ACTIVE and after.status == plans.COMPLETED
            else None
            if before.status == plans.COMPLETED and after.status == plans.ACTIVE
            else r.ended_at  # unchanged
        )
        done = await self.session.execute(
            update(tables.restructurings)
            .where(r.id == before.id, r.version == before.version)
            .values(
                status=after.status,
                paid_amount=after.paid_amount,
                payments_in_row=after.payments_in_row,
                concession=after.concession,
                debt_ids=None if after.debt_ids is None else list(after.debt_ids),
                debt_statuses={str(k): v for k, v in after.debt_statuses} or None,
                ended_at=ended,
                evaluated_at=at,
                version=r.version + 1,
            )
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrencyConflict(
                "the plan or settlement was changed by someone else; reload it and try again"
            )
        old = {i.sequence: i for i in before.instalments}
        for line in after.instalments:
            if old.get(line.sequence) == line:
                continue
            await self.session.execute(
                update(tables.restructuring_instalments)
                .where(ri.restructuring_id == before.id, ri.sequence == line.sequence)
                .values(amount_paid=line.amount_paid, paid_on=line.paid_on)
            )
