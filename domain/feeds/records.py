"""The records of the core banking feed (CONTRACT.md, "Daily cycle"), typed and checked.

Each record remembers where it came from (``Where``: file and line) so that an error report and
the rejects file can name it. Amounts are exact Decimals; nothing here is a float.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


class RecordType(enum.StrEnum):
    """The ``type`` of a feed line (and the name of its CSV file, ``<type>.csv``)."""

    HEADER = "header"
    BORROWER = "borrower"
    CONTACT_POINT = "contactPoint"
    DEBT = "debt"
    PAYMENT = "payment"
    PAYMENT_REVERSAL = "paymentReversal"
    CHARGE_OFF = "chargeOff"
    LOAN_BOOK = "loanBook"
    COST = "cost"


@dataclass(frozen=True, slots=True)
class Where:
    """A line of a feed file (1-based; in a CSV file the column header is line 1)."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of one row: where, which field (a dotted path), and what is wrong. The
    problem never repeats the value (it may be personal data)."""

    where: Where
    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.problem}"


@dataclass(frozen=True, slots=True)
class Header:
    where: Where
    as_of: date
    source: str


@dataclass(frozen=True, slots=True)
class BorrowerRecord:
    where: Where
    external_id: str
    full_name: str
    national_id: str
    phone: str
    email: str
    address: str
    city: str
    district: str
    employer: str
    income: Decimal
    currency: str
    time_zone: str


@dataclass(frozen=True, slots=True)
class ContactPointRecord:
    where: Where
    borrower_external_id: str
    kind: str
    value: str
    owner: str
    status: str
    time_zone: str | None


@dataclass(frozen=True, slots=True)
class InstalmentRecord:
    where: Where
    sequence: int
    due_date: date
    amount_due: Decimal
    amount_paid: Decimal


@dataclass(frozen=True, slots=True)
class DebtRecord:
    where: Where
    account_number: str
    borrower_external_id: str
    portfolio: str
    product_type: str
    currency: str
    principal: Decimal
    interest: Decimal
    penalty: Decimal
    fee: Decimal
    opened_on: date
    days_past_due: int | None
    instalments: tuple[InstalmentRecord, ...]


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    where: Where
    account_number: str
    reference: str
    amount: Decimal
    currency: str
    paid_at: datetime


@dataclass(frozen=True, slots=True)
class PaymentReversalRecord:
    where: Where
    reference: str
    reason: str


@dataclass(frozen=True, slots=True)
class ChargeOffRecord:
    where: Where
    account_number: str
    date: date
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class LoanBookRecord:
    where: Where
    date: date
    portfolio: str
    product_type: str
    currency: str
    principal: Decimal


@dataclass(frozen=True, slots=True)
class CostRecord:
    where: Where
    date: date
    portfolio: str
    category: str
    currency: str
    amount: Decimal


Record = (
    BorrowerRecord
    | ContactPointRecord
    | DebtRecord
    | PaymentRecord
    | PaymentReversalRecord
    | ChargeOffRecord
    | LoanBookRecord
    | CostRecord
)


def schedule_days_past_due(instalments: tuple[InstalmentRecord, ...], as_of: date) -> int:
    """Returns days since the oldest instalment due before ``as_of`` that is not fully paid
    (0 without one): an instalment due on ``as_of`` itself is not yet past due."""
    unpaid = [
        i.due_date for i in instalments if i.amount_paid < i.amount_due and i.due_date < as_of
    ]
    return (as_of - min(unpaid)).days if unpaid else 0


def days_past_due(debt: DebtRecord, as_of: date) -> int:
    """Returns a debt's DPD as of the feed's date: the core's own where it sent one, else the
    schedule's."""
    if debt.days_past_due is not None:
        return debt.days_past_due
    return schedule_days_past_due(debt.instalments, as_of)
