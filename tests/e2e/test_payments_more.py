"""postPayment and reversePayment over HTTP, the gaps of issue 9 that test_payments.py and
test_promises.py leave: a reversal restores *every* stored column a payment moved (not only
the figures), money is taken on a case on hold, a case of two debts takes its totals from both,
a payment posted late re-evaluates the promise whose window holds its (portfolio-local) date,
and concurrent requests — forced to race by a barrier in front of the domain service — post
once per idempotency key and grant the last contact attempt once (PostgreSQL).

Loans are made with ``payment_cases.make_loan``: schedules in days from the portfolio's today
(Asia/Shanghai), so that the expected DPD is exact whatever day the suite runs.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.contacts import services as contact_services
from domain.payments import services as payment_services
from domain.portfolios import start_of_day
from store import tables
from tests.conftest import PG_URL
from tests.e2e.contacts_support import START, midday_zone, past_contact, point, send
from tests.e2e.payment_cases import (
    POST,
    PROMISES,
    REVERSE,
    Loan,
    event_names,
    make_loan,
    money,
    payment_input,
    state,
    today,
)
from tests.factories import Factory, writing
from tests.helpers import Gql

needs_postgres = pytest.mark.skipif(
    not PG_URL, reason="a race needs PostgreSQL (SQLite serialises every writer anyway)"
)
c, d, i = tables.cases.c, tables.debts.c, tables.instalments.c


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


def ref() -> str:
    return f"TX-{uuid.uuid4().hex[:12]}"


async def post(gql: Gql, login: str, variables: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = (await gql(login, POST, variables))["r"]
    return result


async def reverse(gql: Gql, login: str, payment_gid: str) -> dict[str, Any]:
    variables = {"input": {"paymentId": payment_gid, "reason": "bounced"}}
    result: dict[str, Any] = (await gql(login, REVERSE, variables))["r"]
    assert result["__typename"] == "ReversePaymentSuccess", result
    return result


async def three_instalments(factory: Factory, engine: AsyncEngine, **shape: Any) -> Loan:
    """3215.50 CNY (penalty 45.50, fee 20.00, interest 150.00, principal 3000.00) in
    instalments of 1071.84, 1071.83, 1071.83 due 95, 65 and 35 days ago (DPD 95: M4)."""
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


async def rows(engine: AsyncEngine, loan: Loan) -> dict[str, Any]:
    """Every stored column of the loan's case, debt and instalments — all a payment can move —
    but the case's optimistic-lock counter (a reversal is a new change, not an undo)."""
    async with engine.connect() as conn:
        case = (await conn.execute(select(tables.cases).where(c.id == loan.case_id))).one()
        debt = (await conn.execute(select(tables.debts).where(d.id == loan.debt_id))).one()
        schedule = (
            await conn.execute(
                select(tables.instalments).where(i.debt_id == loan.debt_id).order_by(i.sequence)
            )
        ).all()
    return {
        "case": {k: v for k, v in case._asdict().items() if k != "version"},
        "debt": debt._asdict(),
        "instalments": [row._asdict() for row in schedule],
    }


# ---- a reversal restores every column ----------------------------------------------------------


async def test_reversing_an_overpayment_restores_every_column_it_moved(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # 4000.00 against 3215.50: everything paid, 784.50 UNAPPLIED, CLOSED PAID_IN_FULL (closed
    # now, watched 60 days). The reversal gives back every cent and every column: OPEN, DPD 95,
    # M4, SERIOUS, 3215.50, no close reason, no closed_at, no watch window; debt and schedule
    # exactly as before, to the column.
    loan = await three_instalments(factory, engine)
    before = await rows(engine, loan)
    posted = await post(gql, core, payment_input(loan, "4000.00", ref()))
    assert posted["payment"]["allocations"][-1] == {
        "component": "UNAPPLIED",
        "amount": money("784.50"),
    }
    moved = await rows(engine, loan)
    assert (moved["case"]["status"], moved["case"]["close_reason"]) == ("CLOSED", "PAID_IN_FULL")
    assert moved["case"]["closed_at"] is not None
    assert moved["case"]["watch_until"] == today() + timedelta(days=60)
    assert str(moved["case"]["outstanding_amount"]) == "0.00"
    result = await reverse(gql, core, posted["payment"]["id"])
    assert result["debt"]["outstanding"] == {"amount": "3215.50"}
    assert await rows(engine, loan) == before


async def test_reversing_a_cure_restores_every_column_it_moved(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # 2040.00 (penalty 30.00, fee 10.00, interest 100.00, principal 1900.00); 1000.00 due 40
    # days ago and 1000.00 in 20 days (DPD 40, M2). 1000.00 cures it (CLOSED, CURED); the
    # reversal restores every column.
    loan = await make_loan(
        factory,
        engine,
        schedule=[(-40, "1000.00"), (20, "1000.00")],
        principal="1900.00",
        interest="100.00",
        penalty="30.00",
        fee="10.00",
    )
    before = await rows(engine, loan)
    posted = await post(gql, core, payment_input(loan, "1000.00", ref()))
    assert (posted["case"]["status"], posted["case"]["closeReason"]) == ("CLOSED", "CURED")
    await reverse(gql, core, posted["payment"]["id"])
    assert await rows(engine, loan) == before


async def test_reversing_every_payment_newest_or_oldest_first_restores_every_column(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # A 1071.84 (costs, interest, 856.34 principal; the first instalment), B 1071.83 (the
    # second), C 0.01 (the third): DPD 35 and 1071.82 owed. Reversed oldest first (each
    # reversal re-applies the later ones) or newest first: the loan is back to the column.
    for order in ("oldest", "newest"):
        loan = await three_instalments(factory, engine)
        before = await rows(engine, loan)
        amounts = ("1071.84", "1071.83", "0.01")
        paid = [await post(gql, core, payment_input(loan, x, ref())) for x in amounts]
        assert (paid[-1]["case"]["daysPastDue"], paid[-1]["case"]["totalOutstanding"]) == (
            35,
            money("1071.82"),
        )
        assert [str(x) for x in (await state(engine, loan))["paid"]] == [
            "1071.84",
            "1071.83",
            "0.01",
        ]
        for p in paid if order == "oldest" else reversed(paid):
            await reverse(gql, core, p["payment"]["id"])
        assert await rows(engine, loan) == before, order


# ---- money is never refused ----------------------------------------------------------------------


async def test_a_case_on_hold_takes_a_payment_and_its_figures_move(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # On hold (a complaint, say): the money is still taken and applied. 1500.00 as in
    # test_payments: DPD 65, M3, MODERATE, 1715.50 owed; the case stays ON_HOLD.
    loan = await three_instalments(factory, engine, status="ON_HOLD")
    result = await post(gql, core, payment_input(loan, "1500.00", ref()))
    assert result["__typename"] == "PostPaymentSuccess", result
    assert result["case"] == {
        "id": loan.case_gid,
        "status": "ON_HOLD",
        "closeReason": None,
        "watchUntil": None,
        "daysPastDue": 65,
        "bucket": "M3",
        "classification": "MODERATE",
        "totalOutstanding": money("1715.50"),
    }


async def test_a_payment_with_trailing_zeros_is_the_same_money_and_the_same_retry(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # "1500.000" is 1500.00 (accepted, stored and answered with two places); a retry under the
    # key sending "1500.00" is the same input and gets the first answer.
    loan = await three_instalments(factory, engine)
    variables = payment_input(loan, "1500.000", ref(), idempotencyKey=str(uuid.uuid4()))
    first = await post(gql, core, variables)
    assert first["payment"]["amount"] == money("1500.00")
    assert first["debt"]["outstanding"] == {"amount": "1715.50"}
    again = await post(gql, core, {"input": {**variables["input"], "amount": "1500.00"}})
    assert again == first
    async with engine.connect() as conn:
        count = select(func.count()).where(tables.payments.c.case_id == loan.case_id)
        assert (await conn.execute(count)).scalar_one() == 1


# ---- a case of two debts -----------------------------------------------------------------------


async def test_a_payment_on_one_debt_of_two_moves_that_debt_and_the_case_totals(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # Debt 1: principal 2000.00, 1000.00 due 40 days ago and 1000.00 due 10 days ago. Debt 2
    # (added here): principal 700.00, interest 25.25, one instalment of 725.25 due 20 days ago.
    # The case: DPD 40, 2725.25 owed. 1000.00 on debt 1 pays its oldest instalment: debt 1 is
    # 10 days past due, the case takes the larger DPD (debt 2's 20: M1, MILD) and its
    # outstanding falls by exactly 1000.00 (1725.25); debt 2 is untouched. Debt 2 paid next,
    # by account number (interest 25.25, principal 700.00): the case is at debt 1's DPD 10,
    # 1000.00 owed, still OPEN.
    loan = await make_loan(
        factory, engine, schedule=[(-40, "1000.00"), (-10, "1000.00")], principal="2000.00"
    )
    async with writing(engine) as conn:
        second = await conn.execute(
            insert(tables.debts).values(
                case_id=loan.case_id,
                borrower_id=loan.made.borrower.id,
                account_number=f"ACC-{uuid.uuid4().hex[:10]}",
                product_type="CREDIT_CARD",
                currency="CNY",
                principal=Decimal("700.00"),
                interest=Decimal("25.25"),
                penalty=Decimal("0.00"),
                fee=Decimal("0.00"),
                opened_on=today() - timedelta(days=400),
                status="DELINQUENT",
            )
        )
        assert second.inserted_primary_key is not None
        other_id = int(second.inserted_primary_key[0])
        await conn.execute(
            insert(tables.instalments).values(
                debt_id=other_id,
                sequence=1,
                due_date=today() - timedelta(days=20),
                amount_due=Decimal("725.25"),
                amount_paid=Decimal("0.00"),
            )
        )
    async with engine.connect() as conn:
        other_before = (await conn.execute(select(tables.debts).where(d.id == other_id))).one()
    result = await post(gql, core, payment_input(loan, "1000.00", ref()))
    assert result["__typename"] == "PostPaymentSuccess", result
    assert result["debt"]["outstanding"] == {"amount": "1000.00"}
    assert (
        result["case"]["daysPastDue"],
        result["case"]["bucket"],
        result["case"]["classification"],
        result["case"]["totalOutstanding"],
    ) == (20, "M1", "MILD", money("1725.25"))
    async with engine.connect() as conn:
        other_after = (await conn.execute(select(tables.debts).where(d.id == other_id))).one()
        other_paid = (
            await conn.execute(select(i.amount_paid).where(i.debt_id == other_id))
        ).scalar_one()
    assert other_after == other_before and str(other_paid) == "0.00"
    variables = payment_input(loan, "725.25", ref())
    del variables["input"]["debtId"]
    variables["input"]["accountNumber"] = other_before.account_number
    cleared = await post(gql, core, variables)
    assert cleared["payment"]["allocations"] == [
        {"component": "INTEREST", "amount": money("25.25")},
        {"component": "PRINCIPAL", "amount": money("700.00")},
    ]
    assert cleared["debt"]["outstanding"] == {"amount": "0.00"}
    assert (cleared["case"]["status"], cleared["case"]["daysPastDue"]) == ("OPEN", 10)
    assert cleared["case"]["totalOutstanding"] == money("1000.00")


# ---- a payment posted late re-evaluates the promise whose window holds its date --------------


async def lapsed_promise(engine: AsyncEngine, loan: Loan, status: str = "BROKEN") -> int:
    """A 500.00 promise made 10 days ago, due 6 days ago, 3 grace days: its window ended
    3 days ago (the last day a payment counts), and the daily cycle judged it ``status``."""
    async with writing(engine) as conn:
        made_on = today() - timedelta(days=10)
        result = await conn.execute(
            insert(tables.promises).values(
                case_id=loan.case_id,
                amount=Decimal("500.00"),
                currency="CNY",
                promised_on=made_on,
                due_date=today() - timedelta(days=6),
                grace_days=3,
                status=status,
                paid_amount=Decimal("0.00"),
                created_at=start_of_day("retail", made_on) + timedelta(hours=10),
                resolved_at=start_of_day("retail", today() - timedelta(days=2)),
                version=1,
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])


def last_instant_of_the_window() -> str:
    """23:59:59 in Shanghai on the promise's last day (3 days ago), as UTC: 15:59:59Z."""
    return (start_of_day("retail", today() - timedelta(days=2)) - timedelta(seconds=1)).isoformat()


def first_instant_after_the_window() -> str:
    """00:00 in Shanghai the day after the promise's last day, as UTC (16:00Z)."""
    return start_of_day("retail", today() - timedelta(days=2)).isoformat()


async def promise_states(gql: Gql, loan: Loan) -> list[tuple[str, str]]:
    found = (await gql("manager", PROMISES, {"id": loan.case_gid}))["r"]["promises"]
    return [(p["status"], p["paidAmount"]["amount"]) for p in found]


async def loan_for_promises(factory: Factory, engine: AsyncEngine) -> Loan:
    return await make_loan(
        factory,
        engine,
        schedule=[(-40, "1000.00"), (-10, "1000.00"), (20, "1000.00")],
        principal="3000.00",
        assignee="collector1",
    )


async def test_a_late_posted_payment_inside_the_window_keeps_a_broken_promise(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # Paid at 23:59:59 local time on the last day of grace, posted today: the BROKEN promise is
    # KEPT (500.00). Its reversal, after the window, breaks it again.
    loan = await loan_for_promises(factory, engine)
    await lapsed_promise(engine, loan)
    posted = await post(
        gql, core, payment_input(loan, "500.00", ref(), paidAt=last_instant_of_the_window())
    )
    assert posted["__typename"] == "PostPaymentSuccess", posted
    assert await promise_states(gql, loan) == [("KEPT", "500.00")]
    assert "PromiseEvaluated" in await event_names(engine, loan.case_id)
    await reverse(gql, core, posted["payment"]["id"])
    assert await promise_states(gql, loan) == [("BROKEN", "0.00")]


async def test_a_late_posted_part_payment_turns_a_broken_promise_partially_kept(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    loan = await loan_for_promises(factory, engine)
    await lapsed_promise(engine, loan)
    await post(gql, core, payment_input(loan, "499.99", ref(), paidAt=last_instant_of_the_window()))
    assert await promise_states(gql, loan) == [("PARTIALLY_KEPT", "499.99")]


async def test_a_late_posted_payment_after_the_window_touches_no_promise(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    # One second later — 00:00 local on the day after the last day of grace — it counts for
    # nothing: the promise stays BROKEN and no promise event is recorded.
    loan = await loan_for_promises(factory, engine)
    await lapsed_promise(engine, loan)
    posted = await post(
        gql, core, payment_input(loan, "500.00", ref(), paidAt=first_instant_after_the_window())
    )
    assert posted["__typename"] == "PostPaymentSuccess", posted
    assert await promise_states(gql, loan) == [("BROKEN", "0.00")]
    assert "PromiseEvaluated" not in await event_names(engine, loan.case_id)


# ---- concurrent requests, forced to race (PostgreSQL) ------------------------------------------


def barrier_before(
    monkeypatch: pytest.MonkeyPatch, module: Any, name: str, parties: int
) -> list[int]:
    """Holds every call of ``module.name`` until ``parties`` calls have arrived, then lets them
    all run: each request has passed its idempotency check and none has yet touched the
    database in the service. Returns the list that counts the arrivals. A call still waiting
    after 10 seconds fails its request (the calls did not overlap), and with it the test."""
    real: Callable[..., Awaitable[Any]] = getattr(module, name)
    arrived: list[int] = []
    all_in = asyncio.Event()

    async def held(*args: Any, **kwargs: Any) -> Any:
        arrived.append(len(arrived))
        if len(arrived) >= parties:
            all_in.set()
        await asyncio.wait_for(all_in.wait(), timeout=10)
        return await real(*args, **kwargs)

    monkeypatch.setattr(module, name, held)
    return arrived


@needs_postgres
@pytest.mark.parametrize("round_", range(3))
async def test_retries_that_all_reach_the_service_at_once_post_once(
    gql: Gql,
    engine: AsyncEngine,
    factory: Factory,
    core: str,
    monkeypatch: pytest.MonkeyPatch,
    round_: int,
) -> None:
    """Four identical keyed requests (a caller may run four at once), every one let into the
    payment service together: one posts, the other three find the case locked, then the
    reference taken, and answer with the first one's result. Nothing is applied twice."""
    loan = await three_instalments(factory, engine)
    key = str(uuid.uuid4())
    variables = payment_input(loan, "1500.00", ref(), idempotencyKey=key)
    arrived = barrier_before(monkeypatch, payment_services, "post_payment", 4)
    results = await asyncio.gather(*(post(gql, core, variables) for _ in range(4)))
    assert len(arrived) == 4, round_  # every request raced into the service
    assert {r["__typename"] for r in results} == {"PostPaymentSuccess"}, results
    assert all(r == results[0] for r in results)
    stored = await state(engine, loan)
    assert stored["payments"] == [(variables["input"]["reference"], False)]
    assert [str(x) for x in stored["paid"]] == ["1071.84", "428.16", "0.00"]
    assert [str(x) for x in stored["components"]] == ["0.00", "0.00", "0.00", "1715.50"]
    assert stored["case"][3:] == (65, "M3", "MODERATE", Decimal("1715.50"))
    k = tables.idempotency_keys.c
    async with engine.connect() as conn:
        claims = (await conn.execute(select(k.operation).where(k.key == key))).scalars().all()
    assert claims == ["payment.post"]


@needs_postgres
@pytest.mark.parametrize("round_", range(3))
async def test_one_key_raced_for_two_debts_posts_one_and_refuses_the_other(
    gql: Gql,
    engine: AsyncEngine,
    factory: Factory,
    core: str,
    monkeypatch: pytest.MonkeyPatch,
    round_: int,
) -> None:
    """One key, two different inputs (two debts on two cases: no case lock serialises them),
    sent at once: the key's claim decides. One posts; the other is IDEMPOTENCY_KEY_REUSED and
    its debt, case and payments are exactly as before."""
    loans = [await three_instalments(factory, engine) for _ in range(2)]
    before = [await rows(engine, loan) for loan in loans]
    key = str(uuid.uuid4())
    arrived = barrier_before(monkeypatch, payment_services, "post_payment", 2)
    results = await asyncio.gather(
        *(
            post(gql, core, payment_input(loan, "100.00", ref(), idempotencyKey=key))
            for loan in loans
        )
    )
    assert len(arrived) == 2, round_
    kinds = sorted(r["__typename"] for r in results)
    assert kinds[0] == "PostPaymentSuccess" and kinds[1] != "PostPaymentSuccess", results
    loser = next(n for n, r in enumerate(results) if r["__typename"] != "PostPaymentSuccess")
    assert (results[loser]["code"], results[loser]["field"]) == (
        "IDEMPOTENCY_KEY_REUSED",
        "idempotencyKey",
    )
    assert await rows(engine, loans[loser]) == before[loser]
    assert (await state(engine, loans[loser]))["payments"] == []
    assert await event_names(engine, loans[loser].case_id) == []
    winner = loans[1 - loser]
    assert (await rows(engine, winner))["debt"]["penalty"] == Decimal("0.00")


@needs_postgres
@pytest.mark.parametrize("round_", range(3))
async def test_six_agents_let_in_at_once_for_the_last_attempt_get_one(
    gql: Gql,
    engine: AsyncEngine,
    factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
    round_: int,
) -> None:
    """As test_contacts_race, but every request is held in front of the contact service until
    all six have arrived, so that none can have counted another's attempt before it starts:
    exactly one is granted, five are refused (DAILY_ATTEMPTS), six attempts in all today."""
    zone = midday_zone()
    borrower = await factory.borrower(time_zone=zone)
    made = await factory.case(borrower=borrower, agency="Acme Recovery")
    other = await factory.case(borrower=borrower, agency="Acme Recovery", portfolio="retail-2")
    phone = await point(factory, borrower.id, zone=zone)
    now = datetime.now(UTC)
    for minutes in range(1, 6):
        await past_contact(factory, made.case, now - timedelta(minutes=minutes), point_id=phone.id)
    arrived = barrier_before(monkeypatch, contact_services, "start_contact", 6)
    logins = ["acme.agent1", "acme.manager"] * 3
    cases = [made, other, other, made, made, other]
    results = await asyncio.gather(
        *(
            send(gql, login, START, {"input": {"caseId": case.gid, "channel": "PHONE"}})
            for login, case in zip(logins, cases, strict=True)
        )
    )
    assert len(arrived) == 6, round_
    kinds = sorted(r["__typename"] for r, _ in results)
    assert kinds == ["ComplianceViolation"] * 5 + ["StartContactSuccess"], results
    assert {r["rule"] for r, _ in results if r["__typename"] == "ComplianceViolation"} == {
        "DAILY_ATTEMPTS"
    }
    ct = tables.contacts.c
    async with engine.connect() as conn:
        both = ct.case_id.in_([made.case.id, other.case.id])
        granted = (
            await conn.execute(select(func.count()).where(both, ct.blocked.is_(False)))
        ).scalar_one()
    assert granted == 6
