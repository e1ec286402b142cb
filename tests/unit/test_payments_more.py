"""Gaps of issue 9 in the payment and promise rules, against the pure functions and the in-memory
fakes: a configured waterfall also governs the re-application after a reversal (and the event
says which version applied), the oldest instalment is settled first under any waterfall, and
the promise window follows the policy's grace days.

The clock stands at 1 June 2026, 12:00 in Shanghai (04:00 UTC): the retail portfolio's today.
"""

from __future__ import annotations

from dataclasses import astuple
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from domain.arrangements import services as arrangements
from domain.arrangements.promises import PromisePolicy, PromiseStatus
from domain.cases.classification import DEFAULT_POLICY
from domain.cases.model import Case
from domain.clock import FixedClock
from domain.debts.model import Debt, Instalment, ProductType
from domain.money import Money
from domain.payments import services
from domain.payments.waterfall import (
    ComponentAllocation,
    DebtComponent,
    InstalmentAllocation,
    Waterfall,
    apply_payment,
    reverse_and_reapply,
)
from tests.unit.money_fakes import FakeMoneyUnitOfWork

D = Decimal
NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
TODAY = date(2026, 6, 1)
P, F, INT, PR, U = (
    DebtComponent.PENALTY,
    DebtComponent.FEE,
    DebtComponent.INTEREST,
    DebtComponent.PRINCIPAL,
    DebtComponent.UNAPPLIED,
)
PRINCIPAL_FIRST = Waterfall("principal-first", (PR, INT, F, P))


def debt(case_id: int | None = None) -> Debt:
    """Debt 10 (CNY): principal 1000.00, interest 60.00, penalty 25.00, fee 15.00 (1100.00), in
    two instalments of 550.00 due 1 April and 1 May 2026 (ids 101, 102)."""
    return Debt(
        "ACC-10",
        ProductType.CONSUMER_LOAN,
        "CNY",
        principal=D("1000.00"),
        interest=D("60.00"),
        penalty=D("25.00"),
        fee=D("15.00"),
        opened_on=date(2025, 1, 1),
        instalments=[
            Instalment(1, date(2026, 4, 1), D("550.00"), D("0.00"), id=101),
            Instalment(2, date(2026, 5, 1), D("550.00"), D("0.00"), id=102),
        ],
        case_id=case_id,
        id=10,
    )


def figures(loan: Debt) -> tuple[object, ...]:
    return (
        loan.penalty,
        loan.fee,
        loan.interest,
        loan.principal,
        tuple(astuple(i) for i in loan.instalments),
    )


def cny(amount: str) -> Money:
    return Money(D(amount), "CNY")


def test_a_reversal_reapplies_the_later_payments_by_the_configured_waterfall() -> None:
    # Principal first. A 600.00: principal 600.00 (400.00 left); April in full (550.00), May
    # 50.00. B 500.00: principal 400.00, interest 60.00, fee 15.00, penalty 25.00 (nothing
    # left); May's other 500.00. A bounces: B, applied again as if alone, goes principal
    # first — 500.00 of principal (500.00 left, costs and interest untouched) — and to April
    # (the oldest instalment) 500.00, May nothing. Reversing B as well restores the loan.
    loan = debt()
    before = figures(loan)
    a = apply_payment(loan, cny("600.00"), PRINCIPAL_FIRST)
    b = apply_payment(loan, cny("500.00"), PRINCIPAL_FIRST)
    assert b.components == (
        ComponentAllocation(PR, D("400.00")),
        ComponentAllocation(INT, D("60.00")),
        ComponentAllocation(F, D("15.00")),
        ComponentAllocation(P, D("25.00")),
    )
    assert b.instalments == (InstalmentAllocation(2, D("500.00"), 102),)
    (b_again,) = reverse_and_reapply(loan, a, [b], PRINCIPAL_FIRST)
    assert b_again.components == (ComponentAllocation(PR, D("500.00")),)
    assert b_again.instalments == (InstalmentAllocation(1, D("500.00"), 101),)
    assert b_again.waterfall_version == "principal-first"
    assert (loan.penalty, loan.fee, loan.interest, loan.principal) == (
        D("25.00"),
        D("15.00"),
        D("60.00"),
        D("500.00"),
    )
    assert [i.amount_paid for i in loan.instalments] == [D("500.00"), D("0.00")]
    reverse_and_reapply(loan, b_again, [], PRINCIPAL_FIRST)
    assert figures(loan) == before


def test_the_default_waterfall_reapplies_costs_first_after_a_reversal() -> None:
    # The same payments under the default (penalty, fee, interest, principal). A 600.00: 25.00,
    # 15.00, 60.00, principal 500.00; April, May 50.00. B 500.00: principal 500.00; May 500.00.
    # A bounces: B again pays penalty 25.00, fee 15.00, interest 60.00, principal 400.00, and
    # April 500.00.
    loan = debt()
    a = apply_payment(loan, cny("600.00"))
    b = apply_payment(loan, cny("500.00"))
    assert b.components == (ComponentAllocation(PR, D("500.00")),)
    (b_again,) = reverse_and_reapply(loan, a, [b])
    assert b_again.components == (
        ComponentAllocation(P, D("25.00")),
        ComponentAllocation(F, D("15.00")),
        ComponentAllocation(INT, D("60.00")),
        ComponentAllocation(PR, D("400.00")),
    )
    assert b_again.instalments == (InstalmentAllocation(1, D("500.00"), 101),)
    assert loan.principal == D("600.00")


def test_an_overpayment_under_a_configured_waterfall_leaves_the_same_credit() -> None:
    # 1200.00 against 1100.00, principal first: every balance cleared in that order, 100.00
    # UNAPPLIED, both instalments settled.
    loan = debt()
    application = apply_payment(loan, cny("1200.00"), PRINCIPAL_FIRST)
    assert application.components == (
        ComponentAllocation(PR, D("1000.00")),
        ComponentAllocation(INT, D("60.00")),
        ComponentAllocation(F, D("15.00")),
        ComponentAllocation(P, D("25.00")),
        ComponentAllocation(U, D("100.00")),
    )
    assert [i.amount_paid for i in loan.instalments] == [D("550.00"), D("550.00")]


def make_case() -> Case:
    case = Case("AR-1", 5, "retail", "CNY", date(2025, 1, 1), id=1, debts=[debt(case_id=1)])
    case.reclassify(DEFAULT_POLICY, TODAY, NOW - timedelta(days=1))  # DPD 61 (1 April)
    case.events.clear()
    return case


def request(amount: str, reference: str, paid_at: datetime = NOW) -> services.PaymentRequest:
    return services.PaymentRequest(
        debt_id=10,
        account_number=None,
        amount=D(amount),
        currency="CNY",
        paid_at=paid_at - timedelta(hours=1),
        reference=reference,
        actor_id=9,
    )


async def test_the_service_posts_and_reverses_by_the_waterfall_it_is_given() -> None:
    # The case is 61 days past due (April unpaid), M3. A 600.00 principal first pays April:
    # DPD 31 (May), M2. B 500.00. A reversed with the same waterfall: B pays 500.00 of April
    # (50.00 short): DPD 61, M3, and 600.00 owed (1100.00 - 500.00).
    case = make_case()
    assert (case.days_past_due, case.bucket) == (61, "M3")
    uow = FakeMoneyUnitOfWork([case])
    clock = FixedClock(NOW)
    a = await services.post_payment(
        uow.factory, clock, request("600.00", "A"), waterfall=PRINCIPAL_FIRST
    )
    posted = uow.events[0].data()
    assert posted["allocations"] == {"PRINCIPAL": "600.00"}
    assert posted["waterfall_version"] == "principal-first"
    assert (case.days_past_due, case.bucket, case.classification) == (31, "M2", "MODERATE")
    b = await services.post_payment(
        uow.factory, clock, request("500.00", "B"), waterfall=PRINCIPAL_FIRST
    )
    assert a.payment.id is not None and b.payment.id is not None
    await services.reverse_payment(
        uow.factory, clock, a.payment.id, "bounced", 9, waterfall=PRINCIPAL_FIRST
    )
    reapplied = uow.payments.applications[b.payment.id]
    assert reapplied.components == (ComponentAllocation(PR, D("500.00")),)
    assert [(x.instalment_id, x.amount) for x in reapplied.instalments] == [(101, D("500.00"))]
    assert (case.days_past_due, case.bucket, case.classification) == (61, "M3", "MODERATE")
    assert case.outstanding_amount == D("600.00")


async def test_the_promise_window_follows_the_policys_grace_days() -> None:
    # A promise of 100.00 due 3 June, recorded with 0 grace days: a payment on 3 June (local)
    # counts, one on 4 June does not, and on 4 June the promise is judged BROKEN (PARTIALLY_KEPT
    # had the 3 June payment been short).
    for paid_on, expected in ((date(2026, 6, 3), PromiseStatus.KEPT), (date(2026, 6, 4), None)):
        case = make_case()
        uow = FakeMoneyUnitOfWork([case])
        promise = await arrangements.record_promise(
            uow.factory,
            FixedClock(NOW),
            arrangements.PromiseRequest(1, D("100.00"), "CNY", date(2026, 6, 3), None, 9, None),
            policy=PromisePolicy(grace_days=0),
        )
        assert promise.grace_days == 0 and promise.last_day == date(2026, 6, 3)
        # 12:00 in Shanghai on that day (04:00 UTC), posted the same day.
        at = datetime(paid_on.year, paid_on.month, paid_on.day, 5, 0, tzinfo=UTC)
        await services.post_payment(uow.factory, FixedClock(at), request("100.00", "P", at))
        if expected is None:
            assert (promise.status, promise.paid_amount) == (PromiseStatus.BROKEN, D(0))
        else:
            assert (promise.status, promise.paid_amount) == (expected, D("100.00"))
