"""Payments: money received for a debt, applied provisionally until the core's feed books it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


class PaymentSource(enum.StrEnum):
    API = "API"  # posted through postPayment (by the core banking system or a manager)
    FEED = "FEED"  # the core's daily feed


@dataclass(eq=False)
class Payment:
    """One payment of an amount for a debt (on its case), identified by its ``reference``.

    How it was applied is kept apart (``waterfall.Application``), so that a reversal can give
    back exactly what it moved."""

    case_id: int
    debt_id: int
    amount: Decimal
    currency: str
    paid_at: datetime
    reference: str
    source: PaymentSource = PaymentSource.API
    posted_by: int | None = None
    created_at: datetime | None = None
    reversed: bool = False
    reversed_at: datetime | None = None
    reversed_by: int | None = None
    reversal_reason: str | None = None
    closed_case: bool = False  # its posting closed the case (cured or paid in full)
    recovery: bool = False  # received while the case was WRITTEN_OFF (a recovery)
    idempotency_key: str | None = None
    version: int = 1
    id: int | None = None
