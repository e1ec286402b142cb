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
    """A payment was reversed and everything it moved given back; the payments posted after it
    on the debt were taken back and applied again (``reapplied_payment_ids``, in order). Ids
    and amounts only: the reason stays on the payment (it is free text)."""

    payment_id: int
    debt_id: int
    reference: str
    amount: str
    currency: str
    reapplied_payment_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class PaymentReapplied(CaseEvent):
    """A payment was applied again, as if ``reversed_payment_id`` (posted before it on the same
    debt) had never been made: its money moved to the oldest instalments still unpaid."""

    payment_id: int
    debt_id: int
    reversed_payment_id: int
