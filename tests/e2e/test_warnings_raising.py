"""Every early-warning rule driven to its threshold through ``raise_warnings`` (the function the
daily run calls), on a database of this module's own so that the counts are exact: one below the
threshold raises nothing, the threshold raises exactly one, a second run for the same date or
the next raises nothing new for the same cause, and a new cause raises a new one.

Each test runs one rule of the default set (its default threshold) unless it says otherwise, and
removes what it made."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.warnings.rules import DEFAULT_RULES, RuleName, WarningRules
from store import tables
from store.db import create_engine
from store.migrate import upgrade
from store.warnings_queries import raise_warnings
from tests.conftest import PG_URL, _create_pg_database
from tests.factories import Factory, MadeCase, today, writing

w, c, i = tables.warnings.c, tables.cases.c, tables.instalments.c
TODAY = today()


@pytest.fixture(scope="module")
async def private(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsyncEngine]:
    drop = None
    if PG_URL:
        url, drop = await _create_pg_database(PG_URL)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('warnings') / 'warnings.db'}"
    engine = create_engine(url)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()
        if drop is not None:
            await drop()


@pytest.fixture
async def factory(private: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(private)
    try:
        yield made
    finally:
        # Snapshots have a composite key, which the factory's cleanup does not follow.
        debts = [pk for table, pk in made.created if table is tables.debts]
        async with writing(private) as conn:
            s = tables.debt_snapshots.c
            await conn.execute(delete(tables.debt_snapshots).where(s.debt_id.in_(debts)))
        await made.cleanup()


def only(name: RuleName) -> WarningRules:
    """The default set's rule of that name alone (its default threshold)."""
    rule = DEFAULT_RULES.get(name)
    assert rule is not None
    return WarningRules(DEFAULT_RULES.version, (rule,))


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), UTC)


async def run(
    engine: AsyncEngine,
    as_of: date,
    rules: WarningRules = DEFAULT_RULES,
    at: datetime | None = None,
) -> dict[str, int]:
    """Raises as of a date in a transaction of its own; returns the non-zero counts."""
    async with writing(engine) as conn:
        counts = await raise_warnings(conn, as_of, at or noon(as_of), rules=rules)
    assert set(counts) == {rule.name.value for rule in rules.rules}
    return {name: n for name, n in counts.items() if n}


async def warnings_of(engine: AsyncEngine, *cases: MadeCase) -> list[Any]:
    ids = [made.case.id for made in cases]
    async with engine.connect() as conn:
        stmt = select(tables.warnings).where(w.case_id.in_(ids)).order_by(w.id)
        return list((await conn.execute(stmt)).all())


async def set_paid(engine: AsyncEngine, instalment_id: int, amount: str) -> None:
    async with writing(engine) as conn:
        await conn.execute(
            update(tables.instalments)
            .where(i.id == instalment_id)
            .values(amount_paid=Decimal(amount))
        )


# ---- MISSED_FIRST_PAYMENT -----------------------------------------------------------------------


async def test_missed_first_payment(private: AsyncEngine, factory: Factory) -> None:
    rules = only(RuleName.MISSED_FIRST_PAYMENT)
    await factory.staff("mfp.collector", team="East")
    made = await factory.case(days_past_due=10, assignee="mfp.collector")
    due = made.instalments[0].due_date
    assert due == TODAY - timedelta(days=10)
    # Due today (0 days past due, one below the threshold of 1 day): nothing.
    assert await run(private, due, rules) == {}
    assert await run(private, due + timedelta(days=1), rules) == {"MISSED_FIRST_PAYMENT": 1}
    assert await run(private, due + timedelta(days=1), rules) == {}
    assert await run(private, due + timedelta(days=2), rules) == {}
    [raised] = await warnings_of(private, made)
    assert (raised.rule, raised.cause, raised.severity, raised.status) == (
        "MISSED_FIRST_PAYMENT",
        f"instalment:{made.instalments[0].id}",
        "HIGH",
        "RAISED",
    )
    assert raised.rule_version == DEFAULT_RULES.version
    assert raised.raised_at == noon(due + timedelta(days=1))
    assert raised.reason == (
        f"Missed first payment: instalment 1, the first of the schedule, fell due on "
        f"{due.isoformat()} and nothing was paid."
    )
    # It reached the case's collector.
    assert (raised.assignee_id, raised.agency_id) == (made.case.assignee_id, None)
    # A new cause (another debt's first instalment) raises a new one; a part-paid first
    # instalment is not a missed one (PARTIAL_PAYMENTS judges it).
    other = await factory.case(days_past_due=10)
    part_paid = await factory.case(days_past_due=10)
    await set_paid(private, part_paid.instalments[0].id, "1.00")
    assert await run(private, TODAY, rules) == {"MISSED_FIRST_PAYMENT": 1}
    assert [x.cause for x in await warnings_of(private, other, part_paid)] == [
        f"instalment:{other.instalments[0].id}"
    ]
    # A schedule whose lowest sequence is not 1: the reason names the instalment it judged.
    renumbered = await factory.case(days_past_due=10)
    async with writing(private) as conn:
        for instalment in renumbered.instalments:
            await conn.execute(
                update(tables.instalments)
                .where(i.id == instalment.id)
                .values(sequence=instalment.sequence + 6)
            )
    assert await run(private, TODAY, rules) == {"MISSED_FIRST_PAYMENT": 1}
    [judged] = await warnings_of(private, renumbered)
    assert judged.cause == f"instalment:{renumbered.instalments[0].id}"
    assert judged.reason.startswith("Missed first payment: instalment 7, the first of the")


async def test_closed_cases_raise_nothing(private: AsyncEngine, factory: Factory) -> None:
    await factory.case(days_past_due=200, status="CLOSED")
    assert await run(private, TODAY) == {}


# ---- CONSECUTIVE_LATE_INSTALMENTS ---------------------------------------------------------------


async def test_consecutive_late_instalments(private: AsyncEngine, factory: Factory) -> None:
    rules = only(RuleName.CONSECUTIVE_LATE_INSTALMENTS)
    made = await factory.case(days_past_due=40)  # due 40 and 10 days ago, and in 20 days
    first, second, third = made.instalments
    # As of the second due date only the first is late (one below the threshold of 2).
    assert await run(private, second.due_date, rules) == {}
    assert await run(private, TODAY, rules) == {"CONSECUTIVE_LATE_INSTALMENTS": 1}
    assert await run(private, TODAY, rules) == {}
    # The run grows to three: still the same run, nothing new.
    assert await run(private, third.due_date + timedelta(days=1), rules) == {}
    [raised] = await warnings_of(private, made)
    debt = made.debts[0].id
    # Keyed on the instalment that brought the run to the threshold (the second).
    assert (raised.cause, raised.severity) == (f"instalments:{debt}:2", "MEDIUM")
    assert raised.reason == (
        "2 instalments in a row past due and not paid in full, from instalment 1 "
        "(the threshold reached at instalment 2)."
    )
    # The borrower pays the head of the run: the late ones now run 2-3, the same episode.
    await set_paid(private, first.id, "1500.00")
    assert await run(private, third.due_date + timedelta(days=1), rules) == {}
    # The second is paid too: the third alone is below the threshold.
    await set_paid(private, second.id, "1500.00")
    assert await run(private, third.due_date + timedelta(days=1), rules) == {}
    # A newly late fourth instalment makes a run of its own (3-4): a new warning, keyed on it.
    fourth = third.due_date + timedelta(days=30)
    async with writing(private) as conn:
        await conn.execute(
            insert(tables.instalments).values(
                debt_id=debt,
                sequence=4,
                due_date=fourth,
                amount_due=Decimal("1500.00"),
                amount_paid=Decimal("0.00"),
            )
        )
    assert await run(private, fourth, rules) == {}  # due today: not late yet
    assert await run(private, fourth + timedelta(days=1), rules) == {
        "CONSECUTIVE_LATE_INSTALMENTS": 1
    }
    assert [x.cause for x in await warnings_of(private, made)] == [
        f"instalments:{debt}:2",
        f"instalments:{debt}:4",
    ]


async def test_late_instalments_apart_are_no_run(private: AsyncEngine, factory: Factory) -> None:
    rules = only(RuleName.CONSECUTIVE_LATE_INSTALMENTS)
    made = await factory.case(days_past_due=70)  # due 70, 40 and 10 days ago
    await set_paid(private, made.instalments[1].id, "1500.00")  # the middle one paid
    assert await run(private, TODAY, rules) == {}


# ---- PARTIAL_PAYMENTS ---------------------------------------------------------------------------


async def test_partial_payments(private: AsyncEngine, factory: Factory) -> None:
    rules = only(RuleName.PARTIAL_PAYMENTS)
    made = await factory.case(days_past_due=75)  # three instalments past due
    first, second, third = made.instalments
    await set_paid(private, first.id, "100.00")
    assert await run(private, TODAY, rules) == {}  # one part-paid: below the threshold of 2
    await set_paid(private, second.id, "1499.99")
    assert await run(private, TODAY, rules) == {"PARTIAL_PAYMENTS": 1}
    assert await run(private, TODAY + timedelta(days=1), rules) == {}
    await set_paid(private, third.id, "0.01")
    assert await run(private, TODAY, rules) == {"PARTIAL_PAYMENTS": 1}
    raised = await warnings_of(private, made)
    assert [(x.cause, x.severity) for x in raised] == [
        (f"instalment:{second.id}", "LOW"),
        (f"instalment:{third.id}", "LOW"),
    ]
    assert raised[0].reason == "2 past-due instalments paid only in part."


async def test_partial_payment_not_yet_due_counts_nothing(
    private: AsyncEngine, factory: Factory
) -> None:
    rules = only(RuleName.PARTIAL_PAYMENTS)
    made = await factory.case(days_past_due=40)  # two past due, the third in 20 days
    for instalment in made.instalments:
        await set_paid(private, instalment.id, "100.00")
    assert await run(private, TODAY, rules) == {"PARTIAL_PAYMENTS": 1}
    assert [x.cause for x in await warnings_of(private, made)] == [
        f"instalment:{made.instalments[1].id}"
    ]


# ---- BROKEN_PROMISES ----------------------------------------------------------------------------


async def promise(engine: AsyncEngine, made: MadeCase, due: date, status: str = "BROKEN") -> int:
    async with writing(engine) as conn:
        result = await conn.execute(
            insert(tables.promises).values(
                case_id=made.case.id,
                amount=Decimal("500.00"),
                currency="CNY",
                promised_on=due - timedelta(days=7),
                due_date=due,
                grace_days=3,
                status=status,
                paid_amount=Decimal("0.00"),
                created_at=noon(due - timedelta(days=7)),
                version=1,
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])


async def test_broken_promises(private: AsyncEngine, factory: Factory) -> None:
    rules = only(RuleName.BROKEN_PROMISES)
    made = await factory.case()
    await promise(private, made, TODAY - timedelta(days=40))
    await promise(private, made, TODAY - timedelta(days=30), status="KEPT")
    assert await run(private, TODAY, rules) == {}  # one broken: below the threshold of 2
    second = await promise(private, made, TODAY - timedelta(days=20))
    assert await run(private, TODAY, rules) == {"BROKEN_PROMISES": 1}
    assert await run(private, TODAY, rules) == {}
    assert await run(private, TODAY + timedelta(days=1), rules) == {}
    third = await promise(private, made, TODAY - timedelta(days=1))
    assert await run(private, TODAY, rules) == {"BROKEN_PROMISES": 1}
    raised = await warnings_of(private, made)
    assert [(x.cause, x.severity) for x in raised] == [
        (f"promise:{second}", "HIGH"),
        (f"promise:{third}", "HIGH"),
    ]
    assert raised[0].reason == "2 promises to pay broken in the last 90 days."


async def test_broken_promises_count_within_the_window(
    private: AsyncEngine, factory: Factory
) -> None:
    rules = only(RuleName.BROKEN_PROMISES)
    outside, inside = await factory.case(), await factory.case()
    await promise(private, outside, TODAY - timedelta(days=90))  # 90 days back: out of it
    await promise(private, outside, TODAY - timedelta(days=1))
    await promise(private, inside, TODAY - timedelta(days=89))  # 89 days back: in it
    await promise(private, inside, TODAY - timedelta(days=1))
    assert await run(private, TODAY, rules) == {"BROKEN_PROMISES": 1}
    assert len(await warnings_of(private, inside)) == 1


# ---- REPEATED_FAILED_CONTACT --------------------------------------------------------------------


async def contact(
    engine: AsyncEngine,
    made: MadeCase,
    at: datetime,
    outcome: str = "NO_ANSWER",
    direction: str = "OUTBOUND",
    blocked: bool = False,
) -> int:
    async with writing(engine) as conn:
        result = await conn.execute(
            insert(tables.contacts).values(
                case_id=made.case.id,
                borrower_id=made.borrower.id,
                at=at,
                channel="PHONE",
                direction=direction,
                party="BORROWER",
                outcome=None if blocked else outcome,
                notes="",
                source="LOGGED",
                blocked=blocked,
                rule="QUIET_HOURS" if blocked else None,
                breaches=[],
                consented=False,
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])


async def test_repeated_failed_contact(private: AsyncEngine, factory: Factory) -> None:
    rules = only(RuleName.REPEATED_FAILED_CONTACT)
    made = await factory.case()
    start = noon(TODAY) - timedelta(days=3)
    outcomes = ["NO_ANSWER", "BUSY_OR_NOT_CONNECTED", "WRONG_NUMBER", "LEFT_MESSAGE"]
    ids = [
        await contact(private, made, start + timedelta(hours=n), o) for n, o in enumerate(outcomes)
    ]
    await contact(private, made, start + timedelta(hours=4, minutes=30), blocked=True)
    assert await run(private, TODAY, rules) == {}  # four failures (a refused one is no attempt)
    await contact(private, made, start + timedelta(hours=5), "FAILED")
    assert await run(private, TODAY, rules) == {"REPEATED_FAILED_CONTACT": 1}
    assert await run(private, TODAY, rules) == {}
    assert await run(private, TODAY + timedelta(days=1), rules) == {}
    # Somebody answered; five more failures are a new run.
    later = start + timedelta(days=1)
    await contact(private, made, later, "RIGHT_PARTY_CONTACT")
    for n in range(4):
        await contact(private, made, later + timedelta(hours=n + 1))
    assert await run(private, TODAY, rules) == {}
    fifth = await contact(private, made, later + timedelta(hours=6))
    assert await run(private, TODAY, rules) == {"REPEATED_FAILED_CONTACT": 1}
    raised = await warnings_of(private, made)
    assert [x.cause for x in raised] == [f"contacts:{ids[0]}", f"contacts:{fifth - 4}"]
    assert raised[0].reason == "5 outbound attempts in a row reached nobody."


async def test_an_inbound_contact_ends_a_run(private: AsyncEngine, factory: Factory) -> None:
    rules = only(RuleName.REPEATED_FAILED_CONTACT)
    made = await factory.case()
    start = noon(TODAY) - timedelta(days=2)
    for n in range(3):
        await contact(private, made, start + timedelta(hours=n))
    await contact(private, made, start + timedelta(hours=3), "CALLBACK_REQUESTED", "INBOUND")
    for n in range(4):
        await contact(private, made, start + timedelta(hours=4 + n))
    assert await run(private, TODAY, rules) == {}


async def test_a_catch_up_counts_no_later_attempts(private: AsyncEngine, factory: Factory) -> None:
    """A run catching up an earlier date (at a later instant) counts only the attempts made by
    the end of that date: the fifth failure, made the next day, raises on the next date only."""
    rules = only(RuleName.REPEATED_FAILED_CONTACT)
    made = await factory.case()
    day = TODAY - timedelta(days=5)
    for n in range(4):
        await contact(private, made, noon(day) + timedelta(hours=n))
    await contact(private, made, datetime.combine(day + timedelta(days=1), time(0), UTC))
    late = noon(TODAY)  # the run's real instant, days after the date it catches up
    assert await run(private, day, rules, late) == {}
    assert await run(private, day + timedelta(days=1), rules, late) == {
        "REPEATED_FAILED_CONTACT": 1
    }


# ---- RISING_DPD ---------------------------------------------------------------------------------


async def snapshot(engine: AsyncEngine, made: MadeCase, as_of: date, bucket: str) -> None:
    async with writing(engine) as conn:
        for debt in made.debts:
            await conn.execute(
                insert(tables.debt_snapshots).values(
                    debt_id=debt.id,
                    as_of=as_of,
                    case_id=made.case.id,
                    portfolio="retail",
                    product_type="CONSUMER_LOAN",
                    currency="CNY",
                    balance=Decimal("20970.50"),
                    principal=Decimal("20000.00"),
                    days_past_due=0,
                    bucket=bucket,
                    classification="MODERATE",
                    status="DELINQUENT",
                )
            )


async def set_bucket(engine: AsyncEngine, made: MadeCase, bucket: str) -> None:
    async with writing(engine) as conn:
        await conn.execute(update(tables.cases).where(c.id == made.case.id).values(bucket=bucket))


async def test_rising_dpd(private: AsyncEngine, factory: Factory) -> None:
    rules = only(RuleName.RISING_DPD)
    made = await factory.case(days_past_due=75)  # M3
    assert made.case.bucket == "M3"
    assert await run(private, TODAY, rules) == {}  # no snapshot before: nothing to compare
    await snapshot(private, made, TODAY - timedelta(days=2), "M2")
    await snapshot(private, made, TODAY - timedelta(days=1), "M3")
    assert await run(private, TODAY, rules) == {}  # as high as yesterday (0 buckets)
    # As of yesterday, the snapshot before was M2: one bucket higher.
    assert await run(private, TODAY - timedelta(days=1), rules) == {"RISING_DPD": 1}
    assert await run(private, TODAY - timedelta(days=1), rules) == {}
    await snapshot(private, made, TODAY, "M2")
    assert await run(private, TODAY + timedelta(days=1), rules) == {}  # M3 again: same cause
    await set_bucket(private, made, "M4")
    assert await run(private, TODAY + timedelta(days=1), rules) == {"RISING_DPD": 1}
    raised = await warnings_of(private, made)
    assert [(x.cause, x.severity) for x in raised] == [
        ("bucket:M3", "MEDIUM"),
        ("bucket:M4", "MEDIUM"),
    ]
    assert (
        raised[1].reason
        == "Days past due rose from bucket M2 to M4 since the previous daily snapshot."
    )


async def test_rising_dpd_compares_the_worst_debt(private: AsyncEngine, factory: Factory) -> None:
    rules = only(RuleName.RISING_DPD)
    made = await factory.case(days_past_due=75, debts=2)  # M3
    async with writing(private) as conn:
        for debt, bucket in zip(made.debts, ("M1", "M3"), strict=True):
            await conn.execute(
                insert(tables.debt_snapshots).values(
                    debt_id=debt.id,
                    as_of=TODAY - timedelta(days=1),
                    case_id=made.case.id,
                    portfolio="retail",
                    product_type="CONSUMER_LOAN",
                    currency="CNY",
                    balance=Decimal("1.00"),
                    principal=Decimal("1.00"),
                    days_past_due=0,
                    bucket=bucket,
                    classification="MILD",
                    status="DELINQUENT",
                )
            )
    assert await run(private, TODAY, rules) == {}


# ---- LARGE_OUTSTANDING --------------------------------------------------------------------------


async def set_outstanding(engine: AsyncEngine, made: MadeCase, amount: str, cur: str) -> None:
    async with writing(engine) as conn:
        await conn.execute(
            update(tables.cases)
            .where(c.id == made.case.id)
            .values(outstanding_amount=Decimal(amount), currency=cur)
        )


async def test_large_outstanding(private: AsyncEngine, factory: Factory) -> None:
    rules = only(RuleName.LARGE_OUTSTANDING)
    cny, usd = await factory.case(), await factory.case(portfolio="us-cards")
    await set_outstanding(private, cny, "99999.99", "CNY")
    await set_outstanding(private, usd, "14999.99", "USD")
    assert await run(private, TODAY, rules) == {}
    await set_outstanding(private, cny, "100000.00", "CNY")
    assert await run(private, TODAY, rules) == {"LARGE_OUTSTANDING": 1}
    assert await run(private, TODAY + timedelta(days=1), rules) == {}
    await set_outstanding(private, usd, "15000.00", "USD")
    assert await run(private, TODAY, rules) == {"LARGE_OUTSTANDING": 1}
    raised = await warnings_of(private, cny, usd)
    assert [(x.case_id, x.cause, x.severity, x.reason) for x in raised] == [
        (
            cny.case.id,
            "outstanding:CNY 100000.00",
            "HIGH",
            "Outstanding at or above CNY 100000.00.",
        ),
        (usd.case.id, "outstanding:USD 15000.00", "HIGH", "Outstanding at or above USD 15000.00."),
    ]
    # A new version of the rules with a lower amount is a new cause.
    rule = DEFAULT_RULES.get(RuleName.LARGE_OUTSTANDING)
    assert rule is not None
    lower = WarningRules("2026.2", (replace(rule, amounts={"CNY": Decimal("50000.00")}),))
    assert await run(private, TODAY, lower) == {"LARGE_OUTSTANDING": 1}
    assert (await warnings_of(private, cny))[-1].rule_version == "2026.2"


# ---- EXTERNAL_SIGNAL ----------------------------------------------------------------------------


async def signal(engine: AsyncEngine, borrower_id: int, at: datetime, severity: str) -> int:
    async with writing(engine) as conn:
        result = await conn.execute(
            insert(tables.external_signals).values(
                borrower_id=borrower_id,
                kind="JOB_LOSS",
                severity=severity,
                details="laid off",
                received_at=at,
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])


async def test_external_signals_reach_every_open_case(
    private: AsyncEngine, factory: Factory
) -> None:
    rules = only(RuleName.EXTERNAL_SIGNAL)
    at = noon(TODAY)
    borrower = await factory.borrower()
    retail = await factory.case(borrower=borrower)
    cards = await factory.case(borrower=borrower, portfolio="us-cards")
    closed = await factory.case(status="CLOSED", portfolio="other", borrower=borrower)
    # Received exactly 30 days back (the threshold): too old.
    await signal(private, borrower.id, at - timedelta(days=30), "HIGH")
    assert await run(private, TODAY, rules, at) == {}
    recent = await signal(
        private, borrower.id, at - timedelta(days=30) + timedelta(seconds=1), "HIGH"
    )
    assert await run(private, TODAY, rules, at) == {"EXTERNAL_SIGNAL": 2}
    assert await run(private, TODAY, rules, at + timedelta(hours=1)) == {}
    raised = await warnings_of(private, retail, cards, closed)
    assert [(x.case_id, x.cause, x.severity, x.reason) for x in raised] == [
        (retail.case.id, f"signal:{recent}", "HIGH", "External signal: JOB_LOSS."),
        (cards.case.id, f"signal:{recent}", "HIGH", "External signal: JOB_LOSS."),
    ]


async def test_a_catch_up_sees_no_later_signal(private: AsyncEngine, factory: Factory) -> None:
    """A catch-up of an earlier date raises no warning for a signal received after that date;
    the catch-up of the date it arrived on does (at the run's instant)."""
    rules = only(RuleName.EXTERNAL_SIGNAL)
    borrower = await factory.borrower()
    made = await factory.case(borrower=borrower)
    day = TODAY - timedelta(days=5)
    received = datetime.combine(day + timedelta(days=1), time(0), UTC)
    recent = await signal(private, borrower.id, received, "MEDIUM")
    late = noon(TODAY)
    assert await run(private, day, rules, late) == {}
    assert await run(private, day + timedelta(days=1), rules, late) == {"EXTERNAL_SIGNAL": 1}
    [raised] = await warnings_of(private, made)
    assert (raised.cause, raised.raised_at) == (f"signal:{recent}", late)


# ---- FLAG_REVIEW_DUE ----------------------------------------------------------------------------


async def flag(engine: AsyncEngine, borrower_id: int, review_on: date, lifted: bool = False) -> int:
    async with writing(engine) as conn:
        result = await conn.execute(
            insert(tables.borrower_flags).values(
                borrower_id=borrower_id,
                flag="HARDSHIP",
                set_at=noon(review_on - timedelta(days=60)),
                review_on=review_on,
                lifted_at=noon(review_on) if lifted else None,
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])


async def test_flag_review_due(private: AsyncEngine, factory: Factory) -> None:
    rules = only(RuleName.FLAG_REVIEW_DUE)
    borrower = await factory.borrower()
    first = await factory.case(borrower=borrower)
    second = await factory.case(borrower=borrower, portfolio="us-cards")
    set_flag = await flag(private, borrower.id, TODAY)
    await flag(private, borrower.id, TODAY - timedelta(days=10), lifted=True)
    assert await run(private, TODAY, rules) == {}  # due today: not passed yet
    assert await run(private, TODAY + timedelta(days=1), rules) == {"FLAG_REVIEW_DUE": 2}
    assert await run(private, TODAY + timedelta(days=2), rules) == {}
    raised = await warnings_of(private, first, second)
    assert [(x.case_id, x.cause, x.severity) for x in raised] == [
        (first.case.id, f"flag:{set_flag}", "LOW"),
        (second.case.id, f"flag:{set_flag}", "LOW"),
    ]
    assert raised[0].reason == (
        f"Review of the borrower's HARDSHIP flag was due on {TODAY.isoformat()}."
    )


# ---- the whole set ------------------------------------------------------------------------------


async def test_every_rule_in_one_run_once(private: AsyncEngine, factory: Factory) -> None:
    await factory.agency("Warning Partners")
    made = await factory.case(days_past_due=75, agency="Warning Partners")
    await set_outstanding(private, made, "100000.00", "CNY")
    await snapshot(private, made, TODAY - timedelta(days=1), "M2")
    counts = await run(private, TODAY)
    assert counts == {
        "MISSED_FIRST_PAYMENT": 1,
        "CONSECUTIVE_LATE_INSTALMENTS": 1,
        "RISING_DPD": 1,
        "LARGE_OUTSTANDING": 1,
    }
    assert await run(private, TODAY) == {}
    assert await run(private, TODAY + timedelta(days=1)) == {}
    raised = await warnings_of(private, made)
    # Each reached the agency the case is placed with.
    assert {(x.assignee_id, x.agency_id) for x in raised} == {(None, made.case.agency_id)}
