"""Rows and runs for the daily-run tests: a case with a schedule of chosen due dates on a fresh
database, and ``arrears daily`` for a date with the clock at noon UTC on it (the local date in
both demo portfolios, Asia/Shanghai and America/New_York)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from jobs.daily import DailyOutcome, run_daily
from store import tables
from store.audit import audit_key
from tests.conftest import TEST_AUDIT_SECRET
from tests.factories import Factory, writing

AUDIT_KEY = audit_key(TEST_AUDIT_SECRET)
INSTALMENT = Decimal("1000.00")


class MovableClock:
    """A clock the test sets."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def today(self) -> date:
        return self.at.date()


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12, 0), UTC)


async def run(engine: AsyncEngine, day: date, at: datetime | None = None) -> DailyOutcome:
    """The daily run for ``day`` (catching up from the last run), the clock at ``at``."""
    return await run_daily(engine, MovableClock(at or noon(day)), AUDIT_KEY, as_of=day)


@dataclass
class Made:
    case_id: int
    debt_ids: list[int] = field(default_factory=list)
    borrower_id: int = 0


async def make_case(
    engine: AsyncEngine,
    dues: Sequence[Sequence[date]],
    *,
    paid: Sequence[Sequence[bool]] | None = None,
    stage: str = "EARLY",
    status: str = "OPEN",
    portfolio: str = "retail",
    agency_id: int | None = None,
    placement_ends_on: date | None = None,
    assignee_id: int | None = None,
    debt_status: str = "DELINQUENT",
    core: Sequence[tuple[int, date] | None] | None = None,
    zero_balance: bool = False,
    **case_values: Any,
) -> Made:
    """A case with one debt per schedule in ``dues`` (instalments of 1,000.00, paid where
    ``paid`` says), unclassified until the run ages it."""
    borrower = await Factory(engine).borrower()
    amount = Decimal("0.00") if zero_balance else Decimal("5000.00")
    async with writing(engine) as conn:
        values = {
            "reference": f"DR-{borrower.id:06d}",
            "borrower_id": borrower.id,
            "portfolio": portfolio,
            "currency": "CNY",
            "opened_on": min((d for schedule in dues for d in schedule), default=date(2020, 1, 1)),
            "status": status,
            "stage": stage,
            "days_past_due": 0,
            "bucket": "M0",
            "classification": "CURRENT",
            "policy_version": "",
            "dpd_as_of": None,
            "outstanding_amount": amount,
            "assignee_id": assignee_id,
            "agency_id": agency_id,
            "placed_at": datetime(2020, 1, 1, tzinfo=UTC) if agency_id else None,
            "placement_ends_on": placement_ends_on,
            "version": 1,
            **case_values,
        }
        case_id = (await conn.execute(insert(tables.cases).values(**values))).inserted_primary_key
        assert case_id is not None
        made = Made(int(case_id[0]), borrower_id=borrower.id)
        for n, schedule in enumerate(dues):
            figure = core[n] if core else None
            debt = await conn.execute(
                insert(tables.debts).values(
                    case_id=made.case_id,
                    borrower_id=borrower.id,
                    account_number=f"DR{made.case_id:08d}{n}",
                    product_type="CONSUMER_LOAN",
                    currency="CNY",
                    principal=amount,
                    interest=Decimal("0.00"),
                    penalty=Decimal("0.00"),
                    fee=Decimal("0.00"),
                    opened_on=date(2020, 1, 1),
                    status=debt_status,
                    paused_days=0,
                    core_dpd=figure[0] if figure else None,
                    core_dpd_as_of=figure[1] if figure else None,
                )
            )
            assert debt.inserted_primary_key is not None
            debt_id = int(debt.inserted_primary_key[0])
            made.debt_ids.append(debt_id)
            for k, due in enumerate(schedule):
                done = paid[n][k] if paid else False
                await conn.execute(
                    insert(tables.instalments).values(
                        debt_id=debt_id,
                        sequence=k + 1,
                        due_date=due,
                        amount_due=INSTALMENT,
                        amount_paid=INSTALMENT if done else Decimal("0.00"),
                    )
                )
    return made


async def case_row(engine: AsyncEngine, case_id: int) -> Any:
    async with engine.connect() as conn:
        c = tables.cases.c
        return (await conn.execute(select(tables.cases).where(c.id == case_id))).one()


async def periods(engine: AsyncEngine, case_id: int) -> list[tuple[str, str, date, date | None]]:
    h = tables.classification_history.c
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(h.bucket, h.classification, h.from_date, h.to_date)
            .where(h.case_id == case_id)
            .order_by(h.from_date, h.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def events(engine: AsyncEngine, case_id: int, name: str | None = None) -> list[Any]:
    e = tables.case_events.c
    stmt = select(e.name, e.data, e.actor_id, e.at).where(e.case_id == case_id).order_by(e.id)
    if name is not None:
        stmt = stmt.where(e.name == name)
    async with engine.connect() as conn:
        return list(await conn.execute(stmt))


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    """Rows in every table (what a second run must not change)."""
    counts = {}
    async with engine.connect() as conn:
        for table in tables.metadata.sorted_tables:
            counts[table.name] = (
                await conn.execute(select(func.count()).select_from(table))
            ).scalar_one()
    return counts
