"""The payment waterfall: oldest instalment first, components in configured order, exact cents.

Every example is worked by hand in its comment; the asserts hold the exact figures.
"""

from __future__ import annotations

from dataclasses import astuple
from datetime import date
from decimal import Decimal

import pytest

from domain.debts.model import Debt, Instalment, ProductType
from domain.errors import ErrorCode, InvalidInput
from domain.money import Money
from domain.payments.waterfall import (
    DEFAULT_WATERFALL,
    Application,
    ApplicationNotReversible,
    ComponentAllocation,
    DebtComponent,
    InstalmentAllocation,
    Waterfall,
    apply_payment,
    reverse_and_reapply,
    reverse_application,
)

D = Decimal
P, F, INT, PR, U = (
    DebtComponent.PENALTY,
    DebtComponent.FEE,
    DebtComponent.INTEREST,
    DebtComponent.PRINCIPAL,
    DebtComponent.UNAPPLIED,
)


def loan(*schedule: tuple[date, str, str], **balances: str) -> Debt:
    """A CNY loan: principal 3000.00, interest 150.00, penalty 45.50, fee 20.00 (3215.50)
    unless overridden, with the given (due date, amount due, amount paid) instalments."""
    figures = {"principal": "3000.00", "interest": "150.00", "penalty": "45.50", "fee": "20.00"}
    figures.update(balances)
    return Debt(
        account_number="6222-0001",
        product_type=ProductType.CONSUMER_LOAN,
        currency="CNY",
        principal=D(figures["principal"]),
        interest=D(figures["interest"]),
        penalty=D(figures["penalty"]),
        fee=D(figures["fee"]),
        opened_on=date(2026, 1, 1),
        instalments=[
            Instalment(n, due, D(amount), D(paid), id=100 + n)
            for n, (due, amount, paid) in enumerate(schedule, 1)
        ],
    )


# Three monthly instalments that add up to the outstanding: 1071.84 + 1071.83 + 1071.83 = 3215.50.
THREE = (
    (date(2026, 3, 15), "1071.84", "0.00"),
    (date(2026, 4, 15), "1071.83", "0.00"),
    (date(2026, 5, 15), "1071.83", "0.00"),
)


def state(debt: Debt) -> tuple[object, ...]:
    """Everything a payment may move on a debt, to compare before and after."""
    return (
        debt.principal,
        debt.interest,
        debt.penalty,
        debt.fee,
        tuple(astuple(i) for i in debt.instalments),
    )


def cny(amount: str) -> Money:
    return Money(D(amount), "CNY")


# --- hand-worked examples -----------------------------------------------------------------


def test_several_instalments_oldest_first_and_components_in_waterfall_order() -> None:
    # 1500.00 against 3215.50: penalty 45.50, fee 20.00, interest 150.00, then principal
    # 1500.00 - 215.50 = 1284.50 (3000.00 - 1284.50 = 1715.50 left). On the schedule: the
    # March instalment in full (1071.84), the April one with the rest, 1500.00 - 1071.84 = 428.16.
    debt = loan(*THREE)
    assert debt.days_past_due(date(2026, 5, 20)) == 66  # since 15 March

    application = apply_payment(debt, cny("1500.00"))

    assert application.components == (
        ComponentAllocation(P, D("45.50")),
        ComponentAllocation(F, D("20.00")),
        ComponentAllocation(INT, D("150.00")),
        ComponentAllocation(PR, D("1284.50")),
    )
    assert application.instalments == (
        InstalmentAllocation(1, D("1071.84"), 101),
        InstalmentAllocation(2, D("428.16"), 102),
    )
    assert sum(a.amount for a in application.components) == D("1500.00")
    assert (debt.penalty, debt.fee, debt.interest, debt.principal) == (
        D("0.00"),
        D("0.00"),
        D("0.00"),
        D("1715.50"),
    )
    assert debt.outstanding == cny("1715.50")
    assert [i.amount_paid for i in debt.instalments] == [D("1071.84"), D("428.16"), D("0.00")]
    assert debt.instalments[1].unpaid == D("643.67")
    assert debt.days_past_due(date(2026, 5, 20)) == 35  # since 15 April, still part-paid
    assert application.unapplied == D(0)
    assert application.applied == D("1500.00")
    assert application.waterfall_version == DEFAULT_WATERFALL.version


def test_a_part_paid_instalment_takes_only_what_it_still_owes() -> None:
    # March is part-paid (1000.00 of 1071.84): 100.00 settles its 71.84 and leaves 28.16 for April.
    debt = loan(
        (date(2026, 3, 15), "1071.84", "1000.00"),
        (date(2026, 4, 15), "1071.83", "0.00"),
        principal="2071.66",
        interest="0.00",
        penalty="0.00",
        fee="0.00",
    )
    application = apply_payment(debt, cny("100.00"))
    assert application.instalments == (
        InstalmentAllocation(1, D("71.84"), 101),
        InstalmentAllocation(2, D("28.16"), 102),
    )
    assert application.components == (ComponentAllocation(PR, D("100.00")),)
    assert debt.principal == D("1971.66")


def test_instalments_by_due_date_then_sequence_not_by_list_order() -> None:
    debt = loan(
        (date(2026, 4, 15), "100.00", "0.00"),  # sequence 1, due later
        (date(2026, 3, 15), "100.00", "0.00"),  # sequence 2, due first
        (date(2026, 3, 15), "100.00", "0.00"),  # sequence 3, same day as 2
    )
    application = apply_payment(debt, cny("150.00"))
    assert [(a.sequence, a.amount) for a in application.instalments] == [
        (2, D("100.00")),
        (3, D("50.00")),
    ]


def test_an_overpayment_leaves_the_excess_unapplied() -> None:
    # 4000.00 against 3215.50: every component cleared, every instalment settled (future ones
    # too), 4000.00 - 3215.50 = 784.50 left as a credit.
    debt = loan(*THREE)
    application = apply_payment(debt, cny("4000.00"))
    assert application.components == (
        ComponentAllocation(P, D("45.50")),
        ComponentAllocation(F, D("20.00")),
        ComponentAllocation(INT, D("150.00")),
        ComponentAllocation(PR, D("3000.00")),
        ComponentAllocation(U, D("784.50")),
    )
    assert application.unapplied == D("784.50")
    assert application.applied == D("3215.50")
    assert [i.amount_paid for i in debt.instalments] == [
        D("1071.84"),
        D("1071.83"),
        D("1071.83"),
    ]
    assert debt.outstanding == cny("0.00")
    assert debt.days_past_due(date(2026, 5, 20)) == 0


@pytest.mark.parametrize(
    ("amount", "unapplied"),
    [("3215.49", None), ("3215.50", None), ("3215.51", "0.01")],
)
def test_credit_starts_one_cent_above_the_outstanding(amount: str, unapplied: str | None) -> None:
    debt = loan(*THREE)
    application = apply_payment(debt, cny(amount))
    credit = [a.amount for a in application.components if a.component == U]
    assert credit == ([] if unapplied is None else [D(unapplied)])
    assert sum(a.amount for a in application.components) == D(amount)
    assert debt.outstanding == cny("0.01" if amount == "3215.49" else "0.00")


def test_a_debt_with_nothing_outstanding_takes_the_whole_payment_as_credit() -> None:
    debt = loan(principal="0.00", interest="0.00", penalty="0.00", fee="0.00")
    application = apply_payment(debt, cny("10.00"))
    assert application.components == (ComponentAllocation(U, D("10.00")),)
    assert application.instalments == ()


def test_a_schedule_smaller_than_the_balance_takes_only_what_it_owes() -> None:
    # The penalty and fee are not on the schedule: 300.00 reduces the components by 300.00 but
    # credits the one 200.00 instalment with 200.00 only.
    debt = loan((date(2026, 3, 15), "200.00", "0.00"), principal="1000.00")
    application = apply_payment(debt, cny("300.00"))
    assert application.instalments == (InstalmentAllocation(1, D("200.00"), 101),)
    assert application.applied == D("300.00")


def test_one_cent_goes_to_the_first_component_of_the_waterfall() -> None:
    debt = loan(*THREE)
    application = apply_payment(debt, cny("0.01"))
    assert application.components == (ComponentAllocation(P, D("0.01")),)
    assert debt.penalty == D("45.49")
    assert application.instalments == (InstalmentAllocation(1, D("0.01"), 101),)


def test_the_waterfall_is_configuration() -> None:
    principal_first = Waterfall("test", (PR, INT, F, P))
    debt = loan(*THREE)
    application = apply_payment(debt, cny("3100.00"), principal_first)
    assert application.components == (
        ComponentAllocation(PR, D("3000.00")),
        ComponentAllocation(INT, D("100.00")),
    )
    assert (debt.interest, debt.penalty, debt.fee) == (D("50.00"), D("45.50"), D("20.00"))
    assert application.waterfall_version == "test"


@pytest.mark.parametrize(
    "order",
    [(P, F, INT), (P, F, INT, PR, PR), (P, F, INT, PR, U), (P, F, INT, U)],
    ids=["missing", "twice", "unapplied", "unapplied-instead"],
)
def test_a_waterfall_must_order_each_balance_exactly_once(
    order: tuple[DebtComponent, ...],
) -> None:
    with pytest.raises(ValueError, match="exactly once"):
        Waterfall("bad", order)


# --- refusals change nothing --------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "code", "field"),
    [
        ("0.00", "CNY", ErrorCode.AMOUNT_NOT_POSITIVE, "amount"),
        ("-0.01", "CNY", ErrorCode.AMOUNT_NOT_POSITIVE, "amount"),
        ("0.001", "CNY", ErrorCode.AMOUNT_TOO_PRECISE, "amount"),
        ("100.005", "CNY", ErrorCode.AMOUNT_TOO_PRECISE, "amount"),
        ("100.00", "USD", ErrorCode.CURRENCY_MISMATCH, "currency"),
        ("NaN", "CNY", ErrorCode.INVALID_INPUT, "amount"),
        ("Infinity", "CNY", ErrorCode.INVALID_INPUT, "amount"),
        ("1000000000000000", "CNY", ErrorCode.AMOUNT_TOO_LARGE, "amount"),
    ],
)
def test_refused_payments_change_nothing(
    amount: str, currency: str, code: ErrorCode, field: str
) -> None:
    debt = loan(*THREE)
    before = state(debt)
    with pytest.raises(InvalidInput) as refused:
        # Money itself refuses a non-finite amount, so the raw value goes in through a stand-in.
        apply_payment(debt, _raw(amount, currency))
    assert refused.value.code == code
    assert refused.value.field == field
    assert state(debt) == before


def _raw(amount: str, currency: str) -> Money:
    money = Money(D("1"), currency)
    object.__setattr__(money, "amount", D(amount))
    return money


def test_trailing_zeros_are_the_same_money() -> None:
    debt = loan(*THREE)
    application = apply_payment(debt, cny("100.000"))
    assert application.amount == D("100.00")
    assert str(application.amount) == "100.00"


def test_currencies_without_minor_units_refuse_fractions() -> None:
    debt = loan(*THREE)
    debt.currency = "JPY"
    with pytest.raises(InvalidInput) as refused:
        apply_payment(debt, Money(D("1.5"), "JPY"))
    assert refused.value.code == ErrorCode.AMOUNT_TOO_PRECISE
    assert apply_payment(debt, Money(D("2"), "JPY")).amount == D("2")


# --- reversal -----------------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["0.01", "1071.84", "1500.00", "3215.50", "4000.00"])
def test_reversal_restores_the_debt_exactly(amount: str) -> None:
    debt = loan(*THREE)
    before = state(debt)
    application = apply_payment(debt, cny(amount))
    assert state(debt) != before
    reverse_application(debt, application)
    assert state(debt) == before
    assert debt.days_past_due(date(2026, 5, 20)) == 66


def test_reversing_the_first_of_two_payments_undoes_exactly_what_it_moved() -> None:
    # 1500.00 then 500.00. Reversing the first gives back what it took: 215.50 of costs and
    # interest, 1284.50 of principal, 1071.84 on March and 428.16 on April; the second payment
    # (500.00 of principal, 500.00 on April) stays where it went.
    debt = loan(*THREE)
    first = apply_payment(debt, cny("1500.00"))
    second = apply_payment(debt, cny("500.00"))
    assert second.instalments == (InstalmentAllocation(2, D("500.00"), 102),)
    reverse_application(debt, first)
    assert (debt.penalty, debt.fee, debt.interest, debt.principal) == (
        D("45.50"),
        D("20.00"),
        D("150.00"),
        D("2500.00"),
    )
    assert [i.amount_paid for i in debt.instalments] == [D("0.00"), D("500.00"), D("0.00")]
    reverse_application(debt, second)
    assert state(debt) == state(loan(*THREE))


def test_reversal_finds_instalments_by_sequence_when_their_ids_changed() -> None:
    debt = loan(*THREE)
    application = apply_payment(debt, cny("1500.00"))
    for instalment in debt.instalments:
        instalment.id = (instalment.id or 0) + 1000
    reverse_application(debt, application)
    assert [i.amount_paid for i in debt.instalments] == [D("0.00")] * 3


def test_a_reversal_the_schedule_no_longer_holds_is_refused_and_changes_nothing() -> None:
    debt = loan(*THREE)
    application = apply_payment(debt, cny("1500.00"))
    debt.instalments[1].amount_paid = D("428.15")  # one cent short of what the payment put in
    before = state(debt)
    with pytest.raises(ApplicationNotReversible) as refused:
        reverse_application(debt, application)
    assert refused.value.code == ErrorCode.APPLICATION_NOT_REVERSIBLE
    assert state(debt) == before


def test_a_reversal_needs_the_instalments_it_paid() -> None:
    debt = loan(*THREE)
    application = apply_payment(debt, cny("100.00"))
    debt.instalments = debt.instalments[1:]
    with pytest.raises(ApplicationNotReversible):
        reverse_application(debt, application)


def test_a_reversal_in_another_currency_is_refused() -> None:
    debt = loan(*THREE)
    foreign = Application("USD", D("1.00"), (ComponentAllocation(P, D("1.00")),), ())
    with pytest.raises(InvalidInput) as refused:
        reverse_application(debt, foreign)
    assert refused.value.code == ErrorCode.CURRENCY_MISMATCH
    assert debt.penalty == D("45.50")


def test_an_application_made_of_only_what_the_store_keeps_reverses_the_same() -> None:
    # What the store keeps (allocations by component, credits by instalment) is enough.
    debt = loan(*THREE)
    application = apply_payment(debt, cny("4000.00"))
    rebuilt = Application(
        "CNY",
        D("4000.00"),
        tuple(ComponentAllocation(a.component, a.amount) for a in application.components),
        tuple(
            InstalmentAllocation(a.sequence, a.amount, a.instalment_id)
            for a in application.instalments
        ),
    )
    reverse_application(debt, rebuilt)
    assert state(debt) == state(loan(*THREE))
    assert rebuilt.to(U) == D("784.50")
    assert rebuilt.to(PR) == D("3000.00")


def test_reversing_the_first_of_two_payments_reapplies_the_second_as_if_alone() -> None:
    # 1500.00 (A) then 500.00 (B: 500.00 of principal, 500.00 on April). A is reversed as if it
    # had never been made: B alone goes 45.50 to the penalty, 20.00 to the fee, 150.00 to
    # interest and 284.50 to principal (2715.50 left), and 500.00 on March (15 March still the
    # oldest unpaid: DPD 66 on 20 May) — not 500.00 on April with March unpaid.
    debt = loan(*THREE)
    first = apply_payment(debt, cny("1500.00"))
    second = apply_payment(debt, cny("500.00"))
    [again] = reverse_and_reapply(debt, first, [second])
    assert again.components == (
        ComponentAllocation(P, D("45.50")),
        ComponentAllocation(F, D("20.00")),
        ComponentAllocation(INT, D("150.00")),
        ComponentAllocation(PR, D("284.50")),
    )
    assert again.instalments == (InstalmentAllocation(1, D("500.00"), 101),)
    assert (debt.penalty, debt.fee, debt.interest, debt.principal) == (
        D("0.00"),
        D("0.00"),
        D("0.00"),
        D("2715.50"),
    )
    assert [i.amount_paid for i in debt.instalments] == [D("500.00"), D("0.00"), D("0.00")]
    assert debt.days_past_due(date(2026, 5, 20)) == 66
    # Reversing B in turn restores the loan exactly.
    reverse_application(debt, again)
    assert state(debt) == state(loan(*THREE))


def test_reapplication_keeps_the_order_of_the_later_payments() -> None:
    # A 1071.84 pays March; B 1000.00 and C 100.00 follow (April: 1000.00, then 71.83 and May
    # 28.17). Reversing A: B first takes the costs and interest (215.50) and 784.50 of
    # principal, and 1000.00 of March; C then 71.84 of March and 28.16 of April.
    debt = loan(*THREE)
    a = apply_payment(debt, cny("1071.84"))
    b = apply_payment(debt, cny("1000.00"))
    c = apply_payment(debt, cny("100.00"))
    again_b, again_c = reverse_and_reapply(debt, a, [b, c])
    assert again_b.instalments == (InstalmentAllocation(1, D("1000.00"), 101),)
    assert again_b.to(PR) == D("784.50")
    assert again_c.instalments == (
        InstalmentAllocation(1, D("71.84"), 101),
        InstalmentAllocation(2, D("28.16"), 102),
    )
    assert again_c.to(PR) == D("100.00")
    assert debt.principal == D("2115.50")  # 3000.00 - 784.50 - 100.00


def test_credit_above_the_balance_is_applied_once_the_reversed_payment_is_gone() -> None:
    # A 3215.50 pays everything; B 100.00 is all UNAPPLIED. Reversing A: B pays the penalty
    # (45.50), the fee (20.00), interest 34.50, and 100.00 of March.
    debt = loan(*THREE)
    a = apply_payment(debt, cny("3215.50"))
    b = apply_payment(debt, cny("100.00"))
    assert b.unapplied == D("100.00")
    [again] = reverse_and_reapply(debt, a, [b])
    assert again.unapplied == D("0")
    assert (again.to(P), again.to(F), again.to(INT)) == (D("45.50"), D("20.00"), D("34.50"))
    assert again.instalments == (InstalmentAllocation(1, D("100.00"), 101),)


def test_a_reapplication_the_schedule_no_longer_holds_is_refused_and_changes_nothing() -> None:
    # Taking B back works, then A cannot be taken back (March no longer holds its 1071.84):
    # B's undoing is undone too.
    debt = loan(*THREE)
    first = apply_payment(debt, cny("1500.00"))
    second = apply_payment(debt, cny("500.00"))
    debt.instalments[0].amount_paid = D("1071.83")
    before = state(debt)
    with pytest.raises(ApplicationNotReversible):
        reverse_and_reapply(debt, first, [second])
    assert state(debt) == before
