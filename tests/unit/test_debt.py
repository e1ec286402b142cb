"""Debts: days past due from the instalment schedule, and outstanding as exact Money."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.debts.model import (
    Debt,
    DebtStatus,
    Instalment,
    ProductType,
    days_past_due,
    oldest_unpaid_due_date,
)
from domain.money import Money

AS_OF = date(2026, 6, 30)

Schedule = list[tuple[date, str, str]]  # due date, amount due, amount paid

# Paid in full on 31 Mar, part-paid on 30 Apr, unpaid on 31 May, not yet due on 31 Jul.
MIXED: Schedule = [
    (date(2026, 3, 31), "100.00", "100.00"),
    (date(2026, 4, 30), "100.00", "40.00"),
    (date(2026, 5, 31), "100.00", "0"),
    (date(2026, 7, 31), "100.00", "0"),
]
DAYS_SINCE_30_APRIL = 61  # 30 Apr -> 30 Jun


def instalments(schedule: Schedule) -> list[Instalment]:
    return [
        Instalment(n, due, Decimal(amount), Decimal(paid))
        for n, (due, amount, paid) in enumerate(schedule, 1)
    ]


def make_debt(schedule: Schedule, **overrides: object) -> Debt:
    debt = Debt(
        account_number="6222-0001",
        product_type=ProductType.CONSUMER_LOAN,
        currency="CNY",
        principal=Decimal("1000.00"),
        interest=Decimal("50.10"),
        penalty=Decimal("10.20"),
        fee=Decimal("5.05"),
        opened_on=date(2025, 1, 1),
        instalments=instalments(schedule),
    )
    for name, value in overrides.items():
        setattr(debt, name, value)
    return debt


# --- instalments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "paid", "settled", "unpaid"),
    [
        ("100.00", "0", False, "100.00"),
        ("100.00", "99.99", False, "0.01"),
        ("100.00", "100.00", True, "0"),
        ("100.00", "120.00", True, "0"),
    ],
)
def test_instalment_settled_and_unpaid(due: str, paid: str, settled: bool, unpaid: str) -> None:
    instalment = Instalment(1, AS_OF, Decimal(due), Decimal(paid))
    assert instalment.is_settled is settled
    assert instalment.unpaid == Decimal(unpaid)


# --- oldest unpaid due date ---------------------------------------------------------------


def test_oldest_unpaid_skips_paid_and_counts_part_paid() -> None:
    assert make_debt(MIXED).oldest_unpaid_due_date(AS_OF) == date(2026, 4, 30)


def test_oldest_unpaid_ignores_future_due_dates() -> None:
    future_only: Schedule = [(date(2026, 7, 1), "100", "0"), (date(2026, 7, 31), "100", "0")]
    assert make_debt(future_only).oldest_unpaid_due_date(AS_OF) is None


def test_oldest_unpaid_includes_a_date_due_today() -> None:
    assert make_debt([(AS_OF, "100", "0")]).oldest_unpaid_due_date(AS_OF) == AS_OF


def test_oldest_unpaid_does_not_depend_on_schedule_order() -> None:
    shuffled = [MIXED[3], MIXED[2], MIXED[0], MIXED[1]]
    assert oldest_unpaid_due_date(instalments(shuffled), AS_OF) == date(2026, 4, 30)


# --- days past due ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        pytest.param(MIXED, DAYS_SINCE_30_APRIL, id="oldest-unpaid-is-part-paid"),
        pytest.param(MIXED[:1], 0, id="everything-paid"),
        pytest.param(MIXED[2:], 30, id="only-31-May-unpaid"),
        pytest.param(MIXED[3:], 0, id="only-future-dues"),
        pytest.param([], 0, id="no-schedule"),
        pytest.param([(AS_OF, "100", "0")], 0, id="due-today"),
        pytest.param([(date(2026, 6, 29), "100", "0")], 1, id="due-yesterday"),
        pytest.param([(date(2026, 6, 29), "100", "99.99")], 1, id="one-cent-short"),
        pytest.param([(date(2025, 6, 30), "100", "0")], 365, id="a-year"),
    ],
)
def test_days_past_due_from_the_oldest_unpaid_due_date(schedule: Schedule, expected: int) -> None:
    assert make_debt(schedule).days_past_due(AS_OF) == expected


def test_days_past_due_counts_calendar_days_across_a_leap_day() -> None:
    debt = make_debt([(date(2028, 2, 28), "100", "0")])
    assert debt.days_past_due(date(2028, 3, 1)) == 2


def test_days_past_due_grows_with_the_as_of_date() -> None:
    debt = make_debt(MIXED)
    assert [debt.days_past_due(date(2026, 6, d)) for d in (28, 29, 30)] == [59, 60, 61]


@pytest.mark.parametrize("paused", [0, 1, 61, 500])
def test_paused_days_never_change_days_past_due(paused: int) -> None:
    # DPD is contractual and never paused (DOMAIN.md): complaints and hardship pause the
    # collection clock, not DPD.
    assert make_debt(MIXED, paused_days=paused).days_past_due(AS_OF) == 61


def test_paused_days_do_not_matter_without_an_unpaid_due_date() -> None:
    assert make_debt(MIXED[:1], paused_days=5).days_past_due(AS_OF) == 0


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (DebtStatus.SETTLED, 0),
        (DebtStatus.CLOSED, 0),
        (DebtStatus.DELINQUENT, DAYS_SINCE_30_APRIL),
        (DebtStatus.RESTRUCTURED, DAYS_SINCE_30_APRIL),
        (DebtStatus.WRITTEN_OFF, DAYS_SINCE_30_APRIL),
    ],
)
def test_settled_and_closed_debts_are_not_past_due(status: DebtStatus, expected: int) -> None:
    assert make_debt(MIXED, status=status).days_past_due(AS_OF) == expected


def test_days_past_due_from_a_schedule_loaded_apart() -> None:
    debt = make_debt([])
    assert days_past_due(debt, instalments(MIXED), AS_OF) == DAYS_SINCE_30_APRIL
    assert debt.days_past_due(AS_OF) == 0
    assert days_past_due(make_debt([], status=DebtStatus.CLOSED), instalments(MIXED), AS_OF) == 0


# --- outstanding --------------------------------------------------------------------------


def test_outstanding_is_the_sum_of_the_components() -> None:
    debt = make_debt(MIXED)
    assert debt.outstanding == Money(Decimal("1065.35"), "CNY")
    assert str(debt.outstanding.amount) == "1065.35"


def test_components_are_money_in_the_debts_currency() -> None:
    debt = make_debt(MIXED, currency="USD")
    assert (debt.principal_money, debt.interest_money, debt.penalty_money, debt.fee_money) == (
        Money(Decimal("1000.00"), "USD"),
        Money(Decimal("50.10"), "USD"),
        Money(Decimal("10.20"), "USD"),
        Money(Decimal("5.05"), "USD"),
    )
    assert debt.outstanding.currency == "USD"


def test_outstanding_is_exact_where_floats_would_drift() -> None:
    debt = make_debt([], principal=Decimal("0.10"), interest=Decimal("0.20"))
    debt.penalty = debt.fee = Decimal(0)
    assert debt.outstanding.amount == Decimal("0.30")


def test_outstanding_of_a_zero_decimal_currency() -> None:
    debt = make_debt(
        [],
        currency="JPY",
        principal=Decimal(120000),
        interest=Decimal(3500),
        penalty=Decimal(0),
        fee=Decimal(550),
    )
    assert debt.outstanding == Money(Decimal(124050), "JPY")
    assert str(debt.outstanding) == "124050 JPY"
