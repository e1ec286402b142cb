"""Factories: rows of a chosen shape (an agency, a staff member with roles, a borrower, a case
with its debts and instalments in a given stage, classification, assignee or agency), inserted
with SQLAlchemy Core through ``store.tables``, for tests that need a particular case instead of
one found in the demo seed.

A ``Factory`` remembers what it inserted; ``cleanup()`` deletes it again, together with every row
that references it (case events, idempotency keys, and whatever later tables point at a case, a
borrower, a staff member or an agency), so a test on the shared session database leaves it as
it found it. Audit entries are never deleted (they reference nothing by foreign key).

Values are realistic and unique per factory row: 18-digit national IDs with a valid GB 11643
check character, 11-digit mobile numbers, e-mail addresses and Chinese addresses, so masking
looks exactly as it does for demo borrowers.
"""

from __future__ import annotations

import base64
import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store import tables

# The classification policy of README.md (version 2026.1): bucket start (days past due),
# bucket, classification.
POLICY_VERSION = "2026.1"
_BUCKETS = (
    (181, "M7", "SEVERE"),
    (151, "M6", "SERIOUS"),
    (121, "M5", "SERIOUS"),
    (91, "M4", "SERIOUS"),
    (61, "M3", "MODERATE"),
    (31, "M2", "MODERATE"),
    (1, "M1", "MILD"),
    (0, "M0", "CURRENT"),
)
# The first days past due of each classification, for factories asked for a classification.
CLASSIFICATION_DPD = {"CURRENT": 0, "MILD": 15, "MODERATE": 45, "SERIOUS": 120, "SEVERE": 200}
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RUN = uuid.uuid4().hex[:6].upper()  # keeps references and logins unique across factories
_counter = itertools.count(1)


def global_id(type_name: str, pk: int) -> str:
    """The Relay global ID of a row (base64 of ``Type:id``), as the API issues it."""
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def classify(days_past_due: int) -> tuple[str, str]:
    """Returns (bucket, classification) for days past due under policy 2026.1."""
    for start, bucket, classification in _BUCKETS:
        if days_past_due >= start:
            return bucket, classification
    raise ValueError(f"days past due cannot be negative: {days_past_due}")


def today() -> date:
    """The date cases are classified as of (UTC, as the demo seed does)."""
    return datetime.now(UTC).date()


def _national_id(n: int) -> str:
    body = f"310115{date(1960, 1, 1) + timedelta(days=n * 37 % 14000):%Y%m%d}{n % 1000:03d}"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]
    return body + check


@dataclass
class MadeCase:
    """A case made by ``Factory.case``: the rows as stored."""

    case: Any
    borrower: Any
    debts: list[Any]
    instalments: list[Any] = field(default_factory=list)

    @property
    def gid(self) -> str:
        return global_id("Case", self.case.id)


class Factory:
    """Inserts rows of a given shape into one database and removes them on ``cleanup()``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.created: list[tuple[Table, int]] = []

    # ---- rows ------------------------------------------------------------------------------

    async def agency(
        self,
        name: str | None = None,
        *,
        active: bool = True,
        commission_rate: str = "0.1500",
        placement_days: int = 60,
        tail_days: int = 0,
    ) -> Any:
        """An agency (named uniquely unless ``name`` is given)."""
        n = next(_counter)
        values = {
            "name": name or f"Factory Agency {_RUN}-{n}",
            "commission_rate": Decimal(commission_rate),
            "placement_days": placement_days,
            "active": active,
            "tail_days": tail_days,
        }
        return await self._insert(tables.agencies, values)

    async def staff(
        self,
        login: str | None = None,
        *,
        roles: tuple[str, ...] = ("collector",),
        team: str | None = None,
        agency: str | None = None,
        capacity: int = 400,
        active: bool = True,
    ) -> Any:
        """A staff member with ``roles``, in ``team`` or working for the agency named ``agency``."""
        n = next(_counter)
        async with self.engine.connect() as conn:
            agency_id = await _agency_id(conn, agency) if agency else None
        values = {
            "login": login or f"factory.{_RUN.lower()}.{n}",
            "name": f"Staff {n}",
            "roles": list(roles),
            "team": team,
            "agency_id": agency_id,
            "capacity": capacity,
            "active": active,
        }
        return await self._insert(tables.staff, values)

    async def borrower(self, **overrides: Any) -> Any:
        """A borrower with unique, realistic confidential values (any column may be given)."""
        n = next(_counter)
        values = {
            "full_name": f"测试借款人{n}",
            "national_id": _national_id(n),
            "phone": f"199{n:08d}"[-11:],
            "email": f"borrower.{_RUN.lower()}.{n}@example.org",
            "address": f"上海市浦东新区测试路{n}号 200120",
            "city": "上海市",
            "district": "浦东新区",
            "employer": f"测试科技有限公司{n}",
            "income": Decimal("12000.00"),
            "income_currency": "CNY",
            "time_zone": "Asia/Shanghai",
            **overrides,
        }
        return await self._insert(tables.borrowers, values)

    async def case(
        self,
        *,
        borrower: Any | None = None,
        stage: str = "COLLECTION",
        status: str = "OPEN",
        classification: str | None = None,
        days_past_due: int | None = None,
        assignee: str | None = None,
        agency: str | None = None,
        placement_ends_on: date | None = None,
        portfolio: str = "retail",
        debts: int = 1,
        instalments: int = 3,
        version: int = 1,
    ) -> MadeCase:
        """A case of the given shape with ``debts`` debts of ``instalments`` monthly instalments.

        The schedule's oldest unpaid due date lies ``days_past_due`` days back (a classification
        picks a DPD inside it), so the stored DPD, bucket and classification are what the domain
        computes. ``assignee`` is a staff login; ``agency`` an agency name (placed yesterday, until
        ``placement_ends_on``, by default 30 days ahead)."""
        if days_past_due is None:
            days_past_due = CLASSIFICATION_DPD[classification or "MODERATE"]
        bucket, computed = classify(days_past_due)
        if classification is not None and classification != computed:
            raise ValueError(f"{days_past_due} days past due is {computed}, not {classification}")
        as_of = today()
        owner = borrower if borrower is not None else await self.borrower()
        n = next(_counter)
        async with self.engine.connect() as conn:
            assignee_id = await _staff_id(conn, assignee) if assignee else None
            agency_id = await _agency_id(conn, agency) if agency else None
        per_month = Decimal("1500.00")
        debt_rows: list[dict[str, Any]] = []
        schedules: list[list[dict[str, Any]]] = []
        anchor = as_of - timedelta(days=days_past_due) if days_past_due else as_of + timedelta(10)
        for index in range(debts):
            principal = Decimal("20000.00") + Decimal(index * 1000)
            debt_rows.append(
                {
                    "account_number": f"FX{_RUN}{n:06d}{index}",
                    "product_type": "CONSUMER_LOAN",
                    "currency": "CNY",
                    "principal": principal,
                    "interest": Decimal("800.00"),
                    "penalty": Decimal("120.50") if days_past_due else Decimal("0.00"),
                    "fee": Decimal("50.00") if days_past_due else Decimal("0.00"),
                    "opened_on": anchor - timedelta(days=365),
                    "status": "DELINQUENT" if days_past_due else "CURRENT",
                    "paused_days": 0,
                }
            )
            schedules.append(
                [
                    {
                        "sequence": k + 1,
                        "due_date": anchor + timedelta(days=30 * k),
                        "amount_due": per_month,
                        "amount_paid": Decimal("0.00"),
                    }
                    for k in range(instalments)
                ]
            )
        outstanding = sum(
            (d["principal"] + d["interest"] + d["penalty"] + d["fee"] for d in debt_rows),
            Decimal("0.00"),
        )
        placed = agency_id is not None
        case = await self._insert(
            tables.cases,
            {
                "reference": f"FX-{_RUN}-{n:06d}",
                "borrower_id": owner.id,
                "portfolio": portfolio,
                "currency": "CNY",
                "opened_on": anchor - timedelta(days=365),
                "status": status,
                "stage": stage,
                "days_past_due": days_past_due,
                "bucket": bucket,
                "classification": computed,
                "policy_version": POLICY_VERSION,
                "dpd_as_of": as_of,
                "outstanding_amount": outstanding,
                "assignee_id": assignee_id,
                "agency_id": agency_id,
                "placed_at": datetime.now(UTC) - timedelta(days=1) if placed else None,
                "placement_ends_on": (placement_ends_on or as_of + timedelta(days=30))
                if placed
                else None,
                "version": version,
            },
        )
        made = MadeCase(case, owner, [])
        for values, schedule in zip(debt_rows, schedules, strict=True):
            debt = await self._insert(
                tables.debts, {**values, "case_id": case.id, "borrower_id": owner.id}
            )
            made.debts.append(debt)
            for instalment in schedule:
                made.instalments.append(
                    await self._insert(tables.instalments, {**instalment, "debt_id": debt.id})
                )
        return made

    # ---- removal ---------------------------------------------------------------------------

    async def cleanup(self) -> None:
        """Deletes every row this factory made and every row that references one of them."""
        if not self.created:
            return
        doomed: dict[Table, set[Any]] = {}
        for table, pk in self.created:
            doomed.setdefault(table, set()).add(pk)
        ordered = tables.metadata.sorted_tables
        async with writing(self.engine) as conn:
            grown = True
            while grown:  # until no table has a row pointing at a doomed row
                grown = False
                for table in ordered:
                    key = _single_key(table)
                    if key is None:
                        continue
                    for fk in table.foreign_keys:
                        targets = doomed.get(fk.column.table)
                        if not targets:
                            continue
                        stmt = select(key).where(fk.parent.in_(sorted(targets)))
                        found = set((await conn.execute(stmt)).scalars())
                        new = found - doomed.get(table, set())
                        if new:
                            doomed.setdefault(table, set()).update(new)
                            grown = True
            for table in reversed(ordered):
                ids = doomed.get(table)
                key = _single_key(table)
                if ids and key is not None:
                    await conn.execute(delete(table).where(key.in_(sorted(ids))))
                elif key is None:  # a composite key (debt_snapshots): by the rows it points at
                    for fk in table.foreign_keys:
                        targets = doomed.get(fk.column.table)
                        if targets:
                            await conn.execute(delete(table).where(fk.parent.in_(sorted(targets))))
        self.created.clear()

    async def _insert(self, table: Table, values: dict[str, Any]) -> Any:
        async with writing(self.engine) as conn:
            inserted = (await conn.execute(insert(table).values(**values))).inserted_primary_key
            assert inserted is not None
            pk = inserted[0]
            row = (await conn.execute(select(table).where(table.c.id == pk))).one()
        self.created.append((table, pk))
        return row


@asynccontextmanager
async def writing(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that writes, begun as the application begins its own.

    On SQLite a deferred transaction that reads before it writes fails at once with "database
    is locked" when another connection (the app's background audit flushers, say) has written
    since its read; BEGIN IMMEDIATE takes the write lock first and waits behind busy_timeout.
    PostgreSQL ignores the option.
    """
    async with engine.connect() as conn:
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            yield conn


def _single_key(table: Table) -> Any:
    keys = list(table.primary_key.columns)
    return keys[0] if len(keys) == 1 else None


async def _staff_id(conn: AsyncConnection, login: str) -> int:
    s = tables.staff.c
    return int((await conn.execute(select(s.id).where(s.login == login))).scalar_one())


async def _agency_id(conn: AsyncConnection, name: str) -> int:
    a = tables.agencies.c
    return int((await conn.execute(select(a.id).where(a.name == name))).scalar_one())


# ---- strategies' work on a case: rows as the daily run's treatment step writes them ----------

# STANDARD's MILD_CALL_1 (domain/strategies/definition.py): the default task.
TASK_STEP = "MILD_CALL_1"
TASK_REASON = "3 days past due: reminder call"


async def add_treatment(engine: AsyncEngine, made: MadeCase, **values: Any) -> None:
    """A ``case_treatments`` row as the daily run leaves it (default: STANDARD's MILD segment
    entered at 1 day past due on 2026-11-29, its SMS taken, its call due two days later)."""
    row = {
        "case_id": made.case.id,
        "strategy": "STANDARD",
        "version": "2026.1",
        "variant": "CHAMPION",
        "segment": "MILD",
        "entered_on": date(2026, 11, 29),
        "step": "MILD_SMS_1",
        "step_on": date(2026, 11, 29),
        "next_step": "MILD_CALL_1",
        "next_action_on": date(2026, 12, 1),
        "as_of": date(2026, 11, 29),
        **values,
    }
    async with writing(engine) as conn:
        await conn.execute(insert(tables.case_treatments).values(**row))


async def add_task(engine: AsyncEngine, made: MadeCase, **values: Any) -> int:
    """A ``tasks`` row as the daily run makes it: OPEN, for the case's collector or agency, due
    today in the demo portfolio's calendar (default: STANDARD's MILD_CALL_1); returns its id."""
    from tests.helpers import portfolio_today

    row = {
        "case_id": made.case.id,
        "kind": "CALL",
        "strategy": "STANDARD",
        "step": TASK_STEP,
        "reason": TASK_REASON,
        "party": "BORROWER",
        "due_on": portfolio_today(),
        "assignee_id": made.case.assignee_id,
        "agency_id": made.case.agency_id,
        "status": "OPEN",
        "created_at": datetime.now(UTC).replace(microsecond=0) - timedelta(days=1),
        "version": 1,
        **values,
    }
    async with writing(engine) as conn:
        inserted = (await conn.execute(insert(tables.tasks).values(**row))).inserted_primary_key
    assert inserted is not None
    return int(inserted[0])
