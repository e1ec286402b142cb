"""The daily run's dates and instants: a catch-up writes each missed date as if it had run on
time (placement expiry by the run's date, every stamp the day's instant), the default date is the
latest one ended in every portfolio, a payment and the run age a debt by the one rule (the core's
figure only while an instalment is unpaid), and only version bumps count as changed cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.payments.services import PaymentRequest, post_payment
from jobs.daily import day_instant, default_as_of
from jobs.locks import LockUnavailable, job_lock
from store import tables
from store.db import create_engine, session_factory
from store.uow import SqlUnitOfWork
from tests.daily_support import MovableClock, case_row, events, make_case, noon, run
from tests.factories import Factory, writing

D0 = date(2027, 6, 15)
snap = tables.debt_snapshots.c


def test_the_default_date_is_the_latest_ended_in_every_portfolio() -> None:
    # 01:30 in Shanghai on the 29th: the 28th is over there, not yet in New York.
    assert default_as_of(datetime(2026, 11, 28, 17, 30, tzinfo=UTC)) == date(2026, 11, 27)
    # 05:00 UTC on the 29th: 00:00 in New York, the 28th just ended everywhere.
    assert default_as_of(datetime(2026, 11, 29, 5, 0, tzinfo=UTC)) == date(2026, 11, 28)
    assert default_as_of(datetime(2026, 11, 29, 4, 59, 59, tzinfo=UTC)) == date(2026, 11, 27)


def test_the_days_instant_is_that_day_in_every_portfolio_and_never_after_now() -> None:
    later = datetime(2027, 7, 1, tzinfo=UTC)
    # Shanghai's day ends first: 16:00 UTC.
    assert day_instant(D0, later) == datetime(2027, 6, 15, 15, 59, 59, 999999, tzinfo=UTC)
    assert day_instant(D0, noon(D0)) == noon(D0)


async def _promise(engine: AsyncEngine, case_id: int, due: date) -> int:
    async with writing(engine) as conn:
        result = await conn.execute(
            tables.promises.insert().values(
                case_id=case_id,
                amount=Decimal("500.00"),
                currency="CNY",
                promised_on=due - timedelta(days=5),
                due_date=due,
                grace_days=0,
                status="OPEN",
                paid_amount=Decimal("0.00"),
                created_at=noon(due - timedelta(days=5)),
                version=1,
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def test_a_catch_up_runs_each_missed_date_at_its_own_instant(migrated: AsyncEngine) -> None:
    agency = await Factory(migrated).agency()
    ends = D0 + timedelta(days=2)
    placed = await make_case(
        migrated, [[D0 - timedelta(days=40)]], agency_id=agency.id, placement_ends_on=ends
    )
    # The first instalment falls due on D0+1: a missed first payment on D0+2 (threshold 1).
    fresh = await make_case(migrated, [[D0 + timedelta(days=1), D0 + timedelta(days=31)]])
    promise = await _promise(migrated, placed.case_id, D0 + timedelta(days=1))
    await run(migrated, D0)
    # Three dates missed; the catch-up runs them five days late.
    outcome = await run(migrated, D0 + timedelta(days=3), at=noon(D0 + timedelta(days=8)))
    assert [r.as_of for r in outcome.days] == [D0 + timedelta(days=n) for n in (1, 2, 3)]
    assert [r.placements_expired for r in outcome.days] == [0, 0, 1]
    assert [r.promises_resolved for r in outcome.days] == [0, 1, 0]

    def instant(n: int) -> datetime:
        return day_instant(D0 + timedelta(days=n), noon(D0 + timedelta(days=8)))

    async with migrated.connect() as conn:
        owners = (
            await conn.execute(
                select(snap.as_of, snap.agency_id)
                .where(snap.debt_id == placed.debt_ids[0])
                .order_by(snap.as_of)
            )
        ).all()
        p = tables.promises.c
        judged = (await conn.execute(select(p.status, p.resolved_at).where(p.id == promise))).one()
        w = tables.warnings.c
        raised = (
            await conn.execute(
                select(w.raised_at).where(
                    w.case_id == fresh.case_id, w.rule == "MISSED_FIRST_PAYMENT"
                )
            )
        ).all()
    # The end date is inclusive: placed on D0+1 and D0+2, in the pool from D0+3's snapshot.
    assert [(o.as_of, o.agency_id) for o in owners] == [
        (D0, agency.id),
        (D0 + timedelta(days=1), agency.id),
        (D0 + timedelta(days=2), agency.id),
        (D0 + timedelta(days=3), None),
    ]
    recalled = await events(migrated, placed.case_id, "CaseRecalled")
    assert [_utc(e.at) for e in recalled] == [instant(3)]
    assert judged.status == "BROKEN" and _utc(judged.resolved_at) == instant(2)
    assert [_utc(r.raised_at) for r in raised] == [instant(2)]
    evaluated = await events(migrated, placed.case_id, "PromiseEvaluated")
    assert [_utc(e.at) for e in evaluated] == [instant(2)]


async def _pay(engine: AsyncEngine, debt_id: int, amount: str, at: datetime, ref: str) -> Any:
    sessions = session_factory(engine)
    request = PaymentRequest(
        debt_id=debt_id,
        account_number=None,
        amount=Decimal(amount),
        currency="CNY",
        paid_at=at - timedelta(hours=1),
        reference=ref,
        actor_id=None,
    )
    return await post_payment(lambda: SqlUnitOfWork(sessions), MovableClock(at), request)


async def test_a_debt_paid_in_full_stays_closed_whatever_the_core_said(
    migrated: AsyncEngine,
) -> None:
    # The core said 31 days past due on D0; the schedule agrees (one instalment, 31 days late).
    made = await make_case(migrated, [[D0 - timedelta(days=31)]], core=[(31, D0)])
    await run(migrated, D0)
    assert (await case_row(migrated, made.case_id)).days_past_due == 31
    await _pay(migrated, made.debt_ids[0], "5000.00", noon(D0), "PAY-ALL")
    row = await case_row(migrated, made.case_id)
    assert (row.status, row.close_reason, row.days_past_due) == ("CLOSED", "PAID_IN_FULL", 0)
    outcome = await run(migrated, D0 + timedelta(days=1))
    row = await case_row(migrated, made.case_id)
    assert (row.status, row.close_reason, row.days_past_due) == ("CLOSED", "PAID_IN_FULL", 0)
    assert outcome.days[0].reopened == 0
    moves = [e.data["trigger"] for e in await events(migrated, made.case_id, "CaseTransitioned")]
    assert moves == ["ESCALATE", "PAY_IN_FULL"]  # escalated past 30 days on D0, never reopened


async def test_the_core_and_the_schedule_disagreeing_never_flaps_the_case(
    migrated: AsyncEngine,
) -> None:
    # The core says 31; the stored schedule's oldest unpaid instalment is 10 days late.
    made = await make_case(
        migrated, [[D0 - timedelta(days=10), D0 + timedelta(days=20)]], core=[(31, D0)]
    )
    await run(migrated, D0)
    first = await case_row(migrated, made.case_id)
    assert (first.days_past_due, first.bucket) == (31, "M2")
    await _pay(migrated, made.debt_ids[0], "100.00", noon(D0), "PAY-PART")
    paid = await case_row(migrated, made.case_id)
    assert (paid.days_past_due, paid.bucket, paid.status) == (31, "M2", "OPEN")
    await run(migrated, D0 + timedelta(days=1))
    await _pay(migrated, made.debt_ids[0], "100.00", noon(D0 + timedelta(days=1)), "PAY-PART-2")
    again = await case_row(migrated, made.case_id)
    assert (again.days_past_due, again.bucket) == (32, "M2")
    # Classified once (the first run); neither the payments nor the next run moved the bucket.
    assert len(await events(migrated, made.case_id, "CaseReclassified")) == 1


async def test_only_version_bumps_count_as_changed_cases(migrated: AsyncEngine) -> None:
    made = await make_case(migrated, [[D0 - timedelta(days=5)]], paid=[[True]])
    assert (await run(migrated, D0)).days[0].cases_changed == 1  # classified for the first time
    version = (await case_row(migrated, made.case_id)).version
    outcome = await run(migrated, D0 + timedelta(days=1))
    row = await case_row(migrated, made.case_id)
    assert (row.dpd_as_of, row.version) == (D0 + timedelta(days=1), version)
    assert (outcome.days[0].cases_aged, outcome.days[0].cases_changed) == (1, 0)


@pytest.mark.parametrize(
    "url",
    ["sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite:///file::memory:"],
)
async def test_an_in_memory_database_is_a_configuration_error(url: str) -> None:
    engine = create_engine(url)
    try:
        with pytest.raises(LockUnavailable, match=r"^configuration error: the daily job needs"):
            async with job_lock(engine, "daily"):
                pass
    finally:
        await engine.dispose()
