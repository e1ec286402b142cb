"""Events of plans and settlements in effect, recorded on their case (the timeline, the audit
trail and — completed or broken — the decisions feed). Amounts are decimal strings beside their
currency."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.cases.events import CaseEvent


@dataclass(frozen=True, slots=True)
class PlanPaymentCounted(CaseEvent):
    """Payments (or a reversal) changed what counts toward a plan or settlement in effect; a
    reversal can take a completed one back to ACTIVE (``previous_status`` COMPLETED)."""

    restructuring_id: int
    kind: str
    status: str
    previous_status: str
    paid_amount: str
    previous_paid_amount: str
    currency: str
    payments_in_row: int
    previous_payments_in_row: int


@dataclass(frozen=True, slots=True)
class RestructuringCompleted(CaseEvent):
    """A plan was paid in full, or a settlement its amount: ``discount`` is what the lender
    gives up (the concession approved: a settlement's balance − settlement amount, a plan's
    waiver), never a payment. ``settled_debts``: a settlement's debts now SETTLED, by id, with
    the status each had before (a reversal that takes the settlement back restores it).
    ``written_off_debts``: how many of them had been WRITTEN_OFF (a recovery settlement): the
    core books the discount against a balance already written off, not as a second loss."""

    restructuring_id: int
    kind: str
    paid: str
    discount: str
    currency: str
    settled_debts: dict[str, str]
    written_off_debts: int = 0


@dataclass(frozen=True, slots=True)
class RestructuringBroken(CaseEvent):
    """The daily run found a plan instalment, or a settlement, not paid by its last day (due
    date plus grace days) before ``broken_on``; the case is back on the core's schedule."""

    restructuring_id: int
    kind: str
    paid_amount: str
    currency: str
    broken_on: str  # the run's date (ISO)
    previous_stage: str | None
    stage: str


def summary(data: Mapping[str, object]) -> str | None:
    """The timeline's summary of a payment counted, a completion or a break (told apart by
    their own data keys), or None for another restructuring event."""
    kind, currency = data.get("kind"), data.get("currency")
    if "broken_on" in data:
        return (
            f"{kind} broken on {data.get('broken_on')}: not paid within its grace days "
            f"({data.get('paid_amount')} {currency} paid); back on the core's schedule"
        )
    if "discount" in data:
        if kind == "SETTLEMENT":
            text = (
                f"SETTLEMENT paid in full: {data.get('paid')} {currency} paid, "
                f"{data.get('discount')} {currency} discount"
            )
            if data.get("written_off_debts"):
                text += f"; a recovery: {data.get('written_off_debts')} written-off debt(s) settled"
            return text
        return f"{kind} completed: {data.get('paid')} {currency} paid"
    if "payments_in_row" in data:
        text = (
            f"{kind}: {data.get('paid_amount')} {currency} counted, "
            f"{data.get('payments_in_row')} plan payments in a row"
        )
        if data.get("previous_status") == "COMPLETED" and data.get("status") == "ACTIVE":
            text += "; back in effect after a reversal"
        return text
    return None
