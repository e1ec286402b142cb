"""A settlement in effect when the core charges its debt off, on a fresh database of the backend
under test: the charge-off is a fact and is applied by the daily run (the case WRITTEN_OFF, its
debt WRITTEN_OFF), the settlement stays in effect, and once the borrower pays it the written-off
debt is SETTLED too and the case closes as SETTLED; the loss is reported once (CASE_WRITTEN_OFF
of the charge-off) and SETTLEMENT_PAID says its discount is of a written-off balance
(``writtenOffDebts``). A reversal of the payment gives the debt back its WRITTEN_OFF status."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from jobs.importing import import_feed
from store import tables
from tests.daily_support import AUDIT_KEY, case_row, events, make_case, noon, run
from tests.feeds.support import write_feed
from tests.plans_support import decisions_of, put_in_effect, restructuring

D0 = date(2027, 6, 15)


async def _feed(engine: AsyncEngine, tmp_path: Path, name: str, rows: list[Any], on: date) -> None:
    path = write_feed(tmp_path / f"{name}.jsonl", rows, as_of=on)
    report = await import_feed(engine, path, audit_key=AUDIT_KEY, now=noon(on))
    assert report.imported, report.errors


async def _debt(engine: AsyncEngine, debt_id: int) -> tuple[str, str]:
    d = tables.debts.c
    async with engine.connect() as conn:
        row = (await conn.execute(select(d.account_number, d.status).where(d.id == debt_id))).one()
        return str(row.account_number), str(row.status)


async def test_a_settlement_survives_the_core_s_charge_off_and_its_payment_settles_the_debt(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    made = await make_case(migrated, [[D0 - timedelta(days=200)]], stage="COLLECTION")
    settlement_id = await put_in_effect(
        migrated,
        made.case_id,
        kind="SETTLEMENT",
        settlement_amount="3000.00",  # of 5,000.00: 2,000.00 given up
        settle_by=D0 + timedelta(days=10),
        previous_stage="COLLECTION",
    )
    (debt_id,) = made.debt_ids
    account, _ = await _debt(migrated, debt_id)
    charge_off = {
        "type": "chargeOff",
        "accountNumber": account,
        "date": D0.isoformat(),
        "amount": "5000.00",
        "currency": "CNY",
    }
    await _feed(migrated, tmp_path, "charge-off", [charge_off], D0)
    assert (await run(migrated, D0)).days[0].charge_offs_applied == 1
    case = await case_row(migrated, made.case_id)
    assert (case.status, case.stage) == ("OPEN", "WRITTEN_OFF")
    assert await _debt(migrated, debt_id) == (account, "WRITTEN_OFF")
    assert (await restructuring(migrated, settlement_id)).status == "ACTIVE"  # still in effect

    paid = {
        "type": "payment",
        "accountNumber": account,
        "reference": "FEED-WO",
        "amount": "3000.00",
        "currency": "CNY",
        "paidAt": "2027-06-16T12:00:00+08:00",
    }
    await _feed(migrated, tmp_path, "pay", [paid], D0 + timedelta(days=1))
    await run(migrated, D0 + timedelta(days=1))
    case = await case_row(migrated, made.case_id)
    assert (case.status, case.stage, case.close_reason) == ("CLOSED", "WRITTEN_OFF", "SETTLED")
    assert await _debt(migrated, debt_id) == (account, "SETTLED")
    row = await restructuring(migrated, settlement_id)
    assert (row.status, row.concession) == ("COMPLETED", 2000)
    (completed,) = await events(migrated, made.case_id, "RestructuringCompleted")
    assert completed.data["settled_debts"] == {str(debt_id): "WRITTEN_OFF"}
    assert completed.data["written_off_debts"] == 1
    found = await decisions_of(migrated, made.case_id)
    kinds = [kind for kind, _ in found]
    # The loss once: the core's charge-off (no request to book it: the core booked it).
    assert kinds.count("CASE_WRITTEN_OFF") == 1 and "CHARGE_OFF_REQUESTED" not in kinds
    assert [data for kind, data in found if kind == "SETTLEMENT_PAID"] == [
        {"paid": "3000.00", "discount": "2000.00", "currency": "CNY", "writtenOffDebts": "1"}
    ]
    assert ("CASE_CLOSED", {"closeReason": "SETTLED", "stage": "WRITTEN_OFF"}) in found

    # The payment reversed: the debt is WRITTEN_OFF again, the case reopens, still written off.
    reversal = {"type": "paymentReversal", "reference": "FEED-WO", "reason": "chargeback"}
    await _feed(migrated, tmp_path, "reverse", [reversal], D0 + timedelta(days=2))
    await run(migrated, D0 + timedelta(days=2))
    case = await case_row(migrated, made.case_id)
    assert (case.status, case.stage, case.close_reason) == ("OPEN", "WRITTEN_OFF", None)
    assert await _debt(migrated, debt_id) == (account, "WRITTEN_OFF")
    assert (await restructuring(migrated, settlement_id)).status == "ACTIVE"
