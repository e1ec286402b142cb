"""Benchmark: `arrears import` of an N-debt feed on PostgreSQL, beside a bare COPY of the same
rows into plain tables, measured in the same run on the same database.

The feed has N debts (three instalments each, about 70% overdue, so cases open), one borrower
per two debts, a payment for every tenth debt and the day's loan-book totals. The import is the
whole job (read, validate, stage through COPY, check, merge, open cases, record); the bare COPY
writes the same borrower, debt, instalment and payment rows, already in memory, into plain tables
with `copy_records_to_table` and nothing else. Prints rows per second of each and the ratio.

    python benchmarks/bench_import.py [--debts 1000000]

The server is ARREARS_BENCH_DATABASE_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test);
the benchmark creates a fresh database there and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feed import Rows, fresh_database, new_rows, write_feed
from sqlalchemy.ext.asyncio import AsyncEngine

from jobs.importing import import_feed
from store.audit import audit_key
from store.migrate import upgrade


def generate(debts: int, path: Path) -> Rows:
    """Writes the feed and returns its rows as the bare COPY writes them."""
    rows = new_rows()
    write_feed(path, range(debts), rng=random.Random(42), rows=rows)
    return rows


PLAIN = {
    "borrowers": "external_id text, full_name text, national_id text, phone text, email text, "
    "address text, city text, district text, employer text, income text, currency text, "
    "time_zone text",
    "debts": "account_number text, borrower text, principal numeric(18,2), first_due date",
    "instalments": "account_number text, sequence int, due_date date, amount_due numeric(18,2)",
    "payments": "account_number text, reference text, amount numeric(18,2)",
}


async def bare_copy(engine: AsyncEngine, rows: dict[str, list[tuple[Any, ...]]]) -> float:
    """Seconds to COPY the rows into plain tables in one transaction (nothing else)."""
    async with engine.connect() as conn:
        for name, columns in PLAIN.items():
            await conn.exec_driver_sql(f"CREATE TABLE bare_{name} ({columns})")
        await conn.commit()
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        started = time.perf_counter()
        async with driver.transaction():
            for name, records in rows.items():
                await driver.copy_records_to_table(f"bare_{name}", records=records)
        return time.perf_counter() - started


async def main(debts: int) -> None:
    async with fresh_database() as engine:
        await upgrade(engine)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "feed.jsonl"
            started = time.perf_counter()
            rows = generate(debts, path)
            lines = sum(len(r) for name, r in rows.items() if name != "instalments") + 1
            copied = sum(len(r) for r in rows.values())
            print(
                f"generated {debts:,} debts: {lines:,} feed lines, {copied:,} rows with "
                f"instalments, {path.stat().st_size / 2**20:.0f} MiB in "
                f"{time.perf_counter() - started:.1f} s"
            )
            started = time.perf_counter()
            report = await import_feed(
                engine, path, audit_key=audit_key("bench"), now=datetime.now(UTC)
            )
            imported = time.perf_counter() - started
        assert report.imported, report.errors[:5]
        copy = await bare_copy(engine, rows)
        summary = report.summary
        print(
            f"cases opened {summary['casesOpened']:,}, debts attached {summary['debtsAttached']:,}"
        )
        print(f"{'variant':<28}{'seconds':>10}{'rows/s':>14}")
        print(f"{'arrears import (whole job)':<28}{imported:>10.1f}{copied / imported:>14,.0f}")
        print(f"{'bare COPY of the same rows':<28}{copy:>10.1f}{copied / copy:>14,.0f}")
        print(
            f"import / bare COPY: {imported / copy:.1f}x the time "
            f"(rows: {copied:,}, borrower, debt, instalment and payment rows)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--debts", type=int, default=1_000_000, help="Debts in the feed.")
    args = parser.parse_args()
    asyncio.run(main(args.debts))
