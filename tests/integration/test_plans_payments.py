"""Payments against plans and settlements in effect through the SQL unit of work, on a fresh
database of the backend under test: plan instalments covered and counted in a row (partial,
full, late beyond grace), the cure at the N-th payment in a row; a settlement paid in two
payments closing the case as SETTLED with its debts SETTLED and the discount recorded (never a
payment), and the reversal of one of them reopening the case."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.clock import FixedClock
from domain.payments import services
from store import tables
from store.db import session_factory
from store.uow import SqlUnitOfWork
from tests.daily_support import case_row, events, make_case
from tests.plans_support import decisions_of, plan_lines, put_in_effect, restructuring

D = Decimal
NOW = datetime(2027, 6, 15, 4, 0, tzinfo=UTC)  # noon in Shanghai
TODAY = date(2027, 6, 15)


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


async def _post(engine: AsyncEngine, debt_id: int, amount: str, offset: int, ref: str) -> int:
    sessions = session_factory(engine)
    request = services.PaymentRequest(
        debt_id, None, D(amount), "CNY", NOW + timedelta(days=offset), ref, None
    )
    result = await services.post_payment(lambda: SqlUnitOfWork(sessions), FixedClock(NOW), request)
    assert result.payment.id is not None
    return result.payment.id


async def _reverse(engine: AsyncEngine, payment_id: int) -> None:
    sessions = session_factory(engine)
    await services.reverse_payment(
        lambda: SqlUnitOfWork(sessions), FixedClock(NOW), payment_id, "bounced", None
    )


async def _count(engine: AsyncEngine, table: object) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def test_plan_payments_are_counted_and_the_nth_in_a_row_cures(migrated: AsyncEngine) -> None:
    # The core's schedule: 1,000.00 due 40 days ago (the arrears), then two more ahead.
    made = await make_case(migrated, [[day(-40), day(20), day(50)]])
    plan_id = await put_in_effect(
        migrated,
        made.case_id,
        instalments=[(day(-30), "400.00"), (day(-20), "300.00"), (day(-10), "300.00")],
        grace_days=3,
        approved_at=NOW - timedelta(days=45),
    )
    debt = made.debt_ids[0]
    await _post(migrated, debt, "250.00", -31, "P1")  # partial
    assert await plan_lines(migrated, plan_id) == [
        (1, D("250.00"), None),
        (2, 0, None),
        (3, 0, None),
    ]
    await _post(migrated, debt, "150.00", -28, "P2")  # the first in full, 1 day into grace
    await _post(migrated, debt, "300.00", -17, "P3")  # the second on its last day of grace
    row = await restructuring(migrated, plan_id)
    assert (row.status, row.paid_amount, row.payments_in_row) == ("ACTIVE", D("700.00"), 2)
    assert (await case_row(migrated, made.case_id)).status == "OPEN"
    await _post(migrated, debt, "300.00", -1, "P4")  # late beyond grace, but clears the arrears
    row = await restructuring(migrated, plan_id)
    # The last was paid late: the streak of on-time payments starts again from none.
    assert (row.status, row.paid_amount, row.payments_in_row) == ("COMPLETED", D("1000.00"), 0)
    assert await plan_lines(migrated, plan_id) == [
        (1, D("400.00"), day(-28)),
        (2, D("300.00"), day(-17)),
        (3, D("300.00"), day(-1)),
    ]
    # Completed: no probation any more, and the core's arrears are paid: cured.
    case = await case_row(migrated, made.case_id)
    assert (case.status, case.close_reason) == ("CLOSED", "CURED")
    counted = await events(migrated, made.case_id, "PlanPaymentCounted")
    assert [e.data["payments_in_row"] for e in counted] == [0, 1, 2, 0]
    assert ("PLAN_COMPLETED", {"paid": "1000.00", "currency": "CNY"}) in await decisions_of(
        migrated, made.case_id
    )


async def test_the_cure_waits_for_the_third_plan_payment_in_a_row(migrated: AsyncEngine) -> None:
    made = await make_case(migrated, [[day(-40), day(20), day(50)]])
    plan_id = await put_in_effect(
        migrated,
        made.case_id,
        instalments=[
            (day(-30), "400.00"),
            (day(-20), "600.00"),
            (day(-5), "100.00"),
            (day(30), "3900.00"),
        ],
        approved_at=NOW - timedelta(days=45),
    )
    debt = made.debt_ids[0]
    await _post(migrated, debt, "400.00", -31, "C1")
    await _post(migrated, debt, "600.00", -21, "C2")  # the core's arrears cleared: N-1 in a row
    case = await case_row(migrated, made.case_id)
    assert (case.status, case.days_past_due) == ("OPEN", 0)
    await _post(migrated, debt, "100.00", -6, "C3")  # the N-th: cured
    assert (await restructuring(migrated, plan_id)).payments_in_row == 3
    case = await case_row(migrated, made.case_id)
    assert (case.status, case.close_reason) == ("CLOSED", "CURED")


async def test_a_settlement_paid_in_two_payments_closes_the_case_and_a_reversal_reopens_it(
    migrated: AsyncEngine,
) -> None:
    made = await make_case(migrated, [[day(-40), day(20), day(50)]])
    settlement_id = await put_in_effect(
        migrated,
        made.case_id,
        kind="SETTLEMENT",
        settlement_amount="3000.00",
        settle_by=day(10),
        grace_days=2,
        approved_at=NOW - timedelta(days=3),
    )
    debt = made.debt_ids[0]
    await _post(migrated, debt, "2000.00", -2, "S1")
    assert (await case_row(migrated, made.case_id)).status == "OPEN"  # no cure on the way
    second = await _post(migrated, debt, "1000.00", -1, "S2")
    case = await case_row(migrated, made.case_id)
    assert (case.status, case.close_reason, case.outstanding_amount) == (
        "CLOSED",
        "SETTLED",
        D("2000.00"),
    )
    d = tables.debts.c
    async with migrated.connect() as conn:
        statuses = list(
            (await conn.execute(select(d.status).where(d.case_id == made.case_id))).scalars()
        )
    assert statuses == ["SETTLED"]
    row = await restructuring(migrated, settlement_id)
    assert (row.status, row.paid_amount, row.concession) == (
        "COMPLETED",
        D("3000.00"),
        D("2000.00"),
    )
    assert row.ended_at is not None
    # The discount is no payment: two payments, two allocations' worth, nothing else.
    assert await _count(migrated, tables.payments) == 2
    (completed,) = await events(migrated, made.case_id, "RestructuringCompleted")
    assert dict(completed.data) == {
        "restructuring_id": settlement_id,
        "kind": "SETTLEMENT",
        "paid": "3000.00",
        "discount": "2000.00",
        "currency": "CNY",
        "settled_debts": {str(debt): "DELINQUENT"},
        "written_off_debts": 0,
    }
    found = await decisions_of(migrated, made.case_id)
    assert (
        "SETTLEMENT_PAID",
        {"paid": "3000.00", "discount": "2000.00", "currency": "CNY", "writtenOffDebts": "0"},
    ) in found
    assert ("CASE_CLOSED", {"closeReason": "SETTLED", "stage": "EARLY"}) in found

    await _reverse(migrated, second)
    case = await case_row(migrated, made.case_id)
    assert (case.status, case.close_reason) == ("OPEN", None)
    async with migrated.connect() as conn:
        statuses = list(
            (await conn.execute(select(d.status).where(d.case_id == made.case_id))).scalars()
        )
    assert statuses == ["DELINQUENT"]
    row = await restructuring(migrated, settlement_id)
    assert (row.status, row.paid_amount, row.concession, row.ended_at) == (
        "ACTIVE",
        D("2000.00"),
        D("2000.00"),
        None,
    )
    moves = [e.data["trigger"] for e in await events(migrated, made.case_id, "CaseTransitioned")]
    assert moves == ["SETTLE", "UNSETTLE"]
    reopened = [k for k, _ in await decisions_of(migrated, made.case_id) if k == "CASE_REOPENED"]
    assert reopened == ["CASE_REOPENED"]
