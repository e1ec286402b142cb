"""postPayment and reversePayment over HTTP: hand-worked examples exact to the cent, the life
cycle they move, refusals that change nothing, idempotency (also under concurrent retries) and
who may post, reverse and see payments.

The loan of most examples (CNY): principal 3000.00, interest 150.00, penalty 45.50, fee 20.00,
outstanding 3215.50, in three instalments of 1071.84, 1071.83 and 1071.83 due 95, 65 and 35 days
ago (DPD 95: M4, SERIOUS).
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.e2e.conftest import StatementCounter
from tests.e2e.payment_cases import (
    POST,
    REVERSE,
    Loan,
    event_names,
    make_loan,
    money,
    payment_input,
    state,
    today,
)
from tests.factories import Factory, global_id, writing
from tests.helpers import Gql, assert_forbidden

a = tables.audit_entries.c


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


@pytest.fixture
async def core(factory: Factory) -> str:
    """A login with the integration role (the core banking system)."""
    staff = await factory.staff(roles=("integration",))
    return str(staff.login)


async def three_instalments(factory: Factory, engine: AsyncEngine, **shape: Any) -> Loan:
    return await make_loan(
        factory,
        engine,
        schedule=[(-95, "1071.84"), (-65, "1071.83"), (-35, "1071.83")],
        principal="3000.00",
        interest="150.00",
        penalty="45.50",
        fee="20.00",
        **shape,
    )


def ref() -> str:
    return f"TX-{uuid.uuid4().hex[:12]}"


async def post(gql: Gql, login: str, variables: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = (await gql(login, POST, variables))["r"]
    return result


# ---- hand-worked examples -----------------------------------------------------------------------


async def test_a_payment_settles_the_oldest_instalments_and_the_waterfall(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # 1500.00: penalty 45.50, fee 20.00, interest 150.00, principal 1500.00 - 215.50 = 1284.50.
    # Schedule: the first instalment in full (1071.84), the second with 428.16; the oldest
    # unpaid due date is now 65 days ago (M3, MODERATE); 3215.50 - 1500.00 = 1715.50 owed.
    loan = await three_instalments(factory, engine)
    result = await post(gql, core, payment_input(loan, "1500.00", ref()))
    assert result["__typename"] == "PostPaymentSuccess", result
    assert result["payment"]["amount"] == money("1500.00")
    assert result["payment"]["allocations"] == [
        {"component": "PENALTY", "amount": money("45.50")},
        {"component": "FEE", "amount": money("20.00")},
        {"component": "INTEREST", "amount": money("150.00")},
        {"component": "PRINCIPAL", "amount": money("1284.50")},
    ]
    assert result["payment"]["reversed"] is False
    assert result["debt"] == {"id": loan.debt_gid, "outstanding": {"amount": "1715.50"}}
    assert result["case"] == {
        "id": loan.case_gid,
        "status": "OPEN",
        "closeReason": None,
        "watchUntil": None,
        "daysPastDue": 65,
        "bucket": "M3",
        "classification": "MODERATE",
        "totalOutstanding": money("1715.50"),
    }
    stored = await state(engine, loan)
    assert [str(x) for x in stored["components"]] == ["0.00", "0.00", "0.00", "1715.50"]
    assert [str(x) for x in stored["paid"]] == ["1071.84", "428.16", "0.00"]
    assert await event_names(engine, loan.case_id) == ["PaymentPosted", "CaseReclassified"]


async def test_an_overpayment_leaves_a_credit_and_pays_the_case_in_full(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # 4000.00 against 3215.50: everything cleared, 784.50 UNAPPLIED; nothing is owed, so the
    # case closes PAID_IN_FULL and is watched for 60 days.
    loan = await three_instalments(factory, engine)
    result = await post(gql, core, payment_input(loan, "4000.00", ref()))
    assert result["payment"]["allocations"] == [
        {"component": "PENALTY", "amount": money("45.50")},
        {"component": "FEE", "amount": money("20.00")},
        {"component": "INTEREST", "amount": money("150.00")},
        {"component": "PRINCIPAL", "amount": money("3000.00")},
        {"component": "UNAPPLIED", "amount": money("784.50")},
    ]
    assert result["case"] == {
        "id": loan.case_gid,
        "status": "CLOSED",
        "closeReason": "PAID_IN_FULL",
        "watchUntil": (today() + timedelta(days=60)).isoformat(),
        "daysPastDue": 0,
        "bucket": "M0",
        "classification": "CURRENT",
        "totalOutstanding": money("0.00"),
    }
    stored = await state(engine, loan)
    assert [str(x) for x in stored["paid"]] == ["1071.84", "1071.83", "1071.83"]
    assert await event_names(engine, loan.case_id) == [
        "PaymentPosted",
        "CaseReclassified",
        "CaseTransitioned",
    ]


async def test_a_reversal_restores_everything_exactly(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    loan = await three_instalments(factory, engine)
    before = await state(engine, loan)
    # 2143.67 = the first two instalments (1071.84 + 1071.83): DPD 35 (M2).
    reference = ref()
    posted = await post(gql, core, payment_input(loan, "2143.67", reference))
    assert (await state(engine, loan))["case"][3:6] == (35, "M2", "MODERATE")
    reversed_ = (
        await gql(
            core,
            REVERSE,
            {"input": {"paymentId": posted["payment"]["id"], "reason": "bounced"}},
        )
    )["r"]
    assert reversed_["__typename"] == "ReversePaymentSuccess", reversed_
    assert reversed_["payment"]["reversed"] is True
    assert reversed_["debt"]["outstanding"] == {"amount": "3215.50"}
    assert reversed_["case"] == {
        "id": loan.case_gid,
        "status": "OPEN",
        "closeReason": None,
        "watchUntil": None,
        "daysPastDue": 95,
        "bucket": "M4",
        "classification": "SERIOUS",
        "totalOutstanding": money("3215.50"),
    }
    after = await state(engine, loan)
    assert {**after, "payments": []} == {**before, "payments": []}
    assert after["payments"] == [(reference, True)]
    assert await event_names(engine, loan.case_id) == [
        "PaymentPosted",
        "CaseReclassified",
        "PaymentReversed",
        "CaseReclassified",
    ]
    again = (
        await gql(
            core,
            REVERSE,
            {"input": {"paymentId": posted["payment"]["id"], "reason": "again"}},
        )
    )["r"]
    assert again == {
        "__typename": "RuleViolationError",
        "code": "PAYMENT_ALREADY_REVERSED",
        "field": "paymentId",
        "message": f"payment {reference} was already reversed",
    }
    assert await state(engine, loan) == after


async def cure_loan(factory: Factory, engine: AsyncEngine) -> Loan:
    """Principal 1900.00, interest 100.00, penalty 30.00, fee 10.00 (2040.00); instalments of
    1000.00 due 40 days ago and 1000.00 due in 20 days (DPD 40: M2, MODERATE)."""
    return await make_loan(
        factory,
        engine,
        schedule=[(-40, "1000.00"), (20, "1000.00")],
        principal="1900.00",
        interest="100.00",
        penalty="30.00",
        fee="10.00",
    )


async def test_clearing_the_arrears_cures_and_closes_the_case_and_reversal_reopens_it(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # 1000.00: penalty 30.00, fee 10.00, interest 100.00, principal 860.00 (1040.00 left);
    # the instalment due 40 days ago is paid, the next is not due: DPD 0, CURED and CLOSED.
    loan = await cure_loan(factory, engine)
    before = await state(engine, loan)
    posted = await post(gql, core, payment_input(loan, "1000.00", ref()))
    assert posted["payment"]["allocations"] == [
        {"component": "PENALTY", "amount": money("30.00")},
        {"component": "FEE", "amount": money("10.00")},
        {"component": "INTEREST", "amount": money("100.00")},
        {"component": "PRINCIPAL", "amount": money("860.00")},
    ]
    assert posted["case"] == {
        "id": loan.case_gid,
        "status": "CLOSED",
        "closeReason": "CURED",
        "watchUntil": (today() + timedelta(days=60)).isoformat(),
        "daysPastDue": 0,
        "bucket": "M0",
        "classification": "CURRENT",
        "totalOutstanding": money("1040.00"),
    }
    # The payment that cured the case bounces: the same case reopens where it was.
    result = (
        await gql(
            core,
            REVERSE,
            {"input": {"paymentId": posted["payment"]["id"], "reason": "returned by bank"}},
        )
    )["r"]
    assert result["case"] == {
        "id": loan.case_gid,
        "status": "OPEN",
        "closeReason": None,
        "watchUntil": None,
        "daysPastDue": 40,
        "bucket": "M2",
        "classification": "MODERATE",
        "totalOutstanding": money("2040.00"),
    }
    after = await state(engine, loan)
    assert {**after, "payments": []} == {**before, "payments": []}
    assert await event_names(engine, loan.case_id) == [
        "PaymentPosted",
        "CaseReclassified",
        "CaseTransitioned",
        "PaymentReversed",
        "CaseReclassified",
        "CaseTransitioned",
    ]


async def test_a_default_inside_the_watch_window_reopens_the_same_case(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # Instalments of 1000.00 due 40 and 10 days ago and in 20 days; principal 3000.00 only.
    # A (1000.00) pays the first: DPD 10. B (1000.00) pays the second: DPD 0, CURED, CLOSED
    # with 1000.00 still owed. A bounces: B is applied again, to the first instalment, so the
    # second is unpaid (DPD 10) inside the watch window, and the case B closed reopens — the
    # same case, in M1 (MILD), 2000.00 owed.
    loan = await make_loan(
        factory,
        engine,
        schedule=[(-40, "1000.00"), (-10, "1000.00"), (20, "1000.00")],
        principal="3000.00",
    )
    first = await post(gql, core, payment_input(loan, "1000.00", ref()))
    assert (first["case"]["status"], first["case"]["daysPastDue"]) == ("OPEN", 10)
    second = await post(gql, core, payment_input(loan, "1000.00", ref()))
    assert (second["case"]["status"], second["case"]["closeReason"]) == ("CLOSED", "CURED")
    assert second["case"]["totalOutstanding"] == money("1000.00")
    result = (
        await gql(
            core,
            REVERSE,
            {"input": {"paymentId": first["payment"]["id"], "reason": "bounced"}},
        )
    )["r"]
    assert result["case"] == {
        "id": loan.case_gid,
        "status": "OPEN",
        "closeReason": None,
        "watchUntil": None,
        "daysPastDue": 10,
        "bucket": "M1",
        "classification": "MILD",
        "totalOutstanding": money("2000.00"),
    }
    assert [str(x) for x in (await state(engine, loan))["paid"]] == ["1000.00", "0.00", "0.00"]
    async with engine.connect() as conn:
        ev = tables.case_events.c
        moves = (
            await conn.execute(
                select(ev.data)
                .where(ev.case_id == loan.case_id, ev.name == "CaseTransitioned")
                .order_by(ev.id)
            )
        ).scalars()
        assert [m["trigger"] for m in moves] == ["CURE", "REOPEN"]


PAYMENT = """
query($id: ID!) {
  r: node(id: $id) {
    ... on Payment { reversed allocations { component amount { amount } } }
  }
}
"""
TIMELINE = """
query($id: ID!) {
  case(id: $id) {
    timeline(first: 50) { edges { node { kind summary payment { id reversed } } } }
  }
}
"""


async def stored_credits(engine: AsyncEngine, payment_gid: str) -> list[tuple[int, str]]:
    """A payment's stored credits by instalment (id, amount), as a reversal left them."""
    pi = tables.payment_instalments.c
    pk = int(base64.b64decode(payment_gid).decode().split(":")[1])
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(pi.instalment_id, pi.amount).where(pi.payment_id == pk).order_by(pi.id)
        )
        return [(row.instalment_id, str(row.amount)) for row in rows]


async def test_reversing_an_older_payment_applies_the_later_ones_again(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # The loan of three_instalments (3215.50; 1071.84, 1071.83, 1071.83 due 95, 65 and 35 days
    # ago). A 1071.84 pays the costs and interest (215.50), 856.34 of principal and the first
    # instalment: DPD 65. B 1071.83 pays principal and the second: DPD 35 (M2), 1071.83 owed.
    # A bounces. B, applied again as if alone: penalty 45.50, fee 20.00, interest 150.00,
    # principal 856.33 (2143.67 left), and 1071.83 of the first instalment (0.01 short): the
    # oldest unpaid due date is still 95 days ago (M4, SERIOUS) and 2143.67 is owed.
    loan = await three_instalments(factory, engine)
    pay_a = await post(gql, core, payment_input(loan, "1071.84", ref()))
    assert pay_a["case"]["daysPastDue"] == 65
    pay_b = await post(gql, core, payment_input(loan, "1071.83", ref()))
    assert (pay_b["case"]["daysPastDue"], pay_b["case"]["totalOutstanding"]) == (
        35,
        money("1071.83"),
    )
    assert pay_b["payment"]["allocations"] == [
        {"component": "PRINCIPAL", "amount": money("1071.83")}
    ]
    b_id = pay_b["payment"]["id"]
    reason = "returned by the bank: account of Wang Fang closed"
    response = await gql.raw(
        core, REVERSE, {"input": {"paymentId": pay_a["payment"]["id"], "reason": reason}}
    )
    result = response.json()["data"]["r"]
    assert result["case"] == {
        "id": loan.case_gid,
        "status": "OPEN",
        "closeReason": None,
        "watchUntil": None,
        "daysPastDue": 95,
        "bucket": "M4",
        "classification": "SERIOUS",
        "totalOutstanding": money("2143.67"),
    }
    stored = await state(engine, loan)
    assert [str(x) for x in stored["components"]] == ["0.00", "0.00", "0.00", "2143.67"]
    assert [str(x) for x in stored["paid"]] == ["1071.83", "0.00", "0.00"]
    # B's stored allocations are replaced by the new ones.
    again = (await gql("manager", PAYMENT, {"id": b_id}))["r"]
    assert again == {
        "reversed": False,
        "allocations": [
            {"component": "PENALTY", "amount": {"amount": "45.50"}},
            {"component": "FEE", "amount": {"amount": "20.00"}},
            {"component": "INTEREST", "amount": {"amount": "150.00"}},
            {"component": "PRINCIPAL", "amount": {"amount": "856.33"}},
        ],
    }
    assert await stored_credits(engine, b_id) == [(loan.instalment_ids[0], "1071.83")]
    assert (await event_names(engine, loan.case_id))[-3:] == [
        "PaymentReversed",
        "PaymentReapplied",
        "CaseReclassified",
    ]
    # The timeline says so, linking B; the audit entry names B by id, and the reason (free
    # text) is on the payment only.
    timeline = (await gql("manager", TIMELINE, {"id": loan.case_gid}))["case"]["timeline"]
    reapplied = [e["node"] for e in timeline["edges"] if e["node"]["kind"] == "PAYMENT_REAPPLIED"]
    assert reapplied == [
        {
            "kind": "PAYMENT_REAPPLIED",
            "summary": "Payment re-applied after an earlier payment was reversed",
            "payment": {"id": b_id, "reversed": False},
        }
    ]
    a_pk = int(base64.b64decode(pay_a["payment"]["id"]).decode().split(":")[1])
    b_pk = int(base64.b64decode(b_id).decode().split(":")[1])
    async with engine.connect() as conn:
        entries = (
            await conn.execute(
                select(tables.audit_entries).where(a.request_id == response.headers["x-request-id"])
            )
        ).all()
        kept = (
            await conn.execute(
                select(tables.payments.c.reversal_reason).where(tables.payments.c.id == a_pk)
            )
        ).scalar_one()
    assert [(e.action, e.outcome) for e in entries] == [("payment.reverse", "ALLOWED")]
    assert entries[0].changes == {
        "payment_id": a_pk,
        "debt_id": loan.debt_id,
        "reference": pay_a["payment"]["reference"],
        "amount": "1071.84",
        "currency": "CNY",
        "reapplied_payment_ids": [b_pk],
    }
    assert entries[0].reason_text is None
    assert all("Wang" not in str(value) for e in entries for value in e)
    assert kept == reason


async def test_credit_left_unapplied_pays_what_a_bounced_payment_had_paid(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # cure_loan (2040.00: penalty 30.00, fee 10.00, interest 100.00, principal 1900.00;
    # 1000.00 due 40 days ago, 1000.00 in 20 days). A 2040.00 pays everything: PAID_IN_FULL.
    # B 2040.00 again is all UNAPPLIED. A bounces: B applied again pays everything (costs and
    # interest 140.00, principal 1900.00, both instalments): nothing past due or owed, and the
    # case A closed stays CLOSED — not reopened at DPD 40 beside 2040.00 of idle credit.
    loan = await cure_loan(factory, engine)
    pay_a = await post(gql, core, payment_input(loan, "2040.00", ref()))
    assert (pay_a["case"]["status"], pay_a["case"]["closeReason"]) == ("CLOSED", "PAID_IN_FULL")
    pay_b = await post(gql, core, payment_input(loan, "2040.00", ref()))
    assert pay_b["payment"]["allocations"] == [
        {"component": "UNAPPLIED", "amount": money("2040.00")}
    ]
    result = (
        await gql(
            core, REVERSE, {"input": {"paymentId": pay_a["payment"]["id"], "reason": "bounced"}}
        )
    )["r"]
    assert result["case"] == {
        "id": loan.case_gid,
        "status": "CLOSED",
        "closeReason": "PAID_IN_FULL",
        "watchUntil": (today() + timedelta(days=60)).isoformat(),
        "daysPastDue": 0,
        "bucket": "M0",
        "classification": "CURRENT",
        "totalOutstanding": money("0.00"),
    }
    assert [str(x) for x in (await state(engine, loan))["paid"]] == ["1000.00", "1000.00"]
    again = (await gql("manager", PAYMENT, {"id": pay_b["payment"]["id"]}))["r"]
    assert again["allocations"] == [
        {"component": "PENALTY", "amount": {"amount": "30.00"}},
        {"component": "FEE", "amount": {"amount": "10.00"}},
        {"component": "INTEREST", "amount": {"amount": "100.00"}},
        {"component": "PRINCIPAL", "amount": {"amount": "1900.00"}},
    ]


async def test_a_payment_that_closed_the_case_once_does_not_reopen_a_later_closure(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # 1000.00 due 40 days ago, in 20 and in 50 days (principal 3000.00). A (1000.00) cures the
    # case. The second instalment then falls due (moved to 5 days ago: the clock of the API
    # cannot be moved) and C (0.01) reopens the case inside the watch window (DPD 5); B (999.99)
    # cures and closes it again. B's watch window then passes (watch_until moved to yesterday).
    # A bounces: C and B are applied again to the first instalment (1000.00), the second is
    # unpaid (DPD 5), but A did not make the current closure: the case stays CLOSED. B bouncing
    # next reopens it (B closed it): DPD 40, 2999.99 owed.
    loan = await make_loan(
        factory,
        engine,
        schedule=[(-40, "1000.00"), (20, "1000.00"), (50, "1000.00")],
        principal="3000.00",
    )
    pay_a = await post(gql, core, payment_input(loan, "1000.00", ref()))
    assert (pay_a["case"]["status"], pay_a["case"]["closeReason"]) == ("CLOSED", "CURED")
    i = tables.instalments.c
    async with writing(engine) as conn:
        await conn.execute(
            update(tables.instalments)
            .where(i.id == loan.instalment_ids[1])
            .values(due_date=today() - timedelta(days=5))
        )
    pay_c = await post(gql, core, payment_input(loan, "0.01", ref()))
    assert (pay_c["case"]["status"], pay_c["case"]["daysPastDue"]) == ("OPEN", 5)
    pay_b = await post(gql, core, payment_input(loan, "999.99", ref()))
    assert (pay_b["case"]["status"], pay_b["case"]["closeReason"]) == ("CLOSED", "CURED")
    async with writing(engine) as conn:
        await conn.execute(
            update(tables.cases)
            .where(tables.cases.c.id == loan.case_id)
            .values(watch_until=today() - timedelta(days=1))
        )
    first = (
        await gql(
            core, REVERSE, {"input": {"paymentId": pay_a["payment"]["id"], "reason": "bounced"}}
        )
    )["r"]
    assert (first["case"]["status"], first["case"]["closeReason"]) == ("CLOSED", "CURED")
    assert first["case"]["daysPastDue"] == 5
    assert [str(x) for x in (await state(engine, loan))["paid"]] == ["1000.00", "0.00", "0.00"]
    second = (
        await gql(
            core, REVERSE, {"input": {"paymentId": pay_b["payment"]["id"], "reason": "bounced"}}
        )
    )["r"]
    assert (second["case"]["status"], second["case"]["daysPastDue"]) == ("OPEN", 40)
    assert second["case"]["totalOutstanding"] == money("2999.99")


async def test_concurrent_reversals_on_one_debt_leave_the_later_payment_alone_applied(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # 1000.00 due 40 and 10 days ago and in 20 days (principal 3000.00). A 1000.00, B 1000.00,
    # C 500.00; A and B bounce at once. Whichever goes first, the other waits for the case and
    # then sees what the first left: C alone pays 500.00 of the first instalment (DPD 40,
    # 2500.00 owed) — no deadlock, no credit lost or counted twice.
    loan = await make_loan(
        factory,
        engine,
        schedule=[(-40, "1000.00"), (-10, "1000.00"), (20, "1000.00")],
        principal="3000.00",
    )
    pay_a = await post(gql, core, payment_input(loan, "1000.00", ref()))
    pay_b = await post(gql, core, payment_input(loan, "1000.00", ref()))
    pay_c = await post(gql, core, payment_input(loan, "500.00", ref()))
    results = await asyncio.gather(
        *(
            gql(core, REVERSE, {"input": {"paymentId": p["payment"]["id"], "reason": "bounced"}})
            for p in (pay_a, pay_b)
        )
    )
    assert [r["r"]["__typename"] for r in results] == ["ReversePaymentSuccess"] * 2, results
    stored = await state(engine, loan)
    assert [str(x) for x in stored["paid"]] == ["500.00", "0.00", "0.00"]
    assert stored["case"][3] == 40 and str(stored["case"][6]) == "2500.00"
    assert await stored_credits(engine, pay_c["payment"]["id"]) == [
        (loan.instalment_ids[0], "500.00")
    ]


async def test_one_payment_reversed_twice_at_once_is_reversed_once(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    loan = await three_instalments(factory, engine)
    before = await state(engine, loan)
    posted = await post(gql, core, payment_input(loan, "1500.00", ref()))
    reversal = {"input": {"paymentId": posted["payment"]["id"], "reason": "bounced"}}
    results = await asyncio.gather(*(gql(core, REVERSE, reversal) for _ in range(2)))
    assert sorted(r["r"]["__typename"] for r in results) == [
        "ReversePaymentSuccess",
        "RuleViolationError",
    ], results
    assert {**await state(engine, loan), "payments": []} == {**before, "payments": []}


async def test_payments_by_account_number_and_on_a_closed_case_are_taken(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    loan = await cure_loan(factory, engine)
    variables = payment_input(loan, "1000.00", ref())
    del variables["input"]["debtId"]
    variables["input"]["accountNumber"] = loan.account_number
    cured = await post(gql, "manager", variables)
    assert cured["case"]["status"] == "CLOSED"
    # Money received is never refused: a closed case takes it (the next instalment, early).
    more = await post(gql, core, payment_input(loan, "500.00", ref()))
    assert more["__typename"] == "PostPaymentSuccess"
    assert more["payment"]["allocations"] == [{"component": "PRINCIPAL", "amount": money("500.00")}]
    assert (more["case"]["status"], more["case"]["totalOutstanding"]) == (
        "CLOSED",
        money("540.00"),
    )
    assert [str(x) for x in (await state(engine, loan))["paid"]] == ["1000.00", "500.00"]


# ---- refusals change nothing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"currency": "USD"}, "CURRENCY_MISMATCH", "currency"),
        ({"amount": "0"}, "AMOUNT_NOT_POSITIVE", "amount"),
        ({"amount": "-10.00"}, "AMOUNT_NOT_POSITIVE", "amount"),
        ({"amount": "10.001"}, "AMOUNT_TOO_PRECISE", "amount"),
        ({"reference": "  "}, "INVALID_INPUT", "reference"),
        ({"reference": "R" * 65}, "INVALID_INPUT", "reference"),
        ({"paidAt": "2026-01-01T10:00:00"}, "PAYMENT_DATE_INVALID", "paidAt"),
        ({"debtId": global_id("Debt", 2_000_000_000)}, "DEBT_NOT_FOUND", "debtId"),
        ({"debtId": "not-an-id"}, "DEBT_NOT_FOUND", "debtId"),
        ({"accountNumber": "X"}, "INVALID_INPUT", "debtId"),
        ({"amount": "NaN"}, "INVALID_INPUT", "amount"),
        ({"amount": "1E+30"}, "AMOUNT_TOO_LARGE", "amount"),
        ({"currency": "CNY-but-much-longer"}, "CURRENCY_MISMATCH", "currency"),
        ({"idempotencyKey": "k" * 129}, "IDEMPOTENCY_KEY_TOO_LONG", "idempotencyKey"),
    ],
)
async def test_refusals_are_typed_audited_and_change_nothing(
    gql: Gql,
    engine: AsyncEngine,
    factory: Factory,
    core: str,
    change: dict[str, Any],
    code: str,
    field: str,
) -> None:
    loan = await three_instalments(factory, engine)
    before = await state(engine, loan)
    variables = payment_input(loan, "100.00", ref())
    variables["input"].update(change)
    response = await gql.raw(core, POST, variables)
    result = response.json()["data"]["r"]
    assert (result["code"], result["field"]) == (code, field), result
    assert await state(engine, loan) == before
    async with engine.connect() as conn:
        request_id = response.headers["x-request-id"]
        entries = (
            await conn.execute(
                select(a.action, a.outcome, a.changes).where(a.request_id == request_id)
            )
        ).all()
    assert [tuple(e) for e in entries] == [("payment.post", "DENIED", {"refused": code})]


async def test_a_future_payment_and_a_duplicate_reference_are_refused(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    loan = await three_instalments(factory, engine)
    future = payment_input(loan, "10.00", ref())
    future["input"]["paidAt"] = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await post(gql, core, future))["code"] == "PAYMENT_DATE_INVALID"
    reference = ref()
    await post(gql, core, payment_input(loan, "10.00", reference))
    before = await state(engine, loan)
    duplicate = await post(gql, core, payment_input(loan, "20.00", f"  {reference} "))
    assert (duplicate["code"], duplicate["field"]) == ("PAYMENT_REFERENCE_DUPLICATE", "reference")
    assert await state(engine, loan) == before


# ---- idempotency --------------------------------------------------------------------------------


async def payment_count(engine: AsyncEngine, loan: Loan) -> int:
    async with engine.connect() as conn:
        stmt = select(func.count()).where(tables.payments.c.case_id == loan.case_id)
        return int((await conn.execute(stmt)).scalar_one())


async def test_a_retry_with_the_same_key_posts_once(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    loan = await three_instalments(factory, engine)
    variables = payment_input(loan, "1500.00", ref(), idempotencyKey=str(uuid.uuid4()))
    first = await post(gql, core, variables)
    after_first = await state(engine, loan)
    again = await post(gql, core, variables)
    assert again == first
    assert await state(engine, loan) == after_first
    assert await payment_count(engine, loan) == 1
    # The same key with anything else is refused, and changes nothing.
    for change in ({"amount": "1500.01"}, {"reference": ref()}, {"paidAt": "2026-01-02T00:00:00Z"}):
        other = {"input": {**variables["input"], **change}}
        refused = await post(gql, core, other)
        assert (refused["code"], refused["field"]) == ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
    assert await state(engine, loan) == after_first
    # Another caller's key is their own.
    other_caller = await post(gql, "manager", {"input": {**variables["input"], "reference": ref()}})
    assert other_caller["__typename"] == "PostPaymentSuccess"


@pytest.mark.parametrize("by", ["debtId", "accountNumber"])
async def test_the_same_key_for_another_debt_is_refused(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str, by: str
) -> None:
    """The debt counts as much as the rest of the input, named by id or by account number."""
    loan, other = await three_instalments(factory, engine), await three_instalments(factory, engine)
    variables = payment_input(loan, "100.00", ref(), idempotencyKey=str(uuid.uuid4()))
    if by == "accountNumber":
        del variables["input"]["debtId"]
        variables["input"]["accountNumber"] = loan.account_number
    first = await post(gql, core, variables)
    assert first["__typename"] == "PostPaymentSuccess", first
    assert await post(gql, core, variables) == first
    after_first = [await state(engine, loan), await state(engine, other)]
    elsewhere = (
        {"debtId": other.debt_gid} if by == "debtId" else {"accountNumber": other.account_number}
    )
    refused = await post(gql, core, {"input": {**variables["input"], **elsewhere}})
    assert (refused["code"], refused["field"]) == ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
    assert [await state(engine, loan), await state(engine, other)] == after_first
    assert (await payment_count(engine, loan), await payment_count(engine, other)) == (1, 0)


@pytest.mark.parametrize("field", ["reference", "accountNumber", "idempotencyKey"])
async def test_a_nul_character_in_a_payments_text_is_refused_and_writes_nothing(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str, field: str
) -> None:
    """PostgreSQL cannot store NUL: it is refused as bad input (the request guard refuses it
    before GraphQL runs; the mutation checks its text as well), never an internal error."""
    loan = await three_instalments(factory, engine)
    before = await state(engine, loan)
    variables = payment_input(loan, "100.00", ref(), idempotencyKey=str(uuid.uuid4()))
    if field == "accountNumber":
        del variables["input"]["debtId"]
    variables["input"][field] = "TX\u0000"
    response = await gql.raw(core, POST, variables)
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "NUL characters" in error["message"]
    assert await state(engine, loan) == before
    assert await payment_count(engine, loan) == 0


async def test_concurrent_retries_with_one_key_post_once(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    """Six identical requests at once. On PostgreSQL they race (SQLite queues writers): one
    posts, the others wait for the case's lock, find the reference taken and answer with the
    first request's result."""
    loan = await three_instalments(factory, engine)
    variables = payment_input(loan, "1500.00", ref(), idempotencyKey=str(uuid.uuid4()))
    results = await asyncio.gather(*(post(gql, core, variables) for _ in range(6)))
    assert {r["__typename"] for r in results} == {"PostPaymentSuccess"}, results
    assert len({r["payment"]["id"] for r in results}) == 1
    assert await payment_count(engine, loan) == 1
    stored = await state(engine, loan)
    assert [str(x) for x in stored["paid"]] == ["1071.84", "428.16", "0.00"]
    assert str(stored["components"][3]) == "1715.50"


async def test_one_reference_posted_at_once_on_two_cases_is_taken_once(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    """Two cases' locks do not serialise these requests: the reference's unique constraint
    does, and the loser gets the same typed refusal as a sequential duplicate."""
    loans = [await three_instalments(factory, engine) for _ in range(2)]
    before = [await state(engine, loan) for loan in loans]
    reference = ref()
    results = await asyncio.gather(
        *(post(gql, core, payment_input(loan, "100.00", reference)) for loan in loans)
    )
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["PostPaymentSuccess", "RuleViolationError"], results
    refused = next(r for r in results if r["__typename"] == "RuleViolationError")
    assert (refused["code"], refused["field"]) == ("PAYMENT_REFERENCE_DUPLICATE", "reference")
    loser = results.index(refused)
    assert await state(engine, loans[loser]) == before[loser]


# ---- reading payments ---------------------------------------------------------------------------

PAYMENTS = """
query($id: ID!, $first: Int, $after: String) {
  r: case(id: $id) {
    payments(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        node { reference paidAt amount { amount } allocations { component amount { amount } } }
      }
    }
  }
}
"""


async def test_a_case_lists_its_payments_newest_first_in_pages(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str, sql_counter: StatementCounter
) -> None:
    loan = await three_instalments(factory, engine)
    now = datetime.now(UTC)
    for n in range(5):
        variables = payment_input(loan, f"{n + 1}.00", f"TX-P-{loan.case_id}-{n}")
        variables["input"]["paidAt"] = (now - timedelta(days=5 - n)).isoformat()
        await post(gql, core, variables)
    seen: list[str] = []
    after = None
    while True:
        page = (await gql(core, PAYMENTS, {"id": loan.case_gid, "first": 2, "after": after}))["r"]
        connection = page["payments"]
        assert connection["totalCount"] == 5
        seen += [e["node"]["reference"] for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == [f"TX-P-{loan.case_id}-{n}" for n in (4, 3, 2, 1, 0)]
    # Statements per page do not grow with the page size (allocations load in one batch).
    counts = {}
    for first in (1, 5):
        sql_counter.reset()
        await gql(core, PAYMENTS, {"id": loan.case_gid, "first": first})
        counts[first] = sql_counter.count
    assert counts[1] == counts[5], sql_counter.statements


@pytest.mark.parametrize(
    "after",
    [
        "nonsense",
        # A cursor of another list, and ones of this list with a value that is not an instant.
        base64.urlsafe_b64encode(b'{"l":"cases","i":1}').decode(),
        base64.urlsafe_b64encode(b'{"l":"case-payments","i":1,"v":"yesterday"}').decode(),
        base64.urlsafe_b64encode(b'{"l":"case-payments","i":1,"v":"2026-01-01T00:00:00"}').decode(),
        base64.urlsafe_b64encode(
            b'{"l":"case-payments","i":99999999999,"v":"2026-01-01"}'
        ).decode(),
    ],
)
async def test_a_bad_cursor_is_bad_input(
    gql: Gql, engine: AsyncEngine, factory: Factory, after: str
) -> None:
    loan = await three_instalments(factory, engine)
    errors = await gql.errors("manager", PAYMENTS, {"id": loan.case_gid, "after": after})
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"]


async def test_an_amount_that_is_no_number_is_bad_input(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    loan = await three_instalments(factory, engine)
    errors = await gql.errors("manager", POST, payment_input(loan, "ten", ref()))
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"]


# ---- who may ------------------------------------------------------------------------------------


@pytest.mark.parametrize("login", ["collector1", "lead1", "acme.agent1", "auditor1", "legal1"])
async def test_only_the_integration_role_and_managers_post_and_reverse(
    gql: Gql, engine: AsyncEngine, factory: Factory, login: str
) -> None:
    loan = await three_instalments(factory, engine, assignee="collector1")
    before = await state(engine, loan)
    assert_forbidden(await gql.errors(login, POST, payment_input(loan, "10.00", ref())))
    reverse = {"input": {"paymentId": global_id("Payment", 1), "reason": "x"}}
    assert_forbidden(await gql.errors(login, REVERSE, reverse))
    assert await state(engine, loan) == before


async def test_agencies_see_payments_only_on_their_agencys_cases(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    ours = await three_instalments(factory, engine, agency="Acme Recovery")
    theirs = await three_instalments(factory, engine, agency="Zenith Collections")
    for loan in (ours, theirs):
        await post(gql, core, payment_input(loan, "10.00", ref()))
    query = "query($id: ID!) { r: case(id: $id) { payments { totalCount } } }"
    assert (await gql("acme.agent1", query, {"id": ours.case_gid}))["r"] == {
        "payments": {"totalCount": 1}
    }
    assert (await gql("acme.agent1", query, {"id": theirs.case_gid}))["r"] is None
    async with engine.connect() as conn:
        p = tables.payments.c
        stmt = select(p.id).where(p.case_id.in_([ours.case_id, theirs.case_id])).order_by(p.id)
        ids = list((await conn.execute(stmt)).scalars())
    node = "query($id: ID!) { r: node(id: $id) { id ... on Payment { reference } } }"
    shown = [(await gql("acme.agent1", node, {"id": global_id("Payment", pk)}))["r"] for pk in ids]
    assert shown[0] is not None and shown[1] is None
