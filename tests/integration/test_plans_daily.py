"""The daily run and plans or settlements in effect, on a fresh database of the backend under
test: a plan missed beyond its grace days is broken by the run of the day after its last day
(once: event, decision and audit entry written once, even when the step runs again), the case's
escalation held while it performs and resumed in that run; a settlement lapsing; and the run's
cure held at N-1 plan payments in a row and allowed at N (paying in full never held)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.clock import FixedClock
from domain.errors import ConcurrencyConflict
from domain.payments import services
from domain.restructuring import plans
from jobs.daily import day_instant
from jobs.importing import import_feed
from store import plan_queries, tables
from store.db import session_factory
from store.plan_repository import SqlPlanRepository
from store.uow import SqlUnitOfWork
from tests.daily_support import AUDIT_KEY, case_row, events, make_case, noon, run
from tests.factories import writing
from tests.feeds.support import write_feed
from tests.plans_support import decisions_of, plan_lines, put_in_effect, restructuring

D0 = date(2027, 6, 15)


async def _audit_cases(engine: AsyncEngine, action: str) -> list[list[int]]:
    a = tables.audit_entries.c
    async with engine.connect() as conn:
        rows = await conn.execute(select(a.case_ids).where(a.action == action).order_by(a.id))
        return [list(row.case_ids) for row in rows]


async def test_a_missed_plan_breaks_after_its_grace_days_and_escalation_resumes(
    migrated: AsyncEngine,
) -> None:
    due = [D0 - timedelta(days=40)]  # 40 days past due: past the escalation boundary (30)
    control = await make_case(migrated, [due])
    on_plan = await make_case(migrated, [due])
    plan_id = await put_in_effect(
        migrated, on_plan.case_id, instalments=[(D0 - timedelta(days=1), "500.00")], grace_days=2
    )

    first = await run(migrated, D0)
    assert first.days[0].escalated == 1 and first.days[0].restructurings_broken == 0
    assert (await case_row(migrated, control.case_id)).stage == "COLLECTION"
    assert (await case_row(migrated, on_plan.case_id)).stage == "EARLY"  # performing: held

    # D0 + 1 is the last day of grace (due D0 - 1, 2 days): still in effect.
    last = await run(migrated, D0 + timedelta(days=1))
    assert last.days[0].restructurings_broken == 0 and last.days[0].escalated == 0
    assert (await restructuring(migrated, plan_id)).status == "ACTIVE"

    broken_on = D0 + timedelta(days=2)
    broke = await run(migrated, broken_on)
    assert broke.days[0].restructurings_broken == 1
    assert broke.days[0].escalated == 1  # the same run: the plan no longer performs
    row = await restructuring(migrated, plan_id)
    assert (row.status, row.ended_at) == ("BROKEN", day_instant(broken_on, noon(broken_on)))
    assert (await case_row(migrated, on_plan.case_id)).stage == "COLLECTION"
    (event,) = await events(migrated, on_plan.case_id, "RestructuringBroken")
    assert event.actor_id is None
    assert dict(event.data) == {
        "restructuring_id": plan_id,
        "kind": "INSTALMENT_PLAN",
        "paid_amount": "0.00",
        "currency": "CNY",
        "broken_on": broken_on.isoformat(),
        "previous_stage": "EARLY",
        "stage": "COLLECTION",  # escalated before the break in the same run
    }
    assert (
        "PLAN_BROKEN",
        {
            "restructuringKind": "INSTALMENT_PLAN",
            "paidAmount": "0.00",
            "currency": "CNY",
            "brokenOn": broken_on.isoformat(),
        },
    ) in await decisions_of(migrated, on_plan.case_id)
    assert await _audit_cases(migrated, "restructuring.break") == [[on_plan.case_id]]

    # The step again for the same date, and the next day's run: nothing is broken twice.
    async with writing(migrated) as conn:
        at = day_instant(broken_on, noon(broken_on))
        assert await plan_queries.break_lapsed(conn, broken_on, at) == []
    after = await run(migrated, broken_on + timedelta(days=1))
    assert after.days[0].restructurings_broken == 0
    assert len(await events(migrated, on_plan.case_id, "RestructuringBroken")) == 1
    broken = [k for k, _ in await decisions_of(migrated, on_plan.case_id) if k == "PLAN_BROKEN"]
    assert broken == ["PLAN_BROKEN"]
    assert await _audit_cases(migrated, "restructuring.break") == [[on_plan.case_id]]


async def test_a_settlement_not_paid_by_its_last_day_lapses(migrated: AsyncEngine) -> None:
    made = await make_case(migrated, [[D0 - timedelta(days=10)]])
    settlement_id = await put_in_effect(
        migrated,
        made.case_id,
        kind="SETTLEMENT",
        settlement_amount="3000.00",
        settle_by=D0 - timedelta(days=2),
        grace_days=2,
    )
    assert (await run(migrated, D0)).days[0].restructurings_broken == 0  # the last day
    assert (await restructuring(migrated, settlement_id)).status == "ACTIVE"
    assert (await run(migrated, D0 + timedelta(days=1))).days[0].restructurings_broken == 1
    assert (await restructuring(migrated, settlement_id)).status == "BROKEN"
    kinds = [
        data for kind, data in await decisions_of(migrated, made.case_id) if kind == "PLAN_BROKEN"
    ]
    assert [k["restructuringKind"] for k in kinds] == ["SETTLEMENT"]


async def test_the_run_cures_at_n_plan_payments_in_a_row_not_at_n_minus_one(
    migrated: AsyncEngine,
) -> None:
    """Cases that were 5 days past due whose schedule is paid now (the core booked it): a plan
    with 2 payments in a row holds the cure, one with 3 does not; paying in full is never held."""
    paid = dict(paid=[[True]], days_past_due=5, bucket="M1", classification="MILD")
    two = await make_case(migrated, [[D0 - timedelta(days=5)]], **paid)  # type: ignore[arg-type]
    three = await make_case(migrated, [[D0 - timedelta(days=5)]], **paid)  # type: ignore[arg-type]
    nothing_owed = await make_case(
        migrated,
        [[D0 - timedelta(days=5)]],
        zero_balance=True,
        **paid,  # type: ignore[arg-type]
    )
    # The plans' instalments fall due after the run (none lapses, no payment to count: the
    # run judges the payments in a row as stored).
    lines = [(D0 + timedelta(days=10 * n), "100.00") for n in range(4)]
    await put_in_effect(migrated, two.case_id, instalments=lines, payments_in_row=2)
    await put_in_effect(migrated, three.case_id, instalments=lines, payments_in_row=3)
    await put_in_effect(migrated, nothing_owed.case_id, instalments=lines, payments_in_row=0)
    result = await run(migrated, D0 - timedelta(days=25))
    assert result.days[0].cured == 2
    held = await case_row(migrated, two.case_id)
    assert (held.status, held.days_past_due) == ("OPEN", 0)
    cured = await case_row(migrated, three.case_id)
    assert (cured.status, cured.close_reason) == ("CLOSED", "CURED")
    full = await case_row(migrated, nothing_owed.case_id)
    assert (full.status, full.close_reason) == ("CLOSED", "PAID_IN_FULL")


# ---- the core's payments and reversals (the feed), judged as of the run's date -----------------


async def _feed(
    engine: AsyncEngine, tmp_path: Path, name: str, rows: list[Any], as_of: date
) -> None:
    """Imports a feed of ``rows`` for ``as_of``, at noon UTC of that day."""
    path = write_feed(tmp_path / f"{name}.jsonl", rows, as_of=as_of)
    report = await import_feed(engine, path, audit_key=AUDIT_KEY, now=noon(as_of))
    assert report.imported, report.errors


def _payment(account: str, reference: str, amount: str, paid_at: str) -> dict[str, Any]:
    return {
        "type": "payment",
        "accountNumber": account,
        "reference": reference,
        "amount": amount,
        "currency": "CNY",
        "paidAt": paid_at,
    }


async def _account(engine: AsyncEngine, debt_id: int) -> str:
    d = tables.debts.c
    async with engine.connect() as conn:
        found = await conn.execute(select(d.account_number).where(d.id == debt_id))
        return str(found.scalar_one())


async def _debt_statuses(engine: AsyncEngine, case_id: int) -> list[str]:
    d = tables.debts.c
    async with engine.connect() as conn:
        stmt = select(d.status).where(d.case_id == case_id).order_by(d.id)
        return [str(x) for x in (await conn.execute(stmt)).scalars()]


async def test_a_plan_instalment_paid_through_the_feed_counts_and_the_plan_is_not_broken(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    made = await make_case(migrated, [[D0 - timedelta(days=10)]])
    plan_id = await put_in_effect(
        migrated,
        made.case_id,
        instalments=[(D0 - timedelta(days=1), "500.00"), (D0 + timedelta(days=30), "500.00")],
    )
    account = await _account(migrated, made.debt_ids[0])
    # The core's payment of the instalment, on its due date (noon in Shanghai).
    paid = _payment(account, "FEED-1", "500.00", "2027-06-14T12:00:00+08:00")
    await _feed(migrated, tmp_path, "pay", [paid], D0 - timedelta(days=1))
    assert (await run(migrated, D0)).days[0].restructurings_broken == 0
    row = await restructuring(migrated, plan_id)
    assert (row.status, row.paid_amount, row.payments_in_row) == ("ACTIVE", D("500.00"), 1)
    assert (await plan_lines(migrated, plan_id))[0] == (1, D("500.00"), D0 - timedelta(days=1))
    (counted,) = await events(migrated, made.case_id, "PlanPaymentCounted")
    assert counted.data["paid_amount"] == "500.00"
    # Counted once: the next run finds nothing new to count.
    await run(migrated, D0 + timedelta(days=1))
    assert len(await events(migrated, made.case_id, "PlanPaymentCounted")) == 1


async def test_a_settlement_paid_through_the_feed_settles_and_a_feed_reversal_unsettles(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    made = await make_case(migrated, [[D0 - timedelta(days=10)]])
    settlement_id = await put_in_effect(
        migrated,
        made.case_id,
        kind="SETTLEMENT",
        settlement_amount="3000.00",
        settle_by=D0 + timedelta(days=10),
    )
    account = await _account(migrated, made.debt_ids[0])
    paid = _payment(account, "FEED-S", "3000.00", "2027-06-14T12:00:00+08:00")
    await _feed(migrated, tmp_path, "pay", [paid], D0 - timedelta(days=1))
    await run(migrated, D0)
    row = await restructuring(migrated, settlement_id)
    assert (row.status, row.paid_amount, row.concession) == (
        "COMPLETED",
        D("3000.00"),
        D("2000.00"),
    )
    case = await case_row(migrated, made.case_id)
    assert (case.status, case.close_reason) == ("CLOSED", "SETTLED")
    assert await _debt_statuses(migrated, made.case_id) == ["SETTLED"]
    paid = {"paid": "3000.00", "discount": "2000.00", "currency": "CNY", "writtenOffDebts": "0"}
    assert ("SETTLEMENT_PAID", paid) in await decisions_of(migrated, made.case_id)

    reversal = {"type": "paymentReversal", "reference": "FEED-S", "reason": "chargeback"}
    await _feed(migrated, tmp_path, "reverse", [reversal], D0 + timedelta(days=1))
    await run(migrated, D0 + timedelta(days=1))
    row = await restructuring(migrated, settlement_id)
    assert (row.status, row.paid_amount, row.ended_at) == ("ACTIVE", D("0.00"), None)
    case = await case_row(migrated, made.case_id)
    assert (case.status, case.close_reason) == ("OPEN", None)
    assert await _debt_statuses(migrated, made.case_id) == ["DELINQUENT"]
    moves = [e.data["trigger"] for e in await events(migrated, made.case_id, "CaseTransitioned")]
    assert moves == ["SETTLE", "UNSETTLE"]


async def test_a_catch_up_run_judges_its_date_not_the_payments_made_after_it(
    migrated: AsyncEngine,
) -> None:
    """An instalment due D0 - 1 (no grace) paid on D0 + 1, before the run for D0 is caught up:
    it was not paid by its last day, so the plan is broken on D0."""
    made = await make_case(migrated, [[D0 - timedelta(days=10)]])
    plan_id = await put_in_effect(
        migrated,
        made.case_id,
        instalments=[(D0 - timedelta(days=1), "500.00"), (D0 + timedelta(days=30), "500.00")],
    )
    late = datetime(2027, 6, 16, 4, 0, tzinfo=UTC)  # D0 + 1, noon in Shanghai
    sessions = session_factory(migrated)
    request = services.PaymentRequest(
        made.debt_ids[0], None, D("500.00"), "CNY", late, "LATE-1", None
    )
    await services.post_payment(lambda: SqlUnitOfWork(sessions), FixedClock(late), request)
    assert (await restructuring(migrated, plan_id)).paid_amount == D("500.00")
    result = await run(migrated, D0, at=noon(D0 + timedelta(days=1)))
    assert result.days[0].restructurings_broken == 1
    row = await restructuring(migrated, plan_id)
    assert (row.status, row.payments_in_row) == ("BROKEN", 0)


@pytest.mark.parametrize("ending", ["broken", "completed"])
async def test_a_cure_held_on_probation_is_given_by_a_later_run_once_the_plan_ends(
    migrated: AsyncEngine, tmp_path: Path, ending: str
) -> None:
    """The core's schedule is paid (the run brings DPD from 5 to 0) while the plan is on
    probation: the cure is held and the case stays OPEN at DPD 0; once the plan is broken, or
    completed by a payment of the feed, a later run cures it."""
    paid = dict(paid=[[True]], days_past_due=5, bucket="M1", classification="MILD")
    made = await make_case(migrated, [[D0 - timedelta(days=5)]], **paid)  # type: ignore[arg-type]
    plan_id = await put_in_effect(
        migrated, made.case_id, instalments=[(D0 + timedelta(days=2), "100.00")]
    )
    assert (await run(migrated, D0)).days[0].cured == 0
    held = await case_row(migrated, made.case_id)
    assert (held.status, held.days_past_due) == ("OPEN", 0)
    if ending == "completed":
        account = await _account(migrated, made.debt_ids[0])
        paying = _payment(account, "FEED-P", "100.00", "2027-06-16T12:00:00+08:00")
        await _feed(migrated, tmp_path, "pay", [paying], D0 + timedelta(days=1))
    await run(migrated, D0 + timedelta(days=3))
    status = (await restructuring(migrated, plan_id)).status
    assert status == ("BROKEN" if ending == "broken" else "COMPLETED")
    await run(migrated, D0 + timedelta(days=4))
    cured = await case_row(migrated, made.case_id)
    assert (cured.status, cured.close_reason) == ("CLOSED", "CURED")


async def test_a_plan_on_a_case_closed_paid_in_full_ends_and_is_never_broken(
    migrated: AsyncEngine,
) -> None:
    made = await make_case(migrated, [[D0 - timedelta(days=10)]])
    plan_id = await put_in_effect(
        migrated, made.case_id, instalments=[(D0 - timedelta(days=5), "500.00")]
    )
    c = tables.cases.c
    async with writing(migrated) as conn:  # the core booked it all: the run closed it meanwhile
        await conn.execute(
            update(tables.cases)
            .where(c.id == made.case_id)
            .values(status="CLOSED", close_reason="PAID_IN_FULL", closed_at=noon(D0))
        )
    assert (await run(migrated, D0)).days[0].restructurings_broken == 0
    row = await restructuring(migrated, plan_id)
    assert (row.status, row.ended_at is not None) == ("COMPLETED", True)
    assert await events(migrated, made.case_id, "RestructuringBroken") == []


async def test_saving_an_evaluation_of_a_version_no_longer_stored_is_a_conflict(
    migrated: AsyncEngine,
) -> None:
    made = await make_case(migrated, [[D0 - timedelta(days=10)]])
    plan_id = await put_in_effect(
        migrated, made.case_id, instalments=[(D0 + timedelta(days=5), "500.00")]
    )
    r = tables.restructurings.c
    async with session_factory(migrated)() as session:
        plans_repo = SqlPlanRepository(session)
        current = await plans_repo.current(made.case_id)
        assert current is not None and current.id == plan_id
        # Someone else evaluated it meanwhile (the version moved on).
        await session.execute(
            update(tables.restructurings).where(r.id == plan_id).values(version=r.version + 1)
        )
        evaluation = plans.evaluate(current, [])
        assert evaluation is not None
        with pytest.raises(ConcurrencyConflict):
            await plans_repo.save(current, evaluation.after, noon(D0))
        await session.rollback()


async def test_a_new_episode_from_the_feed_is_not_escalated_while_a_plan_is_in_effect(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    """A new loan 40 days past due on a case closed CURED (its watch window over): the new
    episode starts in COLLECTION at once, unless the case's plan is in effect (EARLY)."""
    closed = dict(status="CLOSED", close_reason="CURED", watch_until=D0 - timedelta(days=60))
    on_plan = await make_case(migrated, [[D0 - timedelta(days=100)]], paid=[[True]], **closed)  # type: ignore[arg-type]
    control = await make_case(migrated, [[D0 - timedelta(days=100)]], paid=[[True]], **closed)  # type: ignore[arg-type]
    await put_in_effect(
        migrated, on_plan.case_id, instalments=[(D0 + timedelta(days=20), "100.00")]
    )
    b = tables.borrowers.c
    rows: list[Any] = []
    async with writing(migrated) as conn:
        for made in (on_plan, control):
            external = f"B-PLAN-{made.case_id}"
            await conn.execute(
                update(tables.borrowers)
                .where(b.id == made.borrower_id)
                .values(external_id=external)
            )
            rows.append(
                {
                    "type": "debt",
                    "accountNumber": f"NEW-{made.case_id}",
                    "borrowerExternalId": external,
                    "portfolio": "retail",
                    "productType": "CONSUMER_LOAN",
                    "currency": "CNY",
                    "principal": "1000.00",
                    "interest": "0.00",
                    "penalty": "0.00",
                    "fee": "0.00",
                    "openedOn": "2027-01-05",
                    "instalments": [],
                    "daysPastDue": 40,
                }
            )
    await _feed(migrated, tmp_path, "new", rows, D0)
    held, escalated = (
        await case_row(migrated, on_plan.case_id),
        await case_row(migrated, control.case_id),
    )
    assert (held.status, held.stage) == ("OPEN", "EARLY")
    assert (escalated.status, escalated.stage) == ("OPEN", "COLLECTION")
