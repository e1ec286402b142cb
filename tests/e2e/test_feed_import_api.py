"""A feed against what the API did: a payment posted through postPayment and then fed by the
core under the same reference is kept once and moves no balance again; the fed balances are
what the API then shows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from jobs.importing import import_feed
from store import tables
from tests.e2e.payment_cases import POST, an_hour_ago, make_loan, payment_input, state, today
from tests.factories import Factory
from tests.feeds.support import KEY, borrower, debt, due, write_feed
from tests.helpers import Gql

p = tables.payments.c

CASE = """
query($id: ID!) { r: case(id: $id) { daysPastDue bucket classification status
  totalOutstanding { amount currency } debts { daysPastDue } } }
"""


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


async def test_a_payment_posted_through_the_api_is_not_fed_twice(
    gql: Gql, engine: AsyncEngine, factory: Factory, tmp_path: Path
) -> None:
    core = str((await factory.staff(roles=("integration",))).login)
    loan = await make_loan(
        factory, engine, schedule=[(-40, "1000.00"), (-10, "1000.00")], principal="2000.00"
    )
    reference = f"TX-{uuid.uuid4().hex[:12]}"
    posted = (await gql(core, POST, payment_input(loan, "600.00", reference)))["r"]
    assert posted["__typename"] == "PostPaymentSuccess", posted
    before = await state(engine, loan)
    fed = {
        "type": "payment",
        "accountNumber": loan.account_number,
        "reference": reference,
        "amount": "600.00",
        "currency": "CNY",
        "paidAt": an_hour_ago(),
    }
    feed = write_feed(tmp_path / "feed.jsonl", [fed], as_of=today())
    report = await import_feed(engine, feed, audit_key=KEY)
    assert report.imported, report.errors
    assert report.summary["paymentsDeduplicated"] == 1
    assert report.summary["types"]["payment"]["inserted"] == 0
    async with engine.connect() as conn:
        kept = (
            await conn.execute(select(p.source, p.amount).where(p.reference == reference))
        ).all()
    assert [(row.source, str(row.amount)) for row in kept] == [("API", "600.00")]
    assert await state(engine, loan) == before


async def test_a_fed_payment_refuses_the_same_reference_through_the_api(
    gql: Gql, engine: AsyncEngine, factory: Factory, tmp_path: Path
) -> None:
    core = str((await factory.staff(roles=("integration",))).login)
    loan = await make_loan(
        factory, engine, schedule=[(-40, "1000.00"), (-10, "1000.00")], principal="2000.00"
    )
    reference = f"TX-{uuid.uuid4().hex[:12]}"
    fed = {
        "type": "payment",
        "accountNumber": loan.account_number,
        "reference": reference,
        "amount": "600.00",
        "currency": "CNY",
        "paidAt": an_hour_ago(),
    }
    report = await import_feed(
        engine, write_feed(tmp_path / "feed.jsonl", [fed], as_of=today()), audit_key=KEY
    )
    assert report.imported, report.errors
    assert report.summary["types"]["payment"]["inserted"] == 1
    before = await state(engine, loan)
    posted = (await gql(core, POST, payment_input(loan, "600.00", reference)))["r"]
    assert (posted["code"], posted["field"]) == ("PAYMENT_REFERENCE_DUPLICATE", "reference")
    assert await state(engine, loan) == before
    async with engine.connect() as conn:
        kept = (
            await conn.execute(select(p.source, p.amount).where(p.reference == reference))
        ).all()
    assert [(row.source, str(row.amount)) for row in kept] == [("FEED", "600.00")]


async def test_the_api_shows_the_fed_balances(
    gql: Gql, engine: AsyncEngine, factory: Factory, tmp_path: Path
) -> None:
    loan = await make_loan(factory, engine, schedule=[(-40, "1000.00")], principal="1000.00")
    # The core knows the borrower by its national ID (adopted: the stored row had no external id).
    person = loan.made.borrower
    n = int(uuid.uuid4().int % 10**8)
    fed_borrower = borrower(n, nationalId=person.national_id)
    fed_debt = debt(
        n,
        loan.account_number,
        principal="700.00",
        interest="20.00",
        penalty="5.00",
        fee="0.00",
        instalments=[due(1, today().replace(day=1) if today().day > 1 else today(), "725.00")],
        daysPastDue=95,
    )
    feed = write_feed(tmp_path / "feed.jsonl", [fed_borrower, fed_debt], as_of=today())
    report = await import_feed(engine, feed, audit_key=KEY)
    assert report.imported, report.errors
    assert report.summary["borrowersAdopted"] == 1
    shown = (await gql("manager", CASE, {"id": loan.made.gid}))["r"]
    assert shown == {
        "daysPastDue": 95,
        "bucket": "M4",
        "classification": "SERIOUS",
        "status": "OPEN",
        "totalOutstanding": {"amount": "725.00", "currency": "CNY"},
        # The debt says what its case says: the core's figure, by the one rule, moved on to
        # today in UTC (Debt.daysPastDue): in the hours when Shanghai's date (the feed's) is a
        # day ahead of UTC's, one day less.
        "debts": [{"daysPastDue": 95 + (datetime.now(UTC).date() - today()).days}],
    }
