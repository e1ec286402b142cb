"""Plans and settlements in effect for the tests: an approved restructuring inserted as the
approval leaves it (ACTIVE, ``decided_at``, ``previous_stage``, ``grace_days``; a plan with its
instalments), since the tests of execution do not depend on the approval's own path."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.factories import Factory, writing

APPROVED_AT = datetime(2027, 1, 1, 4, 0, tzinfo=UTC)


async def put_in_effect(
    engine: AsyncEngine,
    case_id: int,
    *,
    kind: str = "INSTALMENT_PLAN",
    instalments: Sequence[tuple[date, str]] = (),
    settlement_amount: str | None = None,
    settle_by: date | None = None,
    balance: str = "5000.00",
    grace_days: int = 0,
    previous_stage: str = "EARLY",
    approved_at: datetime = APPROVED_AT,
    payments_in_row: int = 0,
) -> int:
    """Inserts an ACTIVE plan or settlement on a case (proposed and approved by two staff);
    returns its id."""
    factory = Factory(engine)
    maker = await factory.staff(f"maker.{case_id}.{kind.lower()}", roles=("collector",))
    checker = await factory.staff(f"checker.{case_id}.{kind.lower()}", roles=("team_lead",))
    amount = Decimal(settlement_amount) if settlement_amount else None
    concession = Decimal(balance) - amount if amount is not None else Decimal("0.00")
    async with writing(engine) as conn:
        inserted = await conn.execute(
            insert(tables.restructurings).values(
                case_id=case_id,
                kind=kind,
                status="ACTIVE",
                currency="CNY",
                balance=Decimal(balance),
                concession=concession,
                settlement_amount=amount,
                settle_by=settle_by,
                replaced_amount=Decimal(balance) if kind == "INSTALMENT_PLAN" else None,
                grace_days=grace_days,
                required_authority="TEAM_LEAD",
                reason="Agreed on the phone.",
                proposed_by=maker.id,
                proposed_at=approved_at,
                decided_by=checker.id,
                decided_at=approved_at,
                previous_stage=previous_stage,
                payments_in_row=payments_in_row,
                paid_amount=Decimal("0.00"),
                version=2,
            )
        )
        assert inserted.inserted_primary_key is not None
        restructuring_id = int(inserted.inserted_primary_key[0])
        for n, (due, line) in enumerate(instalments, 1):
            await conn.execute(
                insert(tables.restructuring_instalments).values(
                    restructuring_id=restructuring_id,
                    sequence=n,
                    due_date=due,
                    amount=Decimal(line),
                    amount_paid=Decimal("0.00"),
                )
            )
    return restructuring_id


async def restructuring(engine: AsyncEngine, restructuring_id: int) -> Any:
    r = tables.restructurings.c
    async with engine.connect() as conn:
        stmt = select(tables.restructurings).where(r.id == restructuring_id)
        return (await conn.execute(stmt)).one()


async def plan_lines(engine: AsyncEngine, restructuring_id: int) -> list[tuple[Any, ...]]:
    ri = tables.restructuring_instalments.c
    async with engine.connect() as conn:
        stmt = (
            select(ri.sequence, ri.amount_paid, ri.paid_on)
            .where(ri.restructuring_id == restructuring_id)
            .order_by(ri.sequence)
        )
        return [tuple(row) for row in await conn.execute(stmt)]


async def decisions_of(engine: AsyncEngine, case_id: int) -> list[tuple[str, Any]]:
    d = tables.decisions.c
    async with engine.connect() as conn:
        stmt = select(d.kind, d.data).where(d.case_id == case_id).order_by(d.id)
        return [(row.kind, row.data) for row in await conn.execute(stmt)]
