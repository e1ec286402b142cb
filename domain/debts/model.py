"""Debts: one overdue obligation with its components and instalment schedule."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from domain.money import Money


class ProductType(enum.StrEnum):
    CREDIT_CARD = "CREDIT_CARD"
    CONSUMER_LOAN = "CONSUMER_LOAN"
    MORTGAGE = "MORTGAGE"
    AUTO_LOAN = "AUTO_LOAN"


class DebtStatus(enum.StrEnum):
    CURRENT = "CURRENT"
    DELINQUENT = "DELINQUENT"
    RESTRUCTURED = "RESTRUCTURED"
    SETTLED = "SETTLED"
    WRITTEN_OFF = "WRITTEN_OFF"
    CLOSED = "CLOSED"


@dataclass(eq=False)
class Instalment:
    """One scheduled payment: what was due on a date and how much of it has been paid."""

    sequence: int
    due_date: date
    amount_due: Decimal
    amount_paid: Decimal = Decimal(0)
    id: int | None = None

    @property
    def is_settled(self) -> bool:
        return self.amount_paid >= self.amount_due

    @property
    def unpaid(self) -> Decimal:
        return max(self.amount_due - self.amount_paid, Decimal(0))


@dataclass(eq=False)
class Debt:
    """An obligation owed by a borrower; amounts share the debt's currency."""

    account_number: str
    product_type: ProductType
    currency: str
    principal: Decimal
    interest: Decimal
    penalty: Decimal
    fee: Decimal
    opened_on: date
    status: DebtStatus = DebtStatus.DELINQUENT
    # Days the collection clock stood still (complaints, hardship); DPD is never paused.
    paused_days: int = 0
    instalments: list[Instalment] = field(default_factory=list)
    borrower_id: int | None = None
    case_id: int | None = None
    id: int | None = None
    # The core banking system's own days past due as of ``core_dpd_as_of`` (the feed's), if it
    # sent one: ``domain.debts.ageing.aged_days_past_due`` weighs it against the schedule.
    core_dpd: int | None = None
    core_dpd_as_of: date | None = None

    def _money(self, amount: Decimal) -> Money:
        return Money(amount, self.currency)

    @property
    def principal_money(self) -> Money:
        return self._money(self.principal)

    @property
    def interest_money(self) -> Money:
        return self._money(self.interest)

    @property
    def penalty_money(self) -> Money:
        return self._money(self.penalty)

    @property
    def fee_money(self) -> Money:
        return self._money(self.fee)

    @property
    def outstanding(self) -> Money:
        """Returns principal + interest + penalty + fee still owed."""
        return self._money(self.principal + self.interest + self.penalty + self.fee)

    def oldest_unpaid_due_date(self, as_of: date) -> date | None:
        """Returns the earliest due date on or before ``as_of`` that is not fully paid."""
        return oldest_unpaid_due_date(self.instalments, as_of)

    def days_past_due(self, as_of: date) -> int:
        """Returns days since the oldest unpaid due date (0 without one); never paused."""
        return days_past_due(self, self.instalments, as_of)


def oldest_unpaid_due_date(instalments: Iterable[Instalment], as_of: date) -> date | None:
    """Returns the earliest due date on or before ``as_of`` that is not fully paid."""
    unpaid = [i.due_date for i in instalments if not i.is_settled and i.due_date <= as_of]
    return min(unpaid) if unpaid else None


def days_past_due(debt: Debt, instalments: Iterable[Instalment], as_of: date) -> int:
    """Returns a debt's DPD from its schedule (which may be loaded apart from the debt)."""
    if debt.status in (DebtStatus.SETTLED, DebtStatus.CLOSED):
        return 0
    oldest = oldest_unpaid_due_date(instalments, as_of)
    if oldest is None:
        return 0
    # Contractual: a paused collection clock (``paused_days``) does not stop DPD.
    return (as_of - oldest).days
