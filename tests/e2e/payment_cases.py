"""Cases with hand-worked loans for the payment and promise tests, and the GraphQL they send.

A loan's schedule is given in days relative to the portfolio's today (Asia/Shanghai for
``retail``), which is the date the API classifies a case as of, so the expected days past due
are exact."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.portfolios import local_today, start_of_day
from store import tables
from tests.factories import Factory, MadeCase, classify, global_id, writing
from tests.helpers import portfolio_today

c, d, i = tables.cases.c, tables.debts.c, tables.instalments.c

POST = """
mutation($input: PostPaymentInput!) {
  r: postPayment(input: $input) {
    __typename
    ... on PostPaymentSuccess {
      payment {
        id amount { amount currency } paidAt reference reversed
        allocations { component amount { amount currency } }
      }
      debt { id outstanding { amount } }
      case { id status closeReason watchUntil daysPastDue bucket classification
             totalOutstanding { amount currency } }
    }
    ... on UserError { code field message }
  }
}
"""
REVERSE = """
mutation($input: ReversePaymentInput!) {
  r: reversePayment(input: $input) {
    __typename
    ... on ReversePaymentSuccess {
      payment { id reversed reversedAt }
      debt { id outstanding { amount } }
      case { id status closeReason watchUntil daysPastDue bucket classification
             totalOutstanding { amount currency } }
    }
    ... on UserError { code field message }
  }
}
"""
RECORD = """
mutation($input: RecordPromiseInput!) {
  r: recordPromise(input: $input) {
    __typename
    ... on RecordPromiseSuccess {
      promise { id amount { amount currency } dueDate status paidAmount { amount }
                promisedOn graceDays collector { login } agency { name } }
    }
    ... on UserError { code field message }
  }
}
"""
PROMISES = """
query($id: ID!) {
  r: case(id: $id) { promises { id status amount { amount } paidAmount { amount } dueDate } }
}
"""


def today() -> date:
    return portfolio_today()


def an_hour_ago() -> str:
    """An instant of the portfolio's today before now: an hour ago, or, in the first hour of the
    local day (00:00–01:00 in Shanghai, 16:00–17:00 UTC), halfway from its start to now — so that
    a payment "made today" is on today's local date whatever the time the suite runs."""
    now = datetime.now(UTC)
    start = start_of_day("retail", local_today("retail", now))
    return max(now - timedelta(hours=1), start + (now - start) / 2).isoformat()


@dataclass
class Loan:
    """A case with one debt whose figures the test chose."""

    made: MadeCase
    debt_id: int
    account_number: str
    instalment_ids: list[int]

    @property
    def case_id(self) -> int:
        return int(self.made.case.id)

    @property
    def case_gid(self) -> str:
        return self.made.gid

    @property
    def debt_gid(self) -> str:
        return global_id("Debt", self.debt_id)


async def make_loan(
    factory: Factory,
    engine: AsyncEngine,
    *,
    schedule: list[tuple[int, str]],
    principal: str,
    interest: str = "0.00",
    penalty: str = "0.00",
    fee: str = "0.00",
    **shape: Any,
) -> Loan:
    """A case whose one debt has these components and instalments, each ``(days from today,
    amount due)``, none paid; the case's stored figures are what the domain computes."""
    dues = [today() + timedelta(days=days) for days, _ in schedule]
    past = [due for due in dues if due <= today()]
    dpd = (today() - min(past)).days if past else 0
    made = await factory.case(days_past_due=dpd, instalments=0, **shape)
    debt_id = made.debts[0].id
    amounts = [Decimal(x) for x in (principal, interest, penalty, fee)]
    bucket, classification = classify(dpd)
    async with writing(engine) as conn:
        await conn.execute(
            update(tables.debts)
            .where(d.id == debt_id)
            .values(principal=amounts[0], interest=amounts[1], penalty=amounts[2], fee=amounts[3])
        )
        ids = []
        for n, ((_, amount), due) in enumerate(zip(schedule, dues, strict=True), 1):
            inserted = await conn.execute(
                insert(tables.instalments).values(
                    debt_id=debt_id,
                    sequence=n,
                    due_date=due,
                    amount_due=Decimal(amount),
                    amount_paid=Decimal("0.00"),
                )
            )
            assert inserted.inserted_primary_key is not None
            ids.append(inserted.inserted_primary_key[0])
        await conn.execute(
            update(tables.cases)
            .where(c.id == made.case.id)
            .values(
                days_past_due=dpd,
                bucket=bucket,
                classification=classification,
                outstanding_amount=sum(amounts, Decimal("0.00")),
                dpd_as_of=today(),
            )
        )
    return Loan(made, debt_id, made.debts[0].account_number, ids)


async def state(engine: AsyncEngine, loan: Loan) -> dict[str, Any]:
    """Everything a payment moves, as stored."""
    async with engine.connect() as conn:
        debt = (await conn.execute(select(tables.debts).where(d.id == loan.debt_id))).one()
        paid = (
            await conn.execute(
                select(i.amount_paid).where(i.debt_id == loan.debt_id).order_by(i.sequence)
            )
        ).scalars()
        case = (await conn.execute(select(tables.cases).where(c.id == loan.case_id))).one()
        p = tables.payments.c
        payments = (
            await conn.execute(
                select(p.reference, p.reversed).where(p.case_id == loan.case_id).order_by(p.id)
            )
        ).all()
    return {
        "components": (debt.penalty, debt.fee, debt.interest, debt.principal),
        "paid": list(paid),
        "case": (
            case.status,
            case.close_reason,
            case.watch_until,
            case.days_past_due,
            case.bucket,
            case.classification,
            case.outstanding_amount,
        ),
        "payments": [tuple(row) for row in payments],
    }


async def event_names(engine: AsyncEngine, case_id: int) -> list[str]:
    ev = tables.case_events.c
    async with engine.connect() as conn:
        stmt = select(ev.name).where(ev.case_id == case_id).order_by(ev.id)
        return list((await conn.execute(stmt)).scalars())


def payment_input(loan: Loan, amount: str, reference: str, **extra: Any) -> dict[str, Any]:
    return {
        "input": {
            "debtId": loan.debt_gid,
            "amount": amount,
            "currency": "CNY",
            "paidAt": an_hour_ago(),
            "reference": reference,
            **extra,
        }
    }


def money(amount: str, currency: str = "CNY") -> dict[str, str]:
    return {"amount": amount, "currency": currency}
