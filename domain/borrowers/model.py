"""Borrowers: the people who owe, with their confidential personal data."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# Fields that are personal data and masked by default wherever they leave the system.
CONFIDENTIAL_FIELDS = ("national_id", "phone", "email", "address", "employer", "income")


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
