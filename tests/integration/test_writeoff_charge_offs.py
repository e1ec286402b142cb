"""The core's charge-offs applied by the daily run (set-based, once), and recoveries after a
write-off through the feed: the import marks a payment on a written-off case as a recovery, and
never starts a new episode (EARLY) on a written-off case. On a fresh database of the backend
under test."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from jobs.importing import ImportReport, import_feed
from store import tables
from tests.daily_support import row_counts
from tests.daily_support import run as run_daily
from tests.factories import writing
from tests.feeds.support import AS_OF, KEY, NOW, borrower, debt, write_feed

c, d = tables.cases.c, tables.debts.c
co, w = tables.charge_offs.c, tables.write_offs.c
ev, dc, a = tables.case_events.c, tables.decisions.c, tables.audit_entries.c


async def run_import(engine: AsyncEngine, path: Path, **options: Any) -> ImportReport:
    options.setdefault("now", NOW)
    return await import_feed(engine, path, audit_key=KEY, **options)


def charge_off(account: str, amount: str, day: Any = AS_OF) -> dict[str, Any]:
    return {
        "type": "chargeOff",
        "accountNumber": account,
        "date": day.isoformat(),
        "amount": amount,
        "currency": "CNY",
    }


def payment(
    account: str,
    reference: str,
    amount: str = "100.00",
    paid_at: str = "2026-11-20T10:15:00+08:00",
) -> dict[str, Any]:
    return {
        "type": "payment",
        "accountNumber": account,
        "reference": reference,
        "amount": amount,
        "currency": "CNY",
        "paidAt": paid_at,
    }


async def case_of(engine: AsyncEngine, account: str) -> Any:
    async with engine.connect() as conn:
        stmt = select(tables.cases, d.status.label("debt_status")).join(
            tables.debts, d.case_id == c.id
        )
        return (await conn.execute(stmt.where(d.account_number == account))).one()


async def set_case(engine: AsyncEngine, case_id: int, **values: Any) -> None:
    async with writing(engine) as conn:
        await conn.execute(update(tables.cases).where(c.id == case_id).values(**values))


async def events(engine: AsyncEngine, case_id: int) -> list[tuple[str, dict[str, Any]]]:
    async with engine.connect() as conn:
        stmt = select(ev.name, ev.data).where(ev.case_id == case_id).order_by(ev.id)
        return [(row.name, row.data) for row in (await conn.execute(stmt)).all()]


async def moves(engine: AsyncEngine, case_id: int) -> list[str]:
    """The events of a case other than the import's reclassification."""
    return [name for name, _ in await events(engine, case_id) if name != "CaseReclassified"]


async def decided(engine: AsyncEngine, case_id: int) -> list[tuple[str, dict[str, Any]]]:
    async with engine.connect() as conn:
        stmt = select(dc.kind, dc.data).where(dc.case_id == case_id).order_by(dc.id)
        return [(row.kind, row.data) for row in (await conn.execute(stmt)).all()]


async def test_the_daily_run_applies_each_charge_off_once(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    rows = [
        borrower(1),
        debt(1, "CO-1", dpd=200),
        borrower(2),
        debt(2, "CO-2", dpd=300),
        borrower(3),
        debt(3, "CO-3", dpd=250),
        charge_off("CO-1", "5115.00"),
        charge_off("CO-2", "5115.00"),
        # Dated after the run's date: applied by the run of its own date, not before.
        charge_off("CO-3", "99.99", AS_OF + timedelta(days=1)),
    ]
    await run_import(migrated, write_feed(tmp_path / "a.jsonl", rows))
    open_case, closed_case, _later = [
        await case_of(migrated, account) for account in ("CO-1", "CO-2", "CO-3")
    ]
    assert (open_case.status, open_case.stage) == ("OPEN", "COLLECTION")
    # A case closed (here: sold) before the core's charge-off: written off too, and it stays
    # closed with its close reason (a later REOPEN or NEW_DEFAULT then sees WRITTEN_OFF).
    await set_case(
        migrated, closed_case.id, status="CLOSED", close_reason="DEBT_SOLD", closed_at=NOW
    )

    outcome = await run_daily(migrated, AS_OF)
    (day,) = outcome.days
    assert day.charge_offs_applied == 2

    moved = await case_of(migrated, "CO-1")
    assert (moved.status, moved.stage, moved.debt_status) == ("OPEN", "WRITTEN_OFF", "WRITTEN_OFF")
    assert moved.version == open_case.version + 1  # the move bumps it (the figures held)
    kept = await case_of(migrated, "CO-2")
    assert (kept.status, kept.stage, kept.close_reason, kept.debt_status) == (
        "CLOSED",
        "WRITTEN_OFF",
        "DEBT_SOLD",
        "WRITTEN_OFF",
    )
    assert kept.closed_at is not None and kept.version == closed_case.version + 1
    untouched = await case_of(migrated, "CO-3")
    assert (untouched.stage, untouched.debt_status) == ("COLLECTION", "DELINQUENT")

    written = {
        name: data
        for name, data in await events(migrated, open_case.id)
        if name in ("CaseTransitioned", "CaseWrittenOff")
    }
    async with migrated.connect() as conn:
        stored = (
            await conn.execute(
                select(
                    w.case_id, w.source, w.reason_code, w.amount, w.currency, w.charge_off_id
                ).order_by(w.id)
            )
        ).all()
        charge_ids = dict((await conn.execute(select(co.debt_id, co.id).order_by(co.id))).all())
        applied = (await conn.execute(select(co.applied_at).order_by(co.id))).scalars().all()
        audit = (
            await conn.execute(
                select(a.case_ids, a.changes).where(
                    a.action == "case.transition", a.actor_login == "system:daily"
                )
            )
        ).all()
    first_charge = charge_ids[await debt_id(migrated, "CO-1")]
    assert written == {
        "CaseTransitioned": {
            "trigger": "WRITE_OFF",
            "from_status": "OPEN",
            "to_status": "OPEN",
            "from_stage": "COLLECTION",
            "to_stage": "WRITTEN_OFF",
            "close_reason": None,
        },
        "CaseWrittenOff": {
            "source": "CHARGE_OFF",
            "reason_code": "CORE_CHARGE_OFF",
            "amount": "5115.00",
            "currency": "CNY",
            "policy_version": None,
            "charge_off_id": first_charge,
        },
    }
    assert [tuple(row) for row in stored] == [
        (open_case.id, "CHARGE_OFF", "CORE_CHARGE_OFF", Decimal("5115.00"), "CNY", first_charge),
        (
            closed_case.id,
            "CHARGE_OFF",
            "CORE_CHARGE_OFF",
            Decimal("5115.00"),
            "CNY",
            charge_ids[await debt_id(migrated, "CO-2")],
        ),
    ]
    assert [x is not None for x in applied] == [True, True, False]
    # The closed case: moved (CLOSED to CLOSED, no closure decided) and written off.
    assert await moves(migrated, closed_case.id) == ["CaseTransitioned", "CaseWrittenOff"]
    assert dict(await events(migrated, closed_case.id))["CaseTransitioned"] == {
        "trigger": "WRITE_OFF",
        "from_status": "CLOSED",
        "to_status": "CLOSED",
        "from_stage": "COLLECTION",
        "to_stage": "WRITTEN_OFF",
        "close_reason": None,
    }
    decision = {
        "source": "CHARGE_OFF",
        "reasonCode": "CORE_CHARGE_OFF",
        "amount": "5115.00",
        "currency": "CNY",
    }
    assert ("CASE_WRITTEN_OFF", decision) in await decided(migrated, open_case.id)
    assert await decided(migrated, closed_case.id) == [("CASE_WRITTEN_OFF", decision)]
    # The run's audit names the cases the charge-offs moved, the closed one too.
    assert [(sorted(row.case_ids), row.changes["trigger"]) for row in audit] == [
        (sorted([open_case.id, closed_case.id]), "WRITE_OFF")
    ]

    # The same feed again, and the next day's run: nothing is applied twice; the later
    # charge-off is applied on its own date.
    await run_import(
        migrated,
        write_feed(tmp_path / "b.jsonl", rows, as_of=AS_OF + timedelta(days=1)),
        now=NOW + timedelta(days=1),
    )
    before = await row_counts(migrated)
    (next_day,) = (await run_daily(migrated, AS_OF + timedelta(days=1))).days
    assert next_day.charge_offs_applied == 1
    after = await row_counts(migrated)
    assert after["write_offs"] == before["write_offs"] + 1
    assert await moves(migrated, closed_case.id) == ["CaseTransitioned", "CaseWrittenOff"]
    assert (await case_of(migrated, "CO-3")).stage == "WRITTEN_OFF"
    (third_day,) = (await run_daily(migrated, AS_OF + timedelta(days=2))).days
    assert third_day.charge_offs_applied == 0
    assert (await row_counts(migrated))["write_offs"] == after["write_offs"]


async def debt_id(engine: AsyncEngine, account: str) -> int:
    async with engine.connect() as conn:
        return int(
            (await conn.execute(select(d.id).where(d.account_number == account))).scalar_one()
        )


@pytest.mark.parametrize(
    ("close_reason", "watch_days", "expected"),
    [
        # Paid in full after the write-off, then in arrears again after the watch window: no
        # new episode (it would start in EARLY), the case stays as it is.
        ("PAID_IN_FULL", -1, ("CLOSED", "WRITTEN_OFF")),
        # Inside the window: reopened, still WRITTEN_OFF.
        ("PAID_IN_FULL", 0, ("OPEN", "WRITTEN_OFF")),
        # Sold: its own debt and a new loan in arrears leave it closed and written off.
        ("DEBT_SOLD", None, ("CLOSED", "WRITTEN_OFF")),
    ],
)
async def test_a_feed_default_never_returns_a_written_off_case_to_early(
    migrated: AsyncEngine,
    tmp_path: Path,
    close_reason: str,
    watch_days: int | None,
    expected: tuple[str, str],
) -> None:
    await run_import(
        migrated, write_feed(tmp_path / "a.jsonl", [borrower(1), debt(1, "WO-1", dpd=200)])
    )
    case = await case_of(migrated, "WO-1")
    later = AS_OF + timedelta(days=20)
    watch = None if watch_days is None else later + timedelta(days=watch_days)
    await set_case(
        migrated,
        case.id,
        status="CLOSED",
        stage="WRITTEN_OFF",
        close_reason=close_reason,
        closed_at=NOW,
        watch_until=watch,
    )
    rows = [debt(1, "WO-1", dpd=3), debt(1, "WO-2", dpd=5)]
    report = await run_import(migrated, write_feed(tmp_path / "b.jsonl", rows, as_of=later))
    again = await case_of(migrated, "WO-1")
    assert (again.id, again.status, again.stage) == (case.id, *expected)
    assert report.summary["casesRenewed"] == 0
    # Left closed and written off with a debt in arrears: reported, never silent.
    assert report.summary["casesKeptWrittenOff"] == (1 if expected[0] == "CLOSED" else 0)
    assert (await case_of(migrated, "WO-2")).id == case.id  # one case per borrower, portfolio
    kinds = [kind for kind, _ in await decided(migrated, case.id)]
    assert kinds == (["CASE_REOPENED"] if expected[0] == "OPEN" else [])


async def recoveries(engine: AsyncEngine) -> list[tuple[str, bool]]:
    p = tables.payments.c
    async with engine.connect() as conn:
        found = await conn.execute(select(p.reference, p.recovery).order_by(p.reference))
        return [(row.reference, row.recovery) for row in found.all()]


async def test_a_feed_payment_is_a_recovery_by_its_debt_not_the_case_stage(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    rows = [borrower(1), debt(1, "RC-1", dpd=200), borrower(2), debt(2, "RC-2", dpd=200)]
    await run_import(migrated, write_feed(tmp_path / "a.jsonl", rows))
    # RC-1: the debt is written off (the core sent it so: no write-off stored, any payment is a
    # recovery). RC-2: its case is in stage WRITTEN_OFF but the debt is not written off.
    await set_debt(migrated, "RC-1", status="WRITTEN_OFF")
    await set_case(migrated, (await case_of(migrated, "RC-2")).id, stage="WRITTEN_OFF")
    later = AS_OF + timedelta(days=1)
    payments = [payment("RC-1", "CORE-RC-1"), payment("RC-2", "CORE-RC-2")]
    await run_import(migrated, write_feed(tmp_path / "b.jsonl", payments, as_of=later))
    assert await recoveries(migrated) == [("CORE-RC-1", True), ("CORE-RC-2", False)]
    assert (await case_of(migrated, "RC-2")).stage == "WRITTEN_OFF"


async def set_debt(engine: AsyncEngine, account: str, **values: Any) -> None:
    async with writing(engine) as conn:
        await conn.execute(update(tables.debts).where(d.account_number == account).values(**values))


async def test_a_charge_off_makes_recoveries_of_payments_from_its_date_on(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    # Retail is in Asia/Shanghai: the charge-off's date AS_OF starts at 00:00 +08:00.
    rows = [
        borrower(1),
        debt(1, "RD-1", dpd=200),
        debt(1, "RD-2", dpd=200),
        charge_off("RD-1", "5115.00"),
        payment("RD-1", "BEFORE", paid_at="2026-11-26T23:59:59+08:00"),
        payment("RD-1", "FROM", paid_at="2026-11-27T00:00:00+08:00"),
        # Another debt of the same case, not charged off: never a recovery.
        payment("RD-2", "OTHER", paid_at="2026-11-27T09:00:00+08:00"),
    ]
    await run_import(migrated, write_feed(tmp_path / "a.jsonl", rows))
    assert await recoveries(migrated) == [("BEFORE", False), ("FROM", False), ("OTHER", False)]
    await run_daily(migrated, AS_OF)
    assert await recoveries(migrated) == [("BEFORE", False), ("FROM", True), ("OTHER", False)]
    async with migrated.connect() as conn:
        since = (await conn.execute(select(w.written_off_at))).scalar_one()
    assert since.isoformat() == "2026-11-26T16:00:00+00:00"
    # Paid later, imported after the run: by the stored write-off's instant.
    later = AS_OF + timedelta(days=1)
    more = [
        payment("RD-1", "LATE-BACKDATED", paid_at="2026-11-26T10:00:00+08:00"),
        payment("RD-1", "LATE", paid_at="2026-11-28T10:00:00+08:00"),
        payment("RD-2", "LATE-OTHER", paid_at="2026-11-28T10:00:00+08:00"),
    ]
    await run_import(
        migrated, write_feed(tmp_path / "b.jsonl", more, as_of=later), now=NOW + timedelta(days=1)
    )
    found = dict(await recoveries(migrated))
    assert (found["LATE-BACKDATED"], found["LATE"], found["LATE-OTHER"]) == (False, True, False)


async def test_a_recovery_that_clears_the_arrears_does_not_cure_a_written_off_case(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    rows = [borrower(1), debt(1, "CU-1", dpd=200), borrower(2), debt(2, "CU-2", dpd=200)]
    await run_import(migrated, write_feed(tmp_path / "a.jsonl", rows))
    written_off = await case_of(migrated, "CU-1")
    await set_case(migrated, written_off.id, stage="WRITTEN_OFF")
    # The arrears are cleared (the core says current), a balance remains.
    for account in ("CU-1", "CU-2"):
        await set_debt(migrated, account, core_dpd=0)
    await run_daily(migrated, AS_OF)
    kept = await case_of(migrated, "CU-1")
    assert (kept.status, kept.stage, kept.close_reason, kept.days_past_due) == (
        "OPEN",
        "WRITTEN_OFF",
        None,
        0,
    )
    assert "CaseTransitioned" not in await moves(migrated, written_off.id)
    cured = await case_of(migrated, "CU-2")  # the same in COLLECTION: cured
    assert (cured.status, cured.close_reason) == ("CLOSED", "CURED")


async def test_the_core_booking_a_managers_write_off_links_it_once(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    rows = [borrower(1), debt(1, "MB-1", dpd=200), debt(1, "MB-2", dpd=200)]
    await run_import(migrated, write_feed(tmp_path / "a.jsonl", rows))
    case = await case_of(migrated, "MB-1")
    # As a manager's write-off left it: the case WRITTEN_OFF, its debts too, its row unlinked.
    await set_case(migrated, case.id, stage="WRITTEN_OFF")
    for account in ("MB-1", "MB-2"):
        await set_debt(migrated, account, status="WRITTEN_OFF")
    async with writing(migrated) as conn:
        await conn.execute(
            tables.write_offs.insert().values(
                case_id=case.id,
                source="MANAGER",
                reason_code="UNCOLLECTIBLE",
                reason_text="no assets",
                amount=Decimal("10230.00"),
                currency="CNY",
                written_off_at=NOW - timedelta(days=3),
                policy_version="default@builtin",
            )
        )
    before = await events(migrated, case.id)
    # The core books it as one charge-off per account.
    booked = [charge_off("MB-1", "5115.00"), charge_off("MB-2", "5115.00")]
    await run_import(
        migrated,
        write_feed(tmp_path / "b.jsonl", booked, as_of=AS_OF),
    )
    (day,) = (await run_daily(migrated, AS_OF)).days
    assert day.charge_offs_applied == 2
    async with migrated.connect() as conn:
        stored = (await conn.execute(select(w.source, w.charge_off_id).order_by(w.id))).all()
        first = (await conn.execute(select(func.min(co.id)))).scalar_one()
    assert [tuple(row) for row in stored] == [("MANAGER", first)]  # linked, nothing new
    after = [name for name, _ in (await events(migrated, case.id))[len(before) :]]
    assert "CaseWrittenOff" not in after and "CaseTransitioned" not in after
    assert "CASE_WRITTEN_OFF" not in [kind for kind, _ in await decided(migrated, case.id)]


async def test_two_charge_offs_of_a_case_are_two_write_offs_and_one_move(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    rows = [
        borrower(1),
        debt(1, "TW-1", dpd=200),
        debt(1, "TW-2", dpd=200),
        debt(1, "TW-3", dpd=200),
        charge_off("TW-1", "100.00"),
        charge_off("TW-2", "200.00"),
        charge_off("TW-3", "300.00"),
    ]
    await run_import(migrated, write_feed(tmp_path / "a.jsonl", rows))
    # TW-3 was settled meanwhile: its charge-off does not write it off (nor count it).
    await set_debt(migrated, "TW-3", status="SETTLED")
    case = await case_of(migrated, "TW-1")
    (day,) = (await run_daily(migrated, AS_OF)).days
    assert day.charge_offs_applied == 3
    names = await moves(migrated, case.id)
    assert names.count("CaseTransitioned") == 1
    written = [data for name, data in await events(migrated, case.id) if name == "CaseWrittenOff"]
    assert sorted(data["amount"] for data in written) == ["100.00", "200.00"]
    kinds = [data["amount"] for kind, data in await decided(migrated, case.id)
             if kind == "CASE_WRITTEN_OFF"]  # fmt: skip
    assert sorted(kinds) == ["100.00", "200.00"]
    async with migrated.connect() as conn:
        amounts = sorted((await conn.execute(select(w.amount))).scalars().all())
        statuses = dict(
            (await conn.execute(select(d.account_number, d.status).order_by(d.id))).all()
        )
    assert amounts == [Decimal("100.00"), Decimal("200.00")]
    assert statuses == {"TW-1": "WRITTEN_OFF", "TW-2": "WRITTEN_OFF", "TW-3": "SETTLED"}
