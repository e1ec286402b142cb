"""Feeds for tests: the sample feed of the repository, rows to write into new ones, and the
stored state a feed import may change."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from store.audit import audit_key
from tests.conftest import TEST_AUDIT_SECRET

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "feed.jsonl"
SAMPLE_CSV = ROOT / "samples" / "feed-csv"
AS_OF = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
KEY = audit_key(TEST_AUDIT_SECRET)

# What an import may change (feed_imports, audit entries and decisions record the import).
STATE = (
    tables.borrowers,
    tables.contact_points,
    tables.cases,
    tables.debts,
    tables.instalments,
    tables.payments,
    tables.payment_instalments,
    tables.charge_offs,
    tables.loan_book,
    tables.cost_records,
    tables.case_events,
)


def sample_lines() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]


def write_feed(path: Path, rows: Sequence[dict[str, Any]], as_of: date = AS_OF) -> Path:
    """Writes a JSON Lines feed: a header for ``as_of``, then the rows."""
    header = {"type": "header", "asOf": as_of.isoformat(), "source": "core-banking"}
    lines = [json.dumps(row, ensure_ascii=False) for row in (header, *rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def borrower(n: int, **changes: Any) -> dict[str, Any]:
    return {
        "type": "borrower",
        "externalId": f"B-{n}",
        "fullName": f"测试借款人{n}",
        "nationalId": f"11010519{n:010d}",
        "phone": f"+86 139 {n % 10000:04d} {n // 10000 % 10000:04d}",
        "email": f"b{n}@example.com",
        "address": f"北京市朝阳区示例路{n}号",
        "city": "北京市",
        "district": "朝阳区",
        "employer": "示例科技",
        "income": "9000.00",
        "currency": "CNY",
        "timeZone": "Asia/Shanghai",
        **changes,
    }


def debt(n: int, account: str, *, dpd: int | None = None, **changes: Any) -> dict[str, Any]:
    """A retail loan of borrower ``n`` (DPD: the core's when given, else its schedule's)."""
    row: dict[str, Any] = {
        "type": "debt",
        "accountNumber": account,
        "borrowerExternalId": f"B-{n}",
        "portfolio": "retail",
        "productType": "CONSUMER_LOAN",
        "currency": "CNY",
        "principal": "5000.00",
        "interest": "100.00",
        "penalty": "10.00",
        "fee": "5.00",
        "openedOn": "2026-01-05",
        "instalments": [],
        **changes,
    }
    if dpd is not None:
        row["daysPastDue"] = dpd
    return row


def due(sequence: int, day: date, amount: str = "500.00", paid: str = "0.00") -> dict[str, Any]:
    return {
        "sequence": sequence,
        "dueDate": day.isoformat(),
        "amountDue": amount,
        "amountPaid": paid,
    }


async def snapshot(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row an import may change, in key order."""
    found = {}
    async with engine.connect() as conn:
        for table in STATE:
            keys = list(table.primary_key.columns)
            rows = (await conn.execute(select(table).order_by(*keys))).all()
            found[table.name] = [tuple(row) for row in rows]
    return found


async def count(engine: AsyncEngine, table: str, where: str = "") -> int:
    async with engine.connect() as conn:
        sql = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
        return int((await conn.execute(text(sql))).scalar_one())
