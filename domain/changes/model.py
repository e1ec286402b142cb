"""A proposed change to a rule set or to someone's roles, and the four-eyes rules of deciding it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain.changes.errors import AlreadyDecided, EffectiveTimeInvalid, MakerCannotApprove
from domain.errors import stated_reason
from domain.rulesets import RuleSetKind

# A stated start may lie this far behind our clock (the proposer's clock may run slow).
CLOCK_SKEW = timedelta(minutes=1)


class ChangeKind(enum.StrEnum):
    """What a change changes: a rule set (``RuleSetKind``) or one role of one staff member."""

    APPROVAL_LIMITS = RuleSetKind.APPROVAL_LIMITS.value
    RESTRUCTURING_POLICY = RuleSetKind.RESTRUCTURING_POLICY.value
    LEGAL_POLICY = RuleSetKind.LEGAL_POLICY.value
    WRITE_OFF_POLICY = RuleSetKind.WRITE_OFF_POLICY.value
    COLLECTION_POLICY = RuleSetKind.COLLECTION_POLICY.value
    CONDUCT_PROFILE = RuleSetKind.CONDUCT_PROFILE.value
    WATERFALL = RuleSetKind.WATERFALL.value
    WARNING_RULES = RuleSetKind.WARNING_RULES.value
    STRATEGY = RuleSetKind.STRATEGY.value
    STRATEGY_CHALLENGER = RuleSetKind.STRATEGY_CHALLENGER.value
    NOTICE_TEMPLATE = RuleSetKind.NOTICE_TEMPLATE.value
    ROLE_GRANT = "ROLE_GRANT"
    ROLE_REVOKE = "ROLE_REVOKE"

    @property
    def is_role_change(self) -> bool:
        return self in (ChangeKind.ROLE_GRANT, ChangeKind.ROLE_REVOKE)


class ChangeStatus(enum.StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


@dataclass(eq=False)
class RuleChange:
    """A change as proposed (``payload``: the whole new rule set, or ``{login, role}`` for a role
    change) and, once decided, who decided it and when. ``version`` counts the row's own
    updates (optimistic locking); a rule set's version numbers are in ``rule_set_versions``."""

    kind: ChangeKind
    name: str
    payload: dict[str, Any]
    reason: str
    effective_from: datetime
    proposed_by: int
    proposed_at: datetime
    status: ChangeStatus = ChangeStatus.PENDING
    decided_by: int | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    version: int = 1
    id: int | None = None
    # The rule set's version number an approval wrote (not stored on the change's row).
    ruleset_version: int | None = field(default=None, compare=False)

    def check_decidable(self, decider_id: int) -> None:
        """Refuses a decision on a decided change, and an approval or rejection by its maker."""
        if self.status != ChangeStatus.PENDING:
            raise AlreadyDecided(
                f"change {self.id} was already {self.status.value.lower()}", field="changeId"
            )
        if decider_id == self.proposed_by:
            raise MakerCannotApprove(
                "a change is decided by someone other than the person who proposed it",
                field="changeId",
            )

    def approve(self, approver_id: int, at: datetime) -> None:
        """Approves the change (a role change takes effect now, a rule set from its start)."""
        self.check_decidable(approver_id)
        self.status = ChangeStatus.APPROVED
        self.decided_by = approver_id
        self.decided_at = at
        if self.kind.is_role_change or self.effective_from < at:
            # Never in effect before the approval that makes it so.
            self.effective_from = at

    def reject(self, rejecter_id: int, at: datetime, reason: str) -> None:
        """Rejects the change, saying why."""
        self.check_decidable(rejecter_id)
        self.status = ChangeStatus.REJECTED
        self.decided_by = rejecter_id
        self.decided_at = at
        self.decision_reason = stated_reason(reason, "reason", "say why the change is rejected")


def effective_start(effective_from: datetime, now: datetime) -> datetime:
    """Returns the stated start of a change, or refuses one without a time zone or in the past
    (beyond ``CLOCK_SKEW``)."""
    if effective_from.tzinfo is None or effective_from.utcoffset() is None:
        raise EffectiveTimeInvalid("effectiveFrom needs a time zone", field="effectiveFrom")
    if effective_from < now - CLOCK_SKEW:
        raise EffectiveTimeInvalid(
            "effectiveFrom lies in the past: a change takes effect from now on",
            field="effectiveFrom",
        )
    return effective_from
