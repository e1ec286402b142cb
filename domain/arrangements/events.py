"""Events of promises to pay, recorded on their case (the timeline and the audit trail)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.cases.events import CaseEvent


@dataclass(frozen=True, slots=True)
class PromiseRecorded(CaseEvent):
    """A promise was made; ``staff_id``/``agency_id`` are who it is credited to."""

    promise_id: int
    amount: str  # a decimal string: event data is JSON
    currency: str
    due_date: date
    contact_id: int | None
    staff_id: int | None
    agency_id: int | None


@dataclass(frozen=True, slots=True)
class PromiseSuperseded(CaseEvent):
    promise_id: int
    by_promise_id: int


@dataclass(frozen=True, slots=True)
class PromiseEvaluated(CaseEvent):
    """Payments (or their reversal, or the passing of its window) changed a promise."""

    promise_id: int
    status: str
    previous_status: str
    paid_amount: str
    previous_paid_amount: str
