"""The Restructuring aggregate: a proposed change to what a borrower owes on one case (a new
schedule, a discounted lump sum, or a penalty waiver), decided by someone other than its maker.

Statuses: PROPOSED → REJECTED, or approved: an INSTALMENT_PLAN or a SETTLEMENT becomes ACTIVE
(then COMPLETED or BROKEN, the plans' own work); a PENALTY_WAIVER becomes APPROVED, applied at
once (final)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from domain.restructuring import errors


class RestructuringKind(enum.StrEnum):
    INSTALMENT_PLAN = "INSTALMENT_PLAN"  # a new schedule replacing the outstanding balance
    SETTLEMENT = "SETTLEMENT"  # a discounted lump sum, paid by a deadline
    PENALTY_WAIVER = "PENALTY_WAIVER"  # penalties given up, applied at approval


class RestructuringStatus(enum.StrEnum):
    PROPOSED = "PROPOSED"
    APPROVED = "APPROVED"  # a waiver, applied (final)
    REJECTED = "REJECTED"
    ACTIVE = "ACTIVE"  # a plan or settlement in effect
    BROKEN = "BROKEN"
    COMPLETED = "COMPLETED"


# Kinds that stay in effect after approval (at most one ACTIVE per case).
IN_EFFECT_KINDS = frozenset({RestructuringKind.INSTALMENT_PLAN, RestructuringKind.SETTLEMENT})
# Statuses whose concession counts toward the case's cumulative concession (when decided
# within the configured period): given, or being given. A REJECTED one never was; a BROKEN one
# counts its waiver only (``counted_concession``).
GRANTED_STATUSES = frozenset(
    {RestructuringStatus.APPROVED, RestructuringStatus.ACTIVE, RestructuringStatus.COMPLETED}
)
COUNTED_STATUSES = GRANTED_STATUSES | {RestructuringStatus.BROKEN}


def counted_concession(
    status: RestructuringStatus, concession: Decimal, waiver_amount: Decimal | None
) -> Decimal:
    """What a restructuring adds to its case's cumulative concession: its concession when
    APPROVED, ACTIVE or COMPLETED; when BROKEN only its waiver — a plan's waiver was applied at
    approval and stays applied when the plan breaks, while a broken settlement's discount was
    never given (its waiver is none: 0); nothing when PROPOSED or REJECTED. The store's sum
    (``granted_since``) says the same in SQL."""
    if status in GRANTED_STATUSES:
        return concession
    if status is RestructuringStatus.BROKEN:
        return waiver_amount or Decimal(0)
    return Decimal(0)


@dataclass(eq=False)
class PlanInstalment:
    """One payment of a plan's new schedule (the overlay on the core's schedule)."""

    sequence: int
    due_date: date
    amount: Decimal
    amount_paid: Decimal = Decimal(0)
    paid_on: date | None = None
    id: int | None = None


@dataclass(eq=False)
class Restructuring:
    """A restructuring of one case, its amounts in the case's currency.

    ``balance`` is the case's outstanding when proposed (the base of the share limits) and
    ``concession`` what the lender gives up: a settlement's discount (balance − settlement
    amount), a waiver's amount, a plan's waiver (0 without one). A plan's schedule adds up to
    ``replaced_amount − waiver_amount + capitalised_interest`` (``total``)."""

    case_id: int
    kind: RestructuringKind
    currency: str
    balance: Decimal
    concession: Decimal
    reason: str
    proposed_by: int
    proposed_at: datetime
    status: RestructuringStatus = RestructuringStatus.PROPOSED
    settlement_amount: Decimal | None = None
    settle_by: date | None = None
    waiver_amount: Decimal | None = None
    replaced_amount: Decimal | None = None
    capitalised_interest: Decimal | None = None
    grace_days: int = 0
    required_authority: str | None = None
    agency_id: int | None = None
    decided_by: int | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    previous_stage: str | None = None
    payments_in_row: int = 0
    paid_amount: Decimal = Decimal(0)
    ended_at: datetime | None = None
    idempotency_key: str | None = None
    version: int = 1
    id: int | None = None
    instalments: list[PlanInstalment] = field(default_factory=list)

    @property
    def total(self) -> Decimal | None:
        """A plan's total: replaced amount − waiver + capitalised interest (None otherwise)."""
        if self.replaced_amount is None:
            return None
        return (
            self.replaced_amount
            - (self.waiver_amount or Decimal(0))
            + (self.capitalised_interest or Decimal(0))
        )

    def _decide(self, status: RestructuringStatus, at: datetime, actor_id: int) -> None:
        if self.status is not RestructuringStatus.PROPOSED:
            raise errors.AlreadyDecided(
                f"the restructuring is {self.status}, no longer PROPOSED",
                field="restructuringId",
            )
        if actor_id == self.proposed_by:
            raise errors.MakerCannotApprove(
                "you proposed this restructuring: someone else must decide it",
                field="restructuringId",
            )
        self.status = status
        self.decided_by = actor_id
        self.decided_at = at
        self.version += 1

    def approve(self, at: datetime, actor_id: int, stage: str, grace_days: int) -> None:
        """Approves a PROPOSED restructuring (ALREADY_DECIDED otherwise) decided by someone
        other than its maker (MAKER_CANNOT_APPROVE): a plan or settlement takes effect (ACTIVE,
        remembering the case's stage), a waiver is APPROVED (its caller applies it)."""
        in_effect = self.kind in IN_EFFECT_KINDS
        self._decide(
            RestructuringStatus.ACTIVE if in_effect else RestructuringStatus.APPROVED,
            at,
            actor_id,
        )
        if in_effect:
            self.previous_stage = stage
            self.grace_days = grace_days

    def reject(self, at: datetime, actor_id: int, reason: str) -> None:
        """Rejects a PROPOSED restructuring, as ``approve`` refuses it."""
        self._decide(RestructuringStatus.REJECTED, at, actor_id)
        self.decision_reason = reason
