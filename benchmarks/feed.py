"""What the import benchmarks share: a synthetic core-banking feed, written line by line, and a
throwaway PostgreSQL database to import it into.

``bench_import.py`` times one big feed against a bare COPY of the same rows (it asks for the
rows too); ``bench_scale.py`` seeds a million cases through several daily feeds (it streams,
keeping nothing in memory). One generator serves both, so both measure the same kind of data.
"""

from __future__ import annotations

import json
import math
import os
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from store.db import create_engine

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
AS_OF = date(2026, 11, 27)
CENT = Decimal("0.01")

# The rows a feed holds, by kind, as a bare COPY would write them (``write_feed(rows=…)``).
Rows = dict[str, list[tuple[Any, ...]]]


def new_rows() -> Rows:
    """Returns empty row lists for ``write_feed`` to fill."""
    return {"borrowers": [], "debts": [], "instalments": [], "payments": []}


def debts_for(borrowers: int, per_borrower: float) -> int:
    """Returns how many debts ``write_feed`` numbers for that many borrowers (debt ``n`` belongs
    to borrower ``int(n / per_borrower)``)."""
    return math.ceil(borrowers * per_borrower)


def write_feed(
    path: Path,
    debts: range,
    *,
    rng: random.Random,
    as_of: date = AS_OF,
    late_share: float = 0.7,
    per_borrower: float = 2.0,
    rows: Rows | None = None,
) -> int:
    """Writes a JSONL feed of the debts numbered ``debts`` (three monthly instalments each, a
    ``late_share`` of them overdue on ``as_of``, a payment for every tenth overdue one) with their
    borrowers, all in the retail portfolio, and the day's loan-book total; returns the lines
    written. Debt ``n`` belongs to borrower ``int(n / per_borrower)``, sent before its first
    debt: a range that starts on a borrower's first debt (``debts_for``) holds whole borrowers.
    ``rows`` (optional) gets the rows as a bare COPY would write them."""
    lines = 0
    with path.open("w", encoding="utf-8") as out:

        def emit(record: dict[str, Any]) -> None:
            nonlocal lines
            out.write(json.dumps(record) + "\n")
            lines += 1

        emit({"type": "header", "asOf": as_of.isoformat(), "source": "bench"})
        for n in debts:
            who = int(n / per_borrower)
            if n == debts.start or int((n - 1) / per_borrower) != who:
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
                emit(person)
                if rows is not None:
                    rows["borrowers"].append(tuple(person.values())[1:])
            principal = Decimal(rng.randint(100_000, 5_000_000)) * CENT
            late = rng.random() < late_share
            first_due = as_of - timedelta(days=rng.randint(1, 200) if late else -rng.randint(1, 20))
            schedule: list[dict[str, Any]] = [
                {
                    "sequence": k + 1,
                    "dueDate": (first_due + timedelta(days=30 * k)).isoformat(),
                    "amountDue": str((principal / 3).quantize(CENT)),
                    "amountPaid": "0.00",
                }
                for k in range(3)
            ]
            account = f"CL{n:010d}"
            emit(
                {
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
            )
            if rows is not None:
                rows["debts"].append((account, f"B{who}", principal, first_due))
                rows["instalments"] += [
                    (
                        account,
                        k["sequence"],
                        date.fromisoformat(k["dueDate"]),
                        Decimal(k["amountDue"]),
                    )
                    for k in schedule
                ]
            if late and n % 10 == 0:
                emit(
                    {
                        "type": "payment",
                        "accountNumber": account,
                        "reference": f"P{n}",
                        "amount": "50.00",
                        "currency": "CNY",
                        "paidAt": f"{as_of - timedelta(days=1)}T10:00:00+08:00",
                    }
                )
                if rows is not None:
                    rows["payments"].append((account, f"P{n}", Decimal("50.00")))
        emit(
            {
                "type": "loanBook",
                "date": as_of.isoformat(),
                "portfolio": "retail",
                "productType": "CONSUMER_LOAN",
                "currency": "CNY",
                "principal": "1000000000.00",
            }
        )
    return lines


@asynccontextmanager
async def fresh_database(
    prefix: str = "arrears_bench", *, keep: bool = False
) -> AsyncIterator[AsyncEngine]:
    """Creates an empty database ``<prefix>_<random>`` on the server ARREARS_BENCH_DATABASE_URL
    names (default ``DEFAULT_URL``), yields an engine on it and drops it afterwards, whatever
    happened (``keep``: leaves it, to look into it, and says so)."""
    base = os.environ.get("ARREARS_BENCH_DATABASE_URL", DEFAULT_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()
        if keep:
            print(f"kept database {name}")
        else:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
