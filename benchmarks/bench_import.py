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
import json
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from jobs.importing import import_feed
from store.audit import audit_key
from store.db import create_engine
from store.migrate import upgrade

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
AS_OF = date(2026, 11, 27)
CENT = Decimal("0.01")


def generate(debts: int, path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Writes the feed and returns its rows as the bare COPY writes them."""
    rng = random.Random(42)
    rows: dict[str, list[tuple[Any, ...]]] = {
        "borrowers": [],
        "debts": [],
        "instalments": [],
        "payments": [],
    }
    with path.open("w", encoding="utf-8") as out:
        header = {"type": "header", "asOf": AS_OF.isoformat(), "source": "bench"}
        out.write(json.dumps(header) + "\n")
        for n in range(debts):
            who = n // 2
            if n % 2 == 0:
                person = {
                    "type": "borrower",
                    "externalId": f"B{who}",
                    "fullName": f"Borrower {who}",
                    "nationalId": f"{310000000000000000 + who}",
                    "phone": f"+86139{who:08d}",
                    "email": f"b{who}@example.com",
                    "address": f"{who} Example Road",
                    "city": "Shanghai",
                    "district": "Pudong",
                    "employer": "Example Ltd",
                    "income": "9000.00",
                    "currency": "CNY",
                    "timeZone": "Asia/Shanghai",
                }
                out.write(json.dumps(person) + "\n")
                rows["borrowers"].append(tuple(person.values())[1:])
            principal = Decimal(rng.randint(100_000, 5_000_000)) * CENT
            late = rng.random() < 0.7
            first_due = AS_OF - timedelta(days=rng.randint(1, 200) if late else -rng.randint(1, 20))
            schedule = [
                {
                    "sequence": k + 1,
                    "dueDate": (first_due + timedelta(days=30 * k)).isoformat(),
                    "amountDue": str((principal / 3).quantize(CENT)),
                    "amountPaid": "0.00",
                }
                for k in range(3)
            ]
            account = f"CL{n:010d}"
            loan = {
                "type": "debt",
                "accountNumber": account,
                "borrowerExternalId": f"B{who}",
                "portfolio": "retail",
                "productType": "CONSUMER_LOAN",
                "currency": "CNY",
                "principal": str(principal),
                "interest": "120.00",
                "penalty": "15.00",
                "fee": "0.00",
                "openedOn": "2025-06-01",
                "instalments": schedule,
            }
            out.write(json.dumps(loan) + "\n")
            rows["debts"].append((account, f"B{who}", principal, first_due))
            rows["instalments"] += [
                (account, s["sequence"], date.fromisoformat(s["dueDate"]), Decimal(s["amountDue"]))
                for s in schedule
            ]
            if late and n % 10 == 0:
                paid = {
                    "type": "payment",
                    "accountNumber": account,
                    "reference": f"P{n}",
                    "amount": "50.00",
                    "currency": "CNY",
                    "paidAt": "2026-11-26T10:00:00+08:00",
                }
                out.write(json.dumps(paid) + "\n")
                rows["payments"].append((account, f"P{n}", Decimal("50.00")))
        book = {
            "type": "loanBook",
            "date": AS_OF.isoformat(),
            "portfolio": "retail",
            "productType": "CONSUMER_LOAN",
            "currency": "CNY",
            "principal": "1000000000.00",
        }
        out.write(json.dumps(book) + "\n")
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
    base = os.environ.get("ARREARS_BENCH_DATABASE_URL", DEFAULT_URL)
    name = f"arrears_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
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
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--debts", type=int, default=1_000_000, help="Debts in the feed.")
    args = parser.parse_args()
    asyncio.run(main(args.debts))
