"""postPayment's and reversePayment's use cases, and recording promises, against in-memory fakes
with a fixed clock: the order of refusals, the life cycle a payment moves (cure, pay in full,
reopen inside and after the watch window), and promises judged before they are superseded.

The clock stands at 1 June 2026, 12:00 in Shanghai (04:00 UTC): the retail portfolio's today.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.arrangements import services as arrangements
from domain.arrangements.ports import ContactCredit
from domain.arrangements.promises import PromiseStatus
from domain.cases.classification import DEFAULT_POLICY
from domain.cases.model import Case, CaseStatus
from domain.clock import FixedClock
from domain.debts.model import Debt, Instalment, ProductType
from domain.errors import DomainError, ErrorCode
from domain.payments import services
from tests.unit.money_fakes import FakeMoneyUnitOfWork

D = Decimal
NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
TODAY = date(2026, 6, 1)
ACTOR = 9


def make_case(*schedule: tuple[int, str], principal: str = "3000.00", **fields: object) -> Case:
    """Case 1 with debt 10 (CNY, principal only) and instalments due ``days`` from TODAY."""
    debt = Debt(
        "ACC-10",
        ProductType.CONSUMER_LOAN,
        "CNY",
        principal=D(principal),
        interest=D("0.00"),
        penalty=D("0.00"),
        fee=D("0.00"),
        opened_on=date(2025, 1, 1),
        instalments=[
            Instalment(n, TODAY + timedelta(days=days), D(amount), D("0.00"), id=100 + n)
            for n, (days, amount) in enumerate(schedule, 1)
        ],
        case_id=1,
        id=10,
    )
    case = Case("AR-1", 5, "retail", "CNY", date(2025, 1, 1), id=1, debts=[debt], **fields)  # type: ignore[arg-type]
    case.reclassify(DEFAULT_POLICY, TODAY, NOW - timedelta(days=1))  # as stored yesterday
    case.events.clear()
    return case


def request(amount: str = "1000.00", **overrides: object) -> services.PaymentRequest:
    values: dict[str, object] = {
        "debt_id": 10,
        "account_number": None,
        "amount": D(amount),
        "currency": "CNY",
        "paid_at": NOW - timedelta(hours=1),
        "reference": f"TX-{amount}",
        "actor_id": ACTOR,
    }
    values.update(overrides)
    return services.PaymentRequest(**values)  # type: ignore[arg-type]


async def post(
    uow: FakeMoneyUnitOfWork, req: services.PaymentRequest, at: datetime = NOW
) -> services.PaymentResult:
    return await services.post_payment(uow.factory, FixedClock(at), req)


async def reverse(
    uow: FakeMoneyUnitOfWork, payment_id: int, at: datetime = NOW, reason: str = "bounced"
) -> services.PaymentResult:
    return await services.reverse_payment(uow.factory, FixedClock(at), payment_id, reason, ACTOR)


# ---- posting ------------------------------------------------------------------------------------


async def test_a_payment_moves_the_debt_and_the_case_and_commits_once() -> None:
    case = make_case((-40, "1000.00"), (-10, "1000.00"), (20, "1000.00"))
    uow = FakeMoneyUnitOfWork([case])
    result = await post(uow, request("1000.00"))
    assert result.case is case and result.debt is case.debts[0]
    assert (case.days_past_due, case.bucket, case.classification) == (10, "M1", "MILD")
    assert case.outstanding_amount == D("2000.00")
    assert result.payment.id == 1 and result.payment.created_at == NOW
    assert [e.name for e in uow.events] == ["PaymentPosted", "CaseReclassified"]
    assert uow.events[0].data()["allocations"] == {"PRINCIPAL": "1000.00"}
    assert uow.commit_count == 1


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"currency": "USD"}, ErrorCode.CURRENCY_MISMATCH, "currency"),
        ({"amount": D("0.00")}, ErrorCode.AMOUNT_NOT_POSITIVE, "amount"),
        ({"amount": D("0.005")}, ErrorCode.AMOUNT_TOO_PRECISE, "amount"),
        ({"debt_id": 11}, ErrorCode.DEBT_NOT_FOUND, "debtId"),
        ({"debt_id": None, "account_number": "nope"}, ErrorCode.DEBT_NOT_FOUND, "accountNumber"),
        ({"account_number": "ACC-10"}, ErrorCode.INVALID_INPUT, "debtId"),
        ({"debt_id": None}, ErrorCode.INVALID_INPUT, "debtId"),
        ({"reference": " "}, ErrorCode.INVALID_INPUT, "reference"),
        ({"reference": "R" * 65}, ErrorCode.INVALID_INPUT, "reference"),
        ({"paid_at": datetime(2026, 6, 1, 3, 0)}, ErrorCode.PAYMENT_DATE_INVALID, "paidAt"),
        (
            {"paid_at": NOW + timedelta(minutes=5, microseconds=1)},
            ErrorCode.PAYMENT_DATE_INVALID,
            "paidAt",
        ),
    ],
)
async def test_refusals_change_nothing(
    overrides: dict[str, object], code: ErrorCode, field: str
) -> None:
    case = make_case((-40, "1000.00"))
    uow = FakeMoneyUnitOfWork([case])
    with pytest.raises(DomainError) as refused:
        await post(uow, request(**overrides))
    assert (refused.value.code, refused.value.field) == (code, field)
    assert case.debts[0].principal == D("3000.00") and uow.payments.by_id == {}
    assert uow.commit_count == 0


@pytest.mark.parametrize(
    ("reference", "paid_at"),
    [("R" * 64, NOW + timedelta(minutes=5)), ("  TX-1  ", NOW - timedelta(days=900))],
)
async def test_boundaries_that_are_accepted(reference: str, paid_at: datetime) -> None:
    uow = FakeMoneyUnitOfWork([make_case((-40, "1000.00"))])
    result = await post(uow, request(reference=reference, paid_at=paid_at))
    assert result.payment.reference == reference.strip()


async def test_a_duplicate_reference_is_refused() -> None:
    uow = FakeMoneyUnitOfWork([make_case((-40, "1000.00"))])
    await post(uow, request("10.00", reference="TX-1"))
    with pytest.raises(DomainError) as refused:
        await post(uow, request("20.00", reference="TX-1"))
    assert refused.value.code == ErrorCode.PAYMENT_REFERENCE_DUPLICATE
    assert uow.commit_count == 1


# ---- the life cycle -----------------------------------------------------------------------------


async def test_clearing_the_arrears_cures_and_paying_everything_pays_in_full() -> None:
    cured = make_case((-40, "1000.00"), (20, "1000.00"), principal="2000.00")
    uow = FakeMoneyUnitOfWork([cured])
    await post(uow, request("1000.00"))
    assert (cured.status, cured.close_reason) == (CaseStatus.CLOSED, "CURED")
    assert cured.watch_until == TODAY + timedelta(days=60)
    assert cured.closed_at == NOW
    paid = make_case((-40, "1000.00"), (20, "1000.00"), principal="2000.00")
    uow = FakeMoneyUnitOfWork([paid])
    await post(uow, request("2000.00"))
    assert (paid.status, paid.close_reason) == (CaseStatus.CLOSED, "PAID_IN_FULL")


async def test_a_payment_on_a_current_case_closes_nothing() -> None:
    case = make_case((20, "1000.00"))
    uow = FakeMoneyUnitOfWork([case])
    await post(uow, request("1000.00"))
    assert case.status == CaseStatus.OPEN
    assert [e.name for e in uow.events] == ["PaymentPosted"]


async def test_reversing_the_closing_payment_reopens_even_after_the_watch_window() -> None:
    case = make_case((-40, "1000.00"), (20, "1000.00"), principal="2000.00")
    uow = FakeMoneyUnitOfWork([case])
    posted = await post(uow, request("1000.00"))
    assert posted.payment.id is not None
    later = NOW + timedelta(days=90)  # 30 days after the watch window ended
    await reverse(uow, posted.payment.id, at=later)
    assert (case.status, case.close_reason, case.watch_until) == (CaseStatus.OPEN, None, None)
    assert case.days_past_due == 130


async def test_a_new_default_reopens_inside_the_watch_window_only() -> None:
    for days, reopened in ((60, True), (61, False)):
        case = make_case((-40, "1000.00"), (-10, "1000.00"), (20, "1000.00"))
        uow = FakeMoneyUnitOfWork([case])
        first = await post(uow, request("1000.00", reference="A"))
        # B, a minute later, closes the case: CURED.
        await post(uow, request("1000.00", reference="B"), at=NOW + timedelta(minutes=1))
        assert case.status == CaseStatus.CLOSED
        assert first.payment.id is not None
        # A bounces on the watch window's last day, or the day after.
        await reverse(uow, first.payment.id, at=NOW + timedelta(days=days))
        assert (case.status == CaseStatus.OPEN) is reopened, days
        assert case.days_past_due == 40 + days


async def test_reversing_twice_is_refused() -> None:
    uow = FakeMoneyUnitOfWork([make_case((-40, "1000.00"))])
    posted = await post(uow, request("10.00"))
    assert posted.payment.id is not None
    await reverse(uow, posted.payment.id)
    with pytest.raises(DomainError) as refused:
        await reverse(uow, posted.payment.id)
    assert (refused.value.code, refused.value.field) == (
        ErrorCode.PAYMENT_ALREADY_REVERSED,
        "paymentId",
    )
    with pytest.raises(DomainError) as missing:
        await reverse(uow, 99)
    assert missing.value.code == ErrorCode.PAYMENT_NOT_FOUND
    for reason, code in ((" ", ErrorCode.REASON_REQUIRED), ("x" * 501, ErrorCode.REASON_TOO_LONG)):
        with pytest.raises(DomainError) as bad:
            await reverse(uow, posted.payment.id, reason=reason)
        assert (bad.value.code, bad.value.field) == (code, "reason")
    assert uow.commit_count == 2


# ---- promises -----------------------------------------------------------------------------------


def promise_request(
    amount: str = "500.00", due_in: int = 5, contact_id: int | None = None, base: date = TODAY
) -> arrangements.PromiseRequest:
    return arrangements.PromiseRequest(
        case_id=1,
        amount=D(amount),
        currency="CNY",
        due_date=base + timedelta(days=due_in),
        contact_id=contact_id,
        actor_id=ACTOR,
        actor_agency_id=None,
    )


async def test_payments_keep_a_promise_and_a_late_reversal_breaks_it() -> None:
    case = make_case((-40, "1000.00"))
    uow = FakeMoneyUnitOfWork([case])
    promise = await arrangements.record_promise(uow.factory, FixedClock(NOW), promise_request())
    posted = await post(uow, request("500.00"))
    assert (promise.status, promise.paid_amount) == (PromiseStatus.KEPT, D("500.00"))
    assert promise.resolved_at == NOW
    assert posted.payment.id is not None
    # Reversed on day 9 (after 5 days + 3 of grace): nothing counts and the window is over.
    later = NOW + timedelta(days=9)
    await reverse(uow, posted.payment.id, at=later)
    assert (promise.status, promise.paid_amount) == (PromiseStatus.BROKEN, D("0.00"))
    assert promise.resolved_at == later


async def test_a_lapsed_promise_is_judged_not_superseded_by_the_next_one() -> None:
    case = make_case((-40, "1000.00"))
    uow = FakeMoneyUnitOfWork([case])
    old = await arrangements.record_promise(uow.factory, FixedClock(NOW), promise_request())
    await post(uow, request("100.00"))
    # Eight days on (due date + grace has just passed), the borrower promises again.
    later = FixedClock(NOW + timedelta(days=9))
    nine = TODAY + timedelta(days=9)
    new = await arrangements.record_promise(
        uow.factory, later, promise_request("300.00", base=nine)
    )
    assert (old.status, old.paid_amount) == (PromiseStatus.PARTIALLY_KEPT, D("100.00"))
    assert (new.status, new.promised_on) == (PromiseStatus.OPEN, nine)
    # Recorded again inside the window, the open one is superseded instead.
    newer = await arrangements.record_promise(
        uow.factory, later, promise_request("200.00", base=nine)
    )
    assert (new.status, newer.status) == (PromiseStatus.SUPERSEDED, PromiseStatus.OPEN)


async def test_a_promise_is_credited_to_the_contact_it_came_from() -> None:
    contacts = {7: ContactCredit(1, 42, 3), 8: ContactCredit(2, 43, None)}
    uow = FakeMoneyUnitOfWork([make_case((-40, "1000.00"))], contacts)
    clock = FixedClock(NOW)
    promise = await arrangements.record_promise(uow.factory, clock, promise_request(contact_id=7))
    assert (promise.staff_id, promise.agency_id, promise.contact_id) == (42, 3, 7)
    for other in (8, 9):  # a contact on another case, and none at all
        with pytest.raises(DomainError) as refused:
            await arrangements.record_promise(uow.factory, clock, promise_request(contact_id=other))
        assert (refused.value.code, refused.value.field) == (
            ErrorCode.PROMISE_CONTACT_INVALID,
            "contactId",
        )


@pytest.mark.parametrize(
    ("status", "code"),
    [(CaseStatus.CLOSED, ErrorCode.CASE_CLOSED), (CaseStatus.ON_HOLD, ErrorCode.CASE_ON_HOLD)],
)
async def test_no_promise_on_a_case_that_may_not_be_worked(
    status: CaseStatus, code: ErrorCode
) -> None:
    uow = FakeMoneyUnitOfWork([make_case((-40, "1000.00"), status=status)])
    with pytest.raises(DomainError) as refused:
        await arrangements.record_promise(uow.factory, FixedClock(NOW), promise_request())
    assert refused.value.code == code
    assert uow.promises.all == [] and uow.commit_count == 0
