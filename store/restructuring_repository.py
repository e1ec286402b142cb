"""Restructurings in a unit of work: read through the caller's case scope, locked for a
decision after their case is locked (``domain.restructuring.services``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy import case as case_when
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from domain.cases.model import Case
from domain.money import minor_units
from domain.restructuring.model import (
    COUNTED_STATUSES,
    Restructuring,
    RestructuringKind,
    RestructuringStatus,
)
from domain.rulesets import RuleSetKind
from store import rule_sets, tables
from store.restructuring_queries import instalments_of, restructuring_of

r, cs = tables.restructurings.c, tables.cases.c
OPEN = (RestructuringStatus.PROPOSED.value, RestructuringStatus.ACTIVE.value)


class SqlRestructuringRepository:
    def __init__(self, session: AsyncSession, case_scope: ColumnElement[bool]) -> None:
        self.session = session
        self.scope = case_scope

    async def case_of(self, restructuring_id: int) -> int | None:
        stmt = (
            select(r.case_id)
            .join(tables.cases, cs.id == r.case_id)
            .where(r.id == restructuring_id, self.scope)
        )
        found = (await self.session.execute(stmt)).scalar_one_or_none()
        return int(found) if found is not None else None

    async def get(self, restructuring_id: int) -> Restructuring | None:
        stmt = (
            select(tables.restructurings)
            .where(r.id == restructuring_id)
            .with_for_update(of=tables.restructurings)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        if row is None:
            return None
        plans = await instalments_of(self.session, [row.id])
        return restructuring_of(row, plans.get(row.id, ()))

    async def open_of_case(
        self, case_id: int
    ) -> list[tuple[int, RestructuringKind, RestructuringStatus]]:
        stmt = (
            select(r.id, r.kind, r.status)
            .where(r.case_id == case_id, r.status.in_(OPEN))
            .order_by(r.id)
        )
        rows = (await self.session.execute(stmt)).all()
        return [
            (row.id, RestructuringKind(row.kind), RestructuringStatus(row.status)) for row in rows
        ]

    async def granted_since(
        self, case_id: int, since: datetime, exclude: int | None, currency: str
    ) -> Decimal:
        # ``domain.restructuring.model.counted_concession`` in SQL: a BROKEN one counts its
        # waiver only (a plan's, applied and kept; a settlement has none).
        counted = case_when(
            (
                r.status == RestructuringStatus.BROKEN.value,
                func.coalesce(r.waiver_amount, 0),
            ),
            else_=r.concession,
        )
        stmt = select(func.coalesce(func.sum(counted), 0)).where(
            r.case_id == case_id,
            r.status.in_(sorted(s.value for s in COUNTED_STATUSES)),
            r.decided_at >= since,
        )
        if exclude is not None:
            stmt = stmt.where(r.id != exclude)
        total = (await self.session.execute(stmt)).scalar_one()
        return Decimal(str(total)).quantize(Decimal(1).scaleb(-minor_units(currency)))

    async def rule_set(
        self, kind: RuleSetKind, name: str, at: datetime
    ) -> tuple[int, Mapping[str, Any]] | None:
        stored = await rule_sets.in_effect(self.session, kind, name, at)
        return (stored.version, stored.payload) if stored is not None else None

    async def add(self, restructuring: Restructuring) -> None:
        x = restructuring
        stmt = insert(tables.restructurings).values(
            case_id=x.case_id,
            kind=x.kind.value,
            status=x.status.value,
            currency=x.currency,
            balance=x.balance,
            concession=x.concession,
            settlement_amount=x.settlement_amount,
            settle_by=x.settle_by,
            waiver_amount=x.waiver_amount,
            replaced_amount=x.replaced_amount,
            capitalised_interest=x.capitalised_interest,
            grace_days=x.grace_days,
            required_authority=x.required_authority,
            reason=x.reason,
            proposed_by=x.proposed_by,
            proposed_at=x.proposed_at,
            agency_id=x.agency_id,
            payments_in_row=x.payments_in_row,
            paid_amount=x.paid_amount,
            idempotency_key=x.idempotency_key,
            version=x.version,
        )
        x.id = int((await self.session.execute(stmt.returning(r.id))).scalar_one())
        if not x.instalments:
            return
        rows = [
            {
                "restructuring_id": x.id,
                "sequence": i.sequence,
                "due_date": i.due_date,
                "amount": i.amount,
                "amount_paid": i.amount_paid,
            }
            for i in x.instalments
        ]
        await self.session.execute(insert(tables.restructuring_instalments), rows)

    async def save(self, restructuring: Restructuring) -> None:
        x = restructuring
        await self.session.execute(
            update(tables.restructurings)
            .where(r.id == x.id)
            .values(
                status=x.status.value,
                decided_by=x.decided_by,
                decided_at=x.decided_at,
                decision_reason=x.decision_reason,
                previous_stage=x.previous_stage,
                grace_days=x.grace_days,
                version=x.version,
            )
        )

    def touch(self, case: Case) -> None:
        # No column of the case changes (a plan takes effect beside it), yet the case did:
        # an UPDATE with the mapper's version counter moves its version on.
        flag_modified(case, "stage")
