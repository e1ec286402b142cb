"""postPayment's and reversePayment's use cases, and recording promises, against in-memory fakes
with a fixed clock: the order of refusals, the life cycle a payment moves (cure, pay in full,
reopen inside and after the watch window), and promises judged before they are superseded.

The clock stands at 1 June 2026, 12:00 in Shanghai (04:00 UTC): the retail portfolio's today.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.arrangements import services as arrangements
from domain.arrangements.ports import ContactCredit
from domain.arrangements.promises import PromiseStatus, evaluate
from domain.cases.classification import DEFAULT_POLICY
from domain.cases.model import Case, CaseStatus
from domain.clock import FixedClock
from domain.debts.model import Debt, Instalment, ProductType
from domain.errors import DomainError, ErrorCode
from domain.payments import services
from domain.payments.waterfall import DebtComponent
from domain.portfolios import local_date
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


def status_of(case: Case) -> CaseStatus:
    """The case's status now (a service call changes it behind mypy's narrowing)."""
    return CaseStatus(case.status)


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
        await post(uow, request(**overrides))  # type: ignore[arg-type]
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
        # A bounces on the watch window's last day, or the day after. B is applied again, to
        # the instalment due 40 days ago: the one due 10 days ago is unpaid (DPD 10 + days).
        await reverse(uow, first.payment.id, at=NOW + timedelta(days=days))
        assert (status_of(case) == CaseStatus.OPEN) is reopened, days
        assert case.days_past_due == 10 + days


# ---- reversing a payment that later payments followed ------------------------------------------

MARCH_1 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai: the portfolio's 1 March


def winter_case(principal: str = "3000.00") -> Case:
    """Case 1, debt 10: principal only, instalments of 1000.00 due 5 January, 5 February and
    5 March 2026 (ids 101-103); as of 1 March the oldest unpaid is 5 January: DPD 55 (M2)."""
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
            Instalment(n, due, D("1000.00"), D("0.00"), id=100 + n)
            for n, due in enumerate((date(2026, 1, 5), date(2026, 2, 5), date(2026, 3, 5)), 1)
        ],
        case_id=1,
        id=10,
    )
    case = Case("AR-1", 5, "retail", "CNY", date(2025, 1, 1), id=1, debts=[debt])
    case.reclassify(DEFAULT_POLICY, date(2026, 3, 1), MARCH_1 - timedelta(days=1))
    case.events.clear()
    return case


def credits(uow: FakeMoneyUnitOfWork, payment_id: int | None) -> list[tuple[int | None, str]]:
    """The stored credits of a payment by instalment id."""
    assert payment_id is not None
    return [
        (a.instalment_id, str(a.amount)) for a in uow.payments.applications[payment_id].instalments
    ]


async def test_reversing_an_older_payment_moves_the_later_ones_onto_the_oldest_instalments() -> (
    None
):
    # On 1 March A (1000.00) pays January: DPD 24 (5 February). B (1000.00) pays February:
    # DPD 0, CURED, CLOSED (1000.00 still owed for March). A bounces the same day: B is taken
    # back and applied again, to January (id 101); February is unpaid: DPD 24 (1 March - 5
    # February), M1, MILD, 2000.00 owed — not DPD 55 with January unpaid next to a paid
    # February. The case B closed reopens inside its watch window.
    case = winter_case()
    uow = FakeMoneyUnitOfWork([case])
    a = await post(uow, request("1000.00", reference="A", paid_at=MARCH_1), at=MARCH_1)
    assert case.days_past_due == 24
    b = await post(
        uow,
        request("1000.00", reference="B", paid_at=MARCH_1),
        at=MARCH_1 + timedelta(minutes=1),
    )
    assert (case.status, case.close_reason) == (CaseStatus.CLOSED, "CURED")
    assert credits(uow, b.payment.id) == [(102, "1000.00")]
    assert a.payment.id is not None and b.payment.id is not None
    uow.events.clear()
    await reverse(uow, a.payment.id, at=MARCH_1 + timedelta(hours=1))
    debt = case.debts[0]
    assert [str(i.amount_paid) for i in debt.instalments] == ["1000.00", "0.00", "0.00"]
    assert (case.days_past_due, case.bucket, case.classification) == (24, "M1", "MILD")
    assert (case.outstanding_amount, debt.principal) == (D("2000.00"), D("2000.00"))
    assert (case.status, case.close_reason) == (CaseStatus.OPEN, None)
    assert credits(uow, b.payment.id) == [(101, "1000.00")]
    assert not b.payment.reversed
    names = [e.name for e in uow.events]
    assert names[:2] == ["PaymentReversed", "PaymentReapplied"]
    assert uow.events[0].data()["reapplied_payment_ids"] == (b.payment.id,)
    assert uow.events[1].data() == {
        "payment_id": b.payment.id,
        "debt_id": 10,
        "reversed_payment_id": a.payment.id,
    }
    assert uow.commit_count == 3


async def test_credit_left_unapplied_pays_what_a_reversed_payment_had_paid() -> None:
    # A (3000.00) pays everything: PAID_IN_FULL, CLOSED. B (3000.00) is all UNAPPLIED credit.
    # A bounces: B applied again pays the three instalments and the principal; nothing is due
    # or owed (DPD 0, M0, 0.00) and the case stays CLOSED although A's posting closed it.
    case = winter_case()
    uow = FakeMoneyUnitOfWork([case])
    a = await post(uow, request("3000.00", reference="A", paid_at=MARCH_1), at=MARCH_1)
    assert (case.status, case.close_reason) == (CaseStatus.CLOSED, "PAID_IN_FULL")
    b = await post(
        uow, request("3000.00", reference="B", paid_at=MARCH_1), at=MARCH_1 + timedelta(minutes=1)
    )
    assert b.payment.id is not None and a.payment.id is not None
    assert uow.payments.applications[b.payment.id].unapplied == D("3000.00")
    await reverse(uow, a.payment.id, at=MARCH_1 + timedelta(hours=1))
    assert [str(i.amount_paid) for i in case.debts[0].instalments] == ["1000.00"] * 3
    assert (case.days_past_due, case.bucket, case.outstanding_amount) == (0, "M0", D("0.00"))
    assert (case.status, case.close_reason) == (CaseStatus.CLOSED, "PAID_IN_FULL")
    reapplied = uow.payments.applications[b.payment.id]
    assert (reapplied.to(DebtComponent.PRINCIPAL), reapplied.unapplied) == (D("3000.00"), D(0))
    assert credits(uow, b.payment.id) == [(101, "1000.00"), (102, "1000.00"), (103, "1000.00")]


async def test_reversing_the_newest_payment_reapplies_nothing() -> None:
    case = winter_case()
    uow = FakeMoneyUnitOfWork([case])
    await post(uow, request("1000.00", reference="A", paid_at=MARCH_1), at=MARCH_1)
    b = await post(uow, request("500.00", reference="B", paid_at=MARCH_1), at=MARCH_1)
    assert b.payment.id is not None
    uow.events.clear()
    await reverse(uow, b.payment.id, at=MARCH_1)
    assert [str(i.amount_paid) for i in case.debts[0].instalments] == ["1000.00", "0.00", "0.00"]
    assert "PaymentReapplied" not in [e.name for e in uow.events]
    assert uow.events[0].data()["reapplied_payment_ids"] == ()


async def test_reversed_payments_and_other_debts_are_not_reapplied() -> None:
    # Debt 10: A 1000.00, B 400.00 (reversed first), C 600.00. Debt 20 (another account on the
    # case): D 100.00. Reversing A re-applies C only: C pays 600.00 of January.
    case = winter_case()
    other = Debt(
        "ACC-20",
        ProductType.CREDIT_CARD,
        "CNY",
        principal=D("500.00"),
        interest=D("0.00"),
        penalty=D("0.00"),
        fee=D("0.00"),
        opened_on=date(2025, 1, 1),
        instalments=[Instalment(1, date(2026, 2, 20), D("500.00"), D("0.00"), id=201)],
        case_id=1,
        id=20,
    )
    case.debts.append(other)
    uow = FakeMoneyUnitOfWork([case])
    a = await post(uow, request("1000.00", reference="A", paid_at=MARCH_1), at=MARCH_1)
    b = await post(uow, request("400.00", reference="B", paid_at=MARCH_1), at=MARCH_1)
    c = await post(uow, request("600.00", reference="C", paid_at=MARCH_1), at=MARCH_1)
    await post(uow, request("100.00", reference="D", debt_id=20, paid_at=MARCH_1), at=MARCH_1)
    assert a.payment.id and b.payment.id and c.payment.id
    await reverse(uow, b.payment.id, at=MARCH_1)  # C moves onto February's first 400.00
    assert credits(uow, c.payment.id) == [(102, "600.00")]
    uow.events.clear()
    await reverse(uow, a.payment.id, at=MARCH_1)
    assert [str(i.amount_paid) for i in case.debts[0].instalments] == ["600.00", "0.00", "0.00"]
    assert credits(uow, c.payment.id) == [(101, "600.00")]
    assert str(other.instalments[0].amount_paid) == "100.00"
    assert uow.events[0].data()["reapplied_payment_ids"] == (c.payment.id,)
    # DPD 55 (January part unpaid) on debt 10, 9 on debt 20: the case takes the larger.
    assert case.days_past_due == 55


async def test_a_reversal_that_cannot_take_a_later_payment_back_changes_nothing() -> None:
    case = winter_case()
    uow = FakeMoneyUnitOfWork([case])
    a = await post(uow, request("1000.00", reference="A", paid_at=MARCH_1), at=MARCH_1)
    await post(uow, request("1000.00", reference="B", paid_at=MARCH_1), at=MARCH_1)
    assert a.payment.id is not None
    # The schedule changed under B (the core rewrote February's paid amount).
    case.debts[0].instalments[1].amount_paid = D("999.99")
    with pytest.raises(DomainError) as refused:
        await reverse(uow, a.payment.id, at=MARCH_1)
    assert refused.value.code == ErrorCode.APPLICATION_NOT_REVERSIBLE
    assert [str(i.amount_paid) for i in case.debts[0].instalments] == ["1000.00", "999.99", "0.00"]
    assert not a.payment.reversed and uow.commit_count == 2


async def test_only_the_payment_that_made_the_current_closure_reopens_the_case() -> None:
    # Instalments of 1000.00 due 40 days ago, in 20 days (21 June) and in 50 days; TODAY is
    # 1 June. A (1000.00) cures the case on 1 June: CLOSED, watched until 31 July.
    # 26 June: 21 June is 5 days past due; C (0.01) makes the balance move: REOPEN.
    # 27 June: B (999.99) clears June: CURED again, CLOSED at B's posting, watched until
    # 26 August. 30 August (after that window): A bounces. C and B are applied again to the
    # instalment due 40 days ago (0.01 + 999.99 = 1000.00); June and July are unpaid: DPD 70
    # (30 August - 21 June). A's posting closed the case once, but not this time: it stays
    # CLOSED (CURED, closed at B's posting). B bouncing instead reopens it.
    for bounced, reopened in (("A", False), ("B", True)):
        case = make_case((-40, "1000.00"), (20, "1000.00"), (50, "1000.00"))
        uow = FakeMoneyUnitOfWork([case])
        a = await post(uow, request("1000.00", reference="A"))
        assert (case.status, case.closed_at, a.payment.closed_case) == (
            CaseStatus.CLOSED,
            NOW,
            True,
        )
        june_26 = NOW + timedelta(days=25)
        await post(uow, request("0.01", reference="C", paid_at=june_26), at=june_26)
        assert (case.status, case.days_past_due) == (CaseStatus.OPEN, 5)
        june_27 = NOW + timedelta(days=26)
        b = await post(uow, request("999.99", reference="B", paid_at=june_27), at=june_27)
        assert (case.status, case.closed_at, case.watch_until) == (
            CaseStatus.CLOSED,
            june_27,
            date(2026, 8, 26),
        )
        target = a if bounced == "A" else b
        assert target.payment.id is not None
        await reverse(uow, target.payment.id, at=NOW + timedelta(days=90))
        assert (status_of(case) == CaseStatus.OPEN) is reopened, bounced
        assert case.days_past_due == 70
        if not reopened:
            assert (case.close_reason, case.closed_at) == ("CURED", june_27)


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


async def test_a_reversal_never_leaves_two_open_promises() -> None:
    # P1 (500.00, due in 5 days) is KEPT by 500.00 paid today; P2 (300.00) is recorded the
    # next day (P1 stays KEPT). The 500.00 bounces on day 2, inside P1's window: P1 is
    # SUPERSEDED by P2, not OPEN beside it.
    case = make_case((-40, "1000.00"))
    uow = FakeMoneyUnitOfWork([case])
    p1 = await arrangements.record_promise(uow.factory, FixedClock(NOW), promise_request())
    paid = await post(uow, request("500.00"))
    assert p1.status == PromiseStatus.KEPT
    tomorrow = NOW + timedelta(days=1)
    p2 = await arrangements.record_promise(
        uow.factory, FixedClock(tomorrow), promise_request("300.00", base=TODAY + timedelta(1))
    )
    assert (p1.status, p2.status) == (PromiseStatus.KEPT, PromiseStatus.OPEN)
    assert paid.payment.id is not None
    uow.events.clear()
    await reverse(uow, paid.payment.id, at=NOW + timedelta(days=2))
    assert (p1.status, p1.paid_amount) == (PromiseStatus.SUPERSEDED, D("0.00"))
    assert p1.resolved_at == NOW + timedelta(days=2)
    assert (p2.status, p2.paid_amount) == (PromiseStatus.OPEN, D("0.00"))
    evaluated = [e.data() for e in uow.events if e.name == "PromiseEvaluated"]
    assert [(e["promise_id"], e["status"], e["previous_status"]) for e in evaluated] == [
        (p1.id, "SUPERSEDED", "KEPT")
    ]


async def test_at_most_one_open_promise_after_any_record_pay_and_reverse() -> None:
    # Random sequences (seeded: the same every run) of promises, payments, reversals and days
    # passing; after each step a case has one OPEN promise at most, and after each step that
    # evaluated the promises, evaluating them again changes nothing.
    rng = random.Random(9)
    for _ in range(150):
        case = make_case((-40, "1000.00"), (20, "1000.00"), (50, "1000.00"))
        uow = FakeMoneyUnitOfWork([case])
        now = NOW
        for step in range(12):
            action = rng.choice(("promise", "promise", "pay", "pay", "reverse", "wait"))
            today = local_date("Asia/Shanghai", now)
            live = [p for p in uow.payments.by_id.values() if not p.reversed]
            evaluated = True
            try:
                if action == "promise":
                    amount = f"{rng.randint(1, 60) * 10}.00"
                    await arrangements.record_promise(
                        uow.factory,
                        FixedClock(now),
                        promise_request(amount, due_in=rng.randint(0, 6), base=today),
                    )
                elif action == "pay":
                    amount = f"{rng.randint(1, 40) * 10}.00"
                    await post(uow, request(amount, reference=f"R{step}", paid_at=now), at=now)
                elif action == "reverse" and live:
                    target = rng.choice(live)
                    assert target.id is not None
                    await reverse(uow, target.id, at=now)
                else:
                    now += timedelta(days=rng.randint(1, 4))  # (the daily cycle is not here)
                    evaluated = False
            except DomainError as error:  # a promise on a case a payment closed
                assert error.code == ErrorCode.CASE_CLOSED
                evaluated = False
            statuses = [p.status for p in uow.promises.all]
            assert statuses.count(PromiseStatus.OPEN) <= 1, statuses
            if evaluated:
                facts = await uow.promises.payment_facts(1, "Asia/Shanghai")
                assert evaluate(uow.promises.all, facts, today) == []


async def test_a_promise_is_credited_to_the_contact_it_came_from() -> None:
    contacts = {
        7: ContactCredit(1, 42, 3, blocked=False, completed=True),
        8: ContactCredit(2, 43, None, blocked=False, completed=True),
    }
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
    ("blocked", "completed", "code"),
    [
        (True, False, ErrorCode.CONTACT_BLOCKED),  # refused by a conduct rule: never happened
        (False, False, ErrorCode.CONTACT_NOT_COMPLETED),  # granted by startContact, no outcome
    ],
)
async def test_a_promise_needs_a_contact_that_took_place(
    blocked: bool, completed: bool, code: ErrorCode
) -> None:
    contacts = {7: ContactCredit(1, 42, 3, blocked=blocked, completed=completed)}
    uow = FakeMoneyUnitOfWork([make_case((-40, "1000.00"))], contacts)
    with pytest.raises(DomainError) as refused:
        await arrangements.record_promise(
            uow.factory, FixedClock(NOW), promise_request(contact_id=7)
        )
    assert (refused.value.code, refused.value.field) == (code, "contactId")
    assert uow.promises.all == [] and uow.commit_count == 0


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
