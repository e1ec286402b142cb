"""The daily run's SQL agrees with the domain's rules on the same data: each debt's days past due
(``domain.debts.ageing.aged_days_past_due`` over ``Debt.days_past_due``), and the bucket and
classification CASE expressions generated from a policy (the default one and another)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import literal, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.cases.classification import (
    DEFAULT_POLICY,
    ClassBand,
    Classification,
    ClassificationPolicy,
)
from domain.debts.ageing import aged_days_past_due
from domain.debts.model import Debt, DebtStatus, Instalment, ProductType, days_past_due
from store import ageing, tables
from tests.daily_support import case_row, make_case, run
from tests.factories import writing

OTHER_POLICY = ClassificationPolicy(
    version="test.2",
    bands=(
        ClassBand(0, 0, Classification.CURRENT, ""),
        ClassBand(1, 14, Classification.MILD, ""),
        ClassBand(15, 44, Classification.MODERATE, ""),
        ClassBand(45, None, Classification.SEVERE, ""),
    ),
    bucket_days=15,
    max_bucket=4,
)
AS_OF = date(2026, 3, 1)


@pytest.mark.parametrize("policy", [DEFAULT_POLICY, OTHER_POLICY], ids=["default", "other"])
async def test_bucket_and_class_sql_follow_the_policy_data(
    migrated: AsyncEngine, policy: ClassificationPolicy
) -> None:
    values = list(range(0, 400))
    async with migrated.connect() as conn:
        for start in range(0, len(values), 50):
            chunk = values[start : start + 50]
            columns = []
            for dpd in chunk:
                columns += [
                    ageing.bucket_sql(policy, literal(dpd)),
                    ageing.classification_sql(policy, literal(dpd)),
                ]
            row = (await conn.execute(select(*columns))).one()
            for n, dpd in enumerate(chunk):
                verdict = policy.classify(dpd)
                assert (row[2 * n], row[2 * n + 1]) == (
                    verdict.bucket,
                    verdict.classification.value,
                ), dpd


async def test_debt_ages_agree_with_the_domain_rule(migrated: AsyncEngine) -> None:
    """Random schedules, part payments, statuses and core figures; several dates."""
    rng = random.Random(20260301)
    expected_input: dict[int, tuple[Debt, list[Instalment], tuple[int, date] | None]] = {}
    statuses = [s.value for s in DebtStatus]
    for _ in range(60):
        schedules = []
        paids = []
        cores: list[tuple[int, date] | None] = []
        for _ in range(rng.randint(1, 3)):
            first = AS_OF - timedelta(days=rng.randint(-40, 300))
            count = rng.randint(0, 6)
            schedules.append([first + timedelta(days=30 * k) for k in range(count)])
            paids.append([rng.random() < 0.4 for _ in range(count)])
            cores.append(
                None
                if rng.random() < 0.5
                else (
                    rng.choice([0, 0, rng.randint(1, 200)]),
                    AS_OF - timedelta(rng.randint(-5, 60)),
                )
            )
        made = await make_case(migrated, schedules, paid=paids, core=cores)
        async with writing(migrated) as conn:
            for debt_id, schedule, paid, core in zip(
                made.debt_ids, schedules, paids, cores, strict=True
            ):
                status = rng.choice(statuses)
                await conn.execute(
                    update(tables.debts).where(tables.debts.c.id == debt_id).values(status=status)
                )
                if rng.random() < 0.3 and schedule:  # a part payment on one instalment
                    i = tables.instalments.c
                    await conn.execute(
                        update(tables.instalments)
                        .where(i.debt_id == debt_id, i.sequence == 1)
                        .values(amount_paid=Decimal("999.99"))
                    )
                    paid = [False, *paid[1:]]
                    partial = True
                else:
                    partial = False
                debt = Debt(
                    "x",
                    ProductType.CONSUMER_LOAN,
                    "CNY",
                    Decimal("5000.00"),  # the principal make_case stores
                    *(Decimal(0),) * 3,
                    AS_OF,
                    status=DebtStatus(status),
                )
                instalments = [
                    Instalment(
                        k + 1,
                        due,
                        Decimal("1000.00"),
                        Decimal("999.99")
                        if partial and k == 0
                        else Decimal("1000.00")
                        if done
                        else Decimal(0),
                    )
                    for k, (due, done) in enumerate(zip(schedule, paid, strict=True))
                ]
                expected_input[debt_id] = (debt, instalments, core)
    checked = 0
    async with migrated.connect() as conn:
        for day in (AS_OF - timedelta(days=45), AS_OF, AS_OF + timedelta(days=31)):
            rows = dict((await conn.execute(ageing.debt_ages(conn, day))).all())
            for debt_id, (debt, instalments, core) in expected_input.items():
                want = aged_days_past_due(debt, instalments, day, *(core if core else (None, None)))
                assert rows[debt_id] == want, (debt_id, day, debt.status, core, instalments)
                if core is None:  # without the core's figure: exactly the schedule's rule
                    assert want == days_past_due(debt, instalments, day)
                checked += 1
    assert checked > 300


async def test_only_the_cases_the_run_looks_after_are_aged(migrated: AsyncEngine) -> None:
    late = [AS_OF - timedelta(days=10)]
    open_case = await make_case(migrated, [late])
    closed = await make_case(migrated, [late], status="CLOSED", close_reason="DEBT_SOLD")
    watched = await make_case(
        migrated, [late], status="CLOSED", close_reason="CURED", watch_until=AS_OF
    )
    expired_watch = await make_case(
        migrated,
        [late],
        status="CLOSED",
        close_reason="CURED",
        watch_until=AS_OF - timedelta(days=1),
    )
    async with migrated.connect() as conn:
        aged = dict((await conn.execute(ageing.debt_ages(conn, AS_OF))).all())
    assert aged.get(open_case.debt_ids[0]) == 10
    assert aged.get(watched.debt_ids[0]) == 10
    assert closed.debt_ids[0] not in aged
    assert expired_watch.debt_ids[0] not in aged


async def test_a_case_without_debts_is_current(migrated: AsyncEngine) -> None:
    made = await make_case(migrated, [])
    await run(migrated, AS_OF)
    row = await case_row(migrated, made.case_id)
    assert (row.days_past_due, row.bucket, row.classification) == (0, "M0", "CURRENT")
    assert row.outstanding_amount == Decimal("0.00")
