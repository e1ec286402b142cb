"""Events of restructuring work: case events (the timeline, the audit trail, the decisions feed).

Their data holds ids, codes, dates and amounts (decimal strings beside their currency). The
maker's or checker's stated reason is free text: it rides on the event as ``reason_text`` for
the audit entry (who proposed, who decided, and why) and stays out of ``data()``, so that the
timeline and the decisions feed never see it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from domain.cases.events import CaseEvent
from domain.money import Money


@dataclass(frozen=True, slots=True)
class RestructuringProposed(CaseEvent):
    restructuring_id: int
    kind: str
    status: str  # PROPOSED
    currency: str
    balance: str
    concession: str
    cumulative_concession: str  # this one and those granted within the period
    settlement_amount: str | None
    settle_by: str | None
    waiver_amount: str | None
    instalment_count: int
    instalment_total: str | None
    required_authority: str
    limits_version: str
    reason_text: str

    def data(self) -> dict[str, object]:
        """The event's data without the free-text reason (see the module's docstring)."""
        data = CaseEvent.data(self)
        data.pop("reason_text", None)
        return data


@dataclass(frozen=True, slots=True)
class RestructuringApproved(CaseEvent):
    """Approved by the event's actor (never the maker, ``proposed_by``) under ``authority``;
    ``schedule`` lists a plan's instalments as ``due-date=amount`` separated by commas, and
    ``waived`` what a waiver took off each debt's penalty (debt id → amount)."""

    restructuring_id: int
    kind: str
    status: str  # ACTIVE (a plan or settlement) or APPROVED (a waiver, applied)
    currency: str
    balance: str
    concession: str
    cumulative_concession: str
    settlement_amount: str | None
    settle_by: str | None
    waiver_amount: str | None
    instalment_count: int
    instalment_total: str | None
    schedule: str | None
    waived: dict[str, str]
    grace_days: int
    previous_stage: str | None
    proposed_by: int
    required_authority: str
    authority: str  # the approver's role whose limits covered it
    limits_version: str
    policy_version: str
    reason_text: str  # the proposal's reason

    def data(self) -> dict[str, object]:
        data = CaseEvent.data(self)
        data.pop("reason_text", None)
        return data


@dataclass(frozen=True, slots=True)
class RestructuringRejected(CaseEvent):
    restructuring_id: int
    kind: str
    status: str  # REJECTED
    proposed_by: int
    authority: str  # the checker's role whose limits cover it (as for an approval)
    limits_version: str
    reason_text: str  # the checker's reason

    def data(self) -> dict[str, object]:
        data = CaseEvent.data(self)
        data.pop("reason_text", None)
        return data


def _money(data: Mapping[str, object], key: str) -> str:
    return str(Money(Decimal(str(data.get(key) or "0")), str(data.get("currency") or "XXX")))


def _terms(data: Mapping[str, object]) -> str:
    kind = data.get("kind")
    if kind == "SETTLEMENT":
        return (
            f"{_money(data, 'settlement_amount')} by {data.get('settle_by')}, "
            f"discount {_money(data, 'concession')}"
        )
    if kind == "PENALTY_WAIVER":
        return f"penalty of {_money(data, 'waiver_amount')} waived"
    text = f"{data.get('instalment_count')} instalments, {_money(data, 'instalment_total')}"
    if data.get("waiver_amount"):
        text += f", penalty of {_money(data, 'waiver_amount')} waived"
    return text


def summary(data: Mapping[str, object]) -> str | None:
    """The timeline's summary of a proposal, an approval or a rejection (by the data's
    status), or None for any other restructuring event."""
    status, kind = data.get("status"), data.get("kind")
    if status == "PROPOSED":
        return f"{kind} proposed: {_terms(data)} (needs {data.get('required_authority')})"
    if status in ("ACTIVE", "APPROVED") and "authority" in data:
        return f"{kind} approved: {_terms(data)} (by {data.get('authority')})"
    if status == "REJECTED":
        return f"{kind} rejected"
    return None
