"""Events of payments, recorded on their case (the timeline and the audit trail)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.cases.events import CaseEvent


@dataclass(frozen=True, slots=True)
class PaymentPosted(CaseEvent):
    """A payment was applied; ``allocations``: component → amount (decimal strings, JSON), by
    the waterfall of ``waterfall_version``."""

    payment_id: int
    debt_id: int
    reference: str
    amount: str
    currency: str
    paid_at: datetime
    allocations: dict[str, str]
    waterfall_version: str


@dataclass(frozen=True, slots=True)
class PaymentReversed(CaseEvent):
    """A payment was reversed and everything it moved given back (the reason stays on the
    payment: it is free text)."""

    payment_id: int
    debt_id: int
    reference: str
    amount: str
    currency: str
