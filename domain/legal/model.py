"""Legal referrals (made by one person, decided by another) and legal actions (a route's steps)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from domain.debts.model import ProductType
from domain.legal.conditions import Condition
from domain.legal.errors import AlreadyDecided, MakerCannotApprove


class ReferralStatus(enum.StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class LegalActionKind(enum.StrEnum):
    LITIGATION = "LITIGATION"
    PAYMENT_ORDER = "PAYMENT_ORDER"  # 支付令
    NOTARISED_ENFORCEMENT = "NOTARISED_ENFORCEMENT"  # 赋强公证
    MEDIATION = "MEDIATION"
    ARBITRATION = "ARBITRATION"
    COLLATERAL_ENFORCEMENT = "COLLATERAL_ENFORCEMENT"  # repossession, enforcement on collateral


class LegalStep(enum.StrEnum):
    FILED = "FILED"
    HEARING = "HEARING"
    JUDGMENT = "JUDGMENT"  # with the amount awarded
    ENFORCEMENT = "ENFORCEMENT"
    CLOSED = "CLOSED"


# Products whose debts are secured: only they have collateral to enforce on.
SECURED_PRODUCTS = frozenset({ProductType.MORTGAGE, ProductType.AUTO_LOAN})
MAX_BODY = 200
MAX_REFERENCE = 100


@dataclass(eq=False)
class LegalReferral:
    case_id: int
    reason: str
    conditions: tuple[Condition, ...]
    referred_by: int
    referred_at: datetime
    status: ReferralStatus = ReferralStatus.PENDING
    decided_by: int | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    version: int = 1
    id: int | None = None

    def decide(
        self,
        approve: bool,
        actor_id: int,
        at: datetime,
        conditions: tuple[Condition, ...] | None = None,
        reason: str | None = None,
    ) -> None:
        """Approves or rejects a pending referral, by someone other than its maker."""
        if self.status is not ReferralStatus.PENDING:
            raise AlreadyDecided(f"the referral was already {self.status}", field="referralId")
        if actor_id == self.referred_by:
            raise MakerCannotApprove(
                "the referral must be decided by someone other than who made it",
                field="referralId",
            )
        self.status = ReferralStatus.APPROVED if approve else ReferralStatus.REJECTED
        self.decided_by, self.decided_at, self.decision_reason = actor_id, at, reason
        if conditions is not None:
            self.conditions = conditions
        self.version += 1


@dataclass(eq=False)
class LegalAction:
    case_id: int
    kind: LegalActionKind
    step: LegalStep
    occurred_on: date
    recorded_at: datetime
    recorded_by: int | None
    body: str | None = None
    reference: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    idempotency_key: str | None = None
    id: int | None = None
