"""Borrowers: the people who owe, with their confidential personal data."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal


class ConfidentialField(enum.StrEnum):
    """The borrower's personal data, masked by default wherever it leaves the system.

    The one list: masking rules, reveal permissions (``borrower:reveal:<value>``), the GraphQL
    ``ConfidentialField`` enum and the ``Borrower`` fields that show them all derive from it."""

    NATIONAL_ID = "national_id"
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"
    EMPLOYER = "employer"
    INCOME = "income"


class RevealReason(enum.StrEnum):
    """Why a clear value is needed; recorded in the audit trail with the reveal."""

    CONTACT_BORROWER = "CONTACT_BORROWER"
    IDENTITY_VERIFICATION = "IDENTITY_VERIFICATION"
    LEGAL_PROCEEDINGS = "LEGAL_PROCEEDINGS"
    COMPLAINT_HANDLING = "COMPLAINT_HANDLING"
    DISPUTE_RESOLUTION = "DISPUTE_RESOLUTION"


@dataclass(eq=False)
class Borrower:
    """A person who owes; every field but the name and time zone is confidential."""

    full_name: str
    national_id: str
    phone: str
    email: str
    address: str
    city: str
    district: str
    employer: str
    income: Decimal
    income_currency: str = "CNY"
    time_zone: str = "Asia/Shanghai"
    id: int | None = None

    def value_of(self, field: ConfidentialField) -> str:
        """Returns a confidential field's clear value as text (for masking or a reveal only)."""
        if field is ConfidentialField.INCOME:
            return f"{self.income} {self.income_currency}"
        value: str = getattr(self, field.value)
        return value
