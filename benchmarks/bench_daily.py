"""Benchmark: the daily run (``jobs.daily``) over N debts on PostgreSQL, beside a bare set-based
``UPDATE`` of the same debts measured in the same script.

Builds a fresh database (migrated, then filled with set-based ``generate_series`` inserts: a
borrower and a case per 1.5 debts, six monthly instalments per debt, one debt in ten with a DPD
from the core, one case in ten placed with an agency whose placement ends around the first date,
one case in a hundred with a promise falling due then), then times:

1. the first run (every case classified for the first time: a CaseReclassified event and a
   classification period for each);
2. the run of the next day (the steady state: DPD moves on by one, only the cases crossing a
   bucket boundary change class);
3. ``UPDATE debts SET aged_dpd = aged_dpd + 1`` over every debt (one statement, one transaction).

Prints seconds per step of each run, the totals, and the ratio of the daily run to the bare
update. The database is dropped afterwards unless ``--keep``.

    python benchmarks/bench_daily.py [--debts 1000000] [--keep]

``ARREARS_BENCH_DATABASE_URL`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``)
names the server; a database ``arrears_bench_daily_<random>`` is created on it.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from feed import fresh_database
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from jobs.daily import DailyOutcome, Step, run_daily
from store.audit import audit_key
from store.migrate import upgrade

AS_OF = date(2026, 11, 27)
KEY = audit_key("bench-audit-secret-that-is-long-enough-for-the-chain")


class FixedClock:
    """The clock of a run: noon UTC on its date (that date in every demo portfolio)."""

    def __init__(self, day: date) -> None:
        self.at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def today(self) -> date:
        return self.at.date()


def fill(debts: int) -> list[str]:
    """The set-based statements that fill the database (``:d`` the as-of date)."""
    cases = max(1, debts * 2 // 3)
    statements = [
        f"""
        INSERT INTO borrowers (id, full_name, national_id, phone, email, address, city, district,
            employer, income, income_currency, time_zone)
        SELECT g, 'Borrower ' || g, lpad(g::text, 18, '0'), '1' || lpad(g::text, 10, '0'),
            'b' || g || '@example.org', 'Street ' || g, 'City', 'District', 'Employer',
            12000.00, 'CNY', 'Asia/Shanghai'
        FROM generate_series(1, {cases}) AS g
        """,
        f"""
        INSERT INTO cases (id, reference, borrower_id, portfolio, currency, opened_on, status,
            stage, days_past_due, bucket, classification, policy_version, outstanding_amount,
            closed_while_held, version)
        SELECT g, 'BR-' || g, g, 'retail', 'CNY', :d - 400,
            CASE WHEN g % 20 = 0 THEN 'ON_HOLD' ELSE 'OPEN' END,
            CASE WHEN g % 3 = 0 THEN 'COLLECTION' WHEN g % 11 = 0 THEN 'LEGAL' ELSE 'EARLY' END,
            0, 'M0', 'CURRENT', '', 0, false, 1
        FROM generate_series(1, {cases}) AS g
        """,
        f"""
        INSERT INTO debts (id, case_id, borrower_id, account_number, product_type, currency,
            principal, interest, penalty, fee, opened_on, status, paused_days, core_dpd,
            core_dpd_as_of, aged_dpd, aged_bucket)
        SELECT g, (g - 1) % {cases} + 1, (g - 1) % {cases} + 1, 'BA' || lpad(g::text, 12, '0'),
            'CONSUMER_LOAN', 'CNY', 20000.00 + g % 1000, 800.00, 120.50, 50.00, :d - 800,
            'DELINQUENT', 0,
            CASE WHEN g % 10 = 0 THEN g % 200 END,
            CASE WHEN g % 10 = 0 THEN :d - 3 END,
            0, 'M0'
        FROM generate_series(1, {debts}) AS g
        """,
        f"""
        INSERT INTO instalments (id, debt_id, sequence, due_date, amount_due, amount_paid)
        SELECT (g - 1) * 6 + s, g, s, :d - (g::bigint * 7919 % 400)::int + 30 * (s - 1), 1000.00,
            CASE WHEN s <= (g % 3) THEN 1000.00 ELSE 0.00 END
        FROM generate_series(1, {debts}) AS g, generate_series(1, 6) AS s
        """,
        # One case in ten placed with an agency, its placement ending the day before the first
        # date, on it or the day after (recalled by the first run, the next one, or neither).
        """
        INSERT INTO agencies (id, name, commission_rate, placement_days, active)
        VALUES (1, 'Bench Agency', 0.1500, 90, true)
        """,
        """
        UPDATE cases SET agency_id = 1, placed_at = :d - 30, placement_ends_on = :d - 1 + id % 3
        WHERE id % 10 = 7
        """,
        # One case in a hundred with an open promise due two days before the first date, the
        # day before or on it (grace 0): judged by the first run or the next one.
        f"""
        INSERT INTO promises (id, case_id, amount, currency, promised_on, due_date, grace_days,
            status, paid_amount, created_at, version)
        SELECT g, g, 500.00, 'CNY', :d - 10, :d - 2 + g % 3, 0, 'OPEN', 0.00, :d - 10, 1
        FROM generate_series(1, {cases}) AS g WHERE g % 100 = 3
        """,
        *(
            f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))"
            for t in ("borrowers", "cases", "debts", "instalments", "agencies", "promises")
        ),
        "ANALYZE",
    ]
    return [s.replace(":d", "CAST(:d AS date)") for s in statements]


async def timed_run(engine: AsyncEngine, day: date) -> tuple[float, DailyOutcome, dict[str, float]]:
    steps: dict[str, float] = defaultdict(float)
    last = [time.perf_counter(), ""]

    def progress(step: Step) -> None:
        now = time.perf_counter()
        if last[1]:
            steps[str(last[1])] += now - float(last[0])
        last[0], last[1] = now, step.name

    started = time.perf_counter()
    outcome = await run_daily(engine, FixedClock(day), KEY, as_of=day, progress=progress)
    finished = time.perf_counter()
    steps[str(last[1])] += finished - float(last[0])
    return finished - started, outcome, dict(steps)


def report(title: str, seconds: float, outcome: DailyOutcome, steps: dict[str, float]) -> None:
    result = outcome.days[0]
    print(f"{title}: {seconds:.1f} s")
    for name, spent in steps.items():
        print(f"    {name:<24} {spent:8.2f} s")
    print(
        f"    debts re-aged {result.debts_reaged}, cases aged {result.cases_aged}, "
        f"reclassified {result.cases_reclassified}, escalated {result.escalated}, "
        f"periods opened {result.periods_opened}, snapshots {result.snapshots}, "
        f"placements expired {result.placements_expired}, "
        f"promises resolved {result.promises_resolved}, "
        f"warnings {sum(result.warnings_raised.values())}, decisions {result.decisions}"
    )


async def main(debts: int, keep: bool) -> None:
    async with fresh_database("arrears_bench_daily", keep=keep) as engine:
        await upgrade(engine)
        started = time.perf_counter()
        async with engine.begin() as conn:
            for statement in fill(debts):
                await conn.execute(text(statement), {"d": AS_OF} if ":d" in statement else {})
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
        print(
            f"{debts} debts, {debts * 6} instalments built in {time.perf_counter() - started:.1f} s"
        )
        first = await timed_run(engine, AS_OF)
        report(f"daily run, first date {AS_OF} (everything classified)", *first)
        second = await timed_run(engine, AS_OF + timedelta(days=1))
        report(f"daily run, next date {AS_OF + timedelta(days=1)} (steady state)", *second)
        started = time.perf_counter()
        async with engine.begin() as conn:
            updated = await conn.execute(text("UPDATE debts SET aged_dpd = aged_dpd + 1"))
        bare = time.perf_counter() - started
        print(
            f"bare UPDATE debts SET aged_dpd = aged_dpd + 1: {bare:.1f} s ({updated.rowcount} rows)"
        )
        print(
            f"ratio daily/bare: first date {first[0] / bare:.1f}x, "
            f"next date {second[0] / bare:.1f}x"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debts", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.debts, arguments.keep))
