"""The snapshot of a closure: a case the daily run does not age (closed as SETTLED by a payment, or
sold) is snapshotted once more, by the run standing for the local day it closed on, with its
closed status and the collector or agency that held it until then — so that the reports find the
payment that settled it in its portfolio and in its owner's figures — and never again after.

Dates: D0 = 2027-06-15, portfolio ``retail`` (Asia/Shanghai, UTC+8). Each run executes at noon
UTC the day after its date (its date has ended everywhere); a payment or a sale is made at
04:00Z, noon in Shanghai, on the day it belongs to.

Cases (5,000.00 owed on one debt, the first instalment 40 days late on D0: delinquent, M2, in
the COLLECTION stage):
  A  assigned to the collector ``closer``; a settlement of 3,000.00 paid in full on D0+1
  B  placed with Alpha (commission 0.1500) until D0+30; a settlement of 3,000.00 paid on D0+1
  C  written off, placed with Beta; sold on D0+1 (the sale recalls Beta in the same instant)
  E  closed SETTLED on D0-5, before the first run: never snapshotted
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.clock import FixedClock
from domain.money import Money
from domain.payments import services as payments
from domain.reports.goals import DEFAULT_GOALS
from domain.reports.model import CommissionStatement, Grouping, Period, Ratio, ScorecardLevel
from domain.writeoff import services as writeoff
from jobs.daily import DailyOutcome
from store import tables
from store.db import session_factory
from store.report_basis import observe
from store.report_flows import commission_statements, money_flows
from store.scorecard_queries import ScorecardRows, scorecards
from store.uow import SqlUnitOfWork
from tests.daily_support import Made, case_row, make_case, run
from tests.factories import Factory
from tests.plans_support import put_in_effect

D = Decimal
D0 = date(2027, 6, 15)
snap = tables.debt_snapshots.c


def day(offset: int) -> date:
    return D0 + timedelta(days=offset)


def shanghai_noon(offset: int) -> datetime:
    return datetime.combine(day(offset), time(4, 0), UTC)


async def run_for(engine: AsyncEngine, offset: int) -> DailyOutcome:
    """The run for D0 + ``offset`` (catching up), executed the day after its date."""
    return await run(engine, day(offset), datetime.combine(day(offset + 1), time(12, 0), UTC))


async def delinquent_case(engine: AsyncEngine, stage: str = "COLLECTION", **values: Any) -> Made:
    return await make_case(engine, [[day(-40), day(20), day(50)]], stage=stage, **values)


async def settle(engine: AsyncEngine, made: Made, offset: int) -> None:
    """A settlement of 3,000.00 on the 5,000.00 owed, paid in full in one payment at noon in
    Shanghai on D0 + ``offset``."""
    await put_in_effect(
        engine,
        made.case_id,
        kind="SETTLEMENT",
        settlement_amount="3000.00",
        settle_by=day(offset + 10),
        approved_at=datetime.combine(day(-3), time(4, 0), UTC),
    )
    at = shanghai_noon(offset)
    request = payments.PaymentRequest(
        made.debt_ids[0], None, D("3000.00"), "CNY", at, f"SETTLE-{made.case_id}", None
    )
    sessions = session_factory(engine)
    await payments.post_payment(lambda: SqlUnitOfWork(sessions), FixedClock(at), request)
    case = await case_row(engine, made.case_id)
    assert (case.status, case.close_reason) == ("CLOSED", "SETTLED")


async def taken(engine: AsyncEngine, made: Made) -> dict[date, tuple[Any, ...]]:
    """The debt's snapshots by date: case status, stage, collector, agency, strategy."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(
                snap.as_of,
                snap.case_status,
                snap.case_stage,
                snap.assignee_id,
                snap.agency_id,
                snap.strategy,
            ).where(snap.debt_id == made.debt_ids[0])
        )
        return {row.as_of: tuple(row)[1:] for row in rows}


async def test_a_closure_is_snapshotted_once_by_the_run_of_its_day(migrated: AsyncEngine) -> None:
    factory = Factory(migrated)
    closer = await factory.staff("closer")
    alpha = await factory.agency("Alpha", commission_rate="0.1500")
    beta = await factory.agency("Beta", commission_rate="0.2000")
    a = await delinquent_case(migrated, assignee_id=closer.id)
    b = await delinquent_case(migrated, agency_id=alpha.id, placement_ends_on=day(30))
    c = await delinquent_case(
        migrated,
        agency_id=beta.id,
        placement_ends_on=day(30),
        stage="WRITTEN_OFF",
        debt_status="WRITTEN_OFF",
    )
    e = await delinquent_case(
        migrated,
        status="CLOSED",
        close_reason="SETTLED",
        closed_at=shanghai_noon(-5),
        debt_status="SETTLED",
        assignee_id=closer.id,
    )
    first = await run_for(migrated, 0)
    assert first.days[0].snapshots == 3  # A, B and C; E closed before any run

    await settle(migrated, a, 1)
    await settle(migrated, b, 1)
    sessions = session_factory(migrated)
    await writeoff.mark_debt_sold(
        lambda: SqlUnitOfWork(sessions), FixedClock(shanghai_noon(1)), None, c.case_id, "Buyer"
    )
    assert (await case_row(migrated, c.case_id)).agency_id is None  # the sale recalled Beta

    second = await run_for(migrated, 1)
    assert second.days[0].snapshots == 3  # the three closures of the day, once each
    third = await run_for(migrated, 2)
    assert third.days[0].snapshots == 0  # closed since the last run: nothing more

    # Open, the cases are treated (strategy STANDARD); closed, they are not any more.
    assert await taken(migrated, a) == {
        day(0): ("OPEN", "COLLECTION", closer.id, None, "STANDARD"),
        day(1): ("CLOSED", "COLLECTION", closer.id, None, None),
    }
    assert await taken(migrated, b) == {
        day(0): ("OPEN", "COLLECTION", None, alpha.id, "STANDARD"),
        day(1): ("CLOSED", "COLLECTION", None, alpha.id, None),
    }
    # The agency that held the sold case until the sale, though the sale recalled it.
    assert await taken(migrated, c) == {
        day(0): ("OPEN", "WRITTEN_OFF", None, beta.id, "STANDARD"),
        day(1): ("CLOSED", "WRITTEN_OFF", None, beta.id, None),
    }
    assert await taken(migrated, e) == {}


async def test_a_catch_up_snapshots_the_closure_on_its_own_day(migrated: AsyncEngine) -> None:
    """The runs of D0+1 and D0+2 catch up after a closure on D0+2: D0+1's run (which ages no
    closed case) leaves it, D0+2's takes it."""
    closer = await Factory(migrated).staff("late.closer")
    a = await delinquent_case(migrated, assignee_id=closer.id)
    await run_for(migrated, 0)
    await settle(migrated, a, 2)
    caught_up = await run_for(migrated, 2)
    assert [r.snapshots for r in caught_up.days] == [0, 1]
    assert sorted(await taken(migrated, a)) == [day(0), day(2)]
    assert (await taken(migrated, a))[day(2)] == ("CLOSED", "COLLECTION", closer.id, None, None)


async def test_the_reports_credit_the_settling_payment_to_its_portfolio_and_owner(
    migrated: AsyncEngine,
) -> None:
    """Period D0+1 … D0+2 (opening: D0's run). A and B owed 5,000.00 each at the opening, 40
    days late; each paid 3,000.00 on D0+1, which settled it. By portfolio: retail recovered
    6,000.00 of 10,000.00 delinquent; the cost is Alpha's commission on B's payment, 3,000.00 ×
    0.1500 = 450.00. The collector ``closer`` recovered A's 3,000.00 of its 5,000.00 and closed
    one case; Alpha B's, placed on the day of the payment."""
    factory = Factory(migrated)
    closer = await factory.staff("report.closer")
    alpha = await factory.agency("Report Alpha", commission_rate="0.1500")
    a = await delinquent_case(migrated, assignee_id=closer.id)
    b = await delinquent_case(migrated, agency_id=alpha.id, placement_ends_on=day(30))
    await run_for(migrated, 0)
    await settle(migrated, a, 1)
    await settle(migrated, b, 1)
    await run_for(migrated, 2)

    async with migrated.connect() as conn:
        observations = await observe(conn, Period(day(1), day(2)))
        assert observations.opening == day(0)
        flows = await money_flows(
            conn, observations, Grouping.PORTFOLIO, true(), DEFAULT_GOALS, loan_book=False
        )
        collectors = await scorecards(
            conn, observations, ScorecardLevel.COLLECTOR, true(), ScorecardRows()
        )
        agencies = await scorecards(
            conn, observations, ScorecardLevel.AGENCY, true(), ScorecardRows()
        )
        statements = await commission_statements(conn, observations, true())

    assert set(flows) == {("retail", "CNY")}  # no payment without a key
    retail = flows["retail", "CNY"]
    assert retail.recovered == Money(D("6000.00"), "CNY")
    assert retail.recovery_rate == Ratio(D("6000.00"), D("10000.00"))
    assert retail.cost_of_collection == Ratio(D("450.00"), D("6000.00"))

    (card,) = collectors
    assert (card.key, card.currency) == ("report.closer", "CNY")
    assert card.recovered == Money(D("3000.00"), "CNY")
    assert card.recovery_rate == Ratio(D("3000.00"), D("5000.00"))
    assert card.cases_closed == 1

    statement = CommissionStatement(
        rate=D("0.1500"),
        tail_days=0,
        collected=Money(D("3000.00"), "CNY"),
        tail_collected=Money(D("0.00"), "CNY"),
        commission=Money(D("450.00"), "CNY"),
        payments=1,
    )
    assert statements == {(alpha.id, "CNY"): statement}
    (agency_card,) = agencies
    assert (agency_card.key, agency_card.recovered) == ("Report Alpha", Money(D("3000.00"), "CNY"))
    assert agency_card.commission == statement
