"""Refusals of restructuring work."""

from __future__ import annotations

from domain.errors import ErrorCode, InvalidInput, NotFound, RuleViolation


class RestructuringNotFound(NotFound):
    code = ErrorCode.RESTRUCTURING_NOT_FOUND


class RestructuringPending(RuleViolation):
    """The case already has a PROPOSED restructuring, or an ACTIVE plan or settlement."""

    code = ErrorCode.RESTRUCTURING_PENDING


class PlanInvalid(InvalidInput):
    code = ErrorCode.PLAN_INVALID


class SettlementInvalid(InvalidInput):
    code = ErrorCode.SETTLEMENT_INVALID


class WaiverInvalid(InvalidInput):
    code = ErrorCode.WAIVER_INVALID


class MakerCannotApprove(RuleViolation):
    """The maker of a proposal may not decide it, whatever roles they hold."""

    code = ErrorCode.MAKER_CANNOT_APPROVE


class ApprovalLimitExceeded(RuleViolation):
    code = ErrorCode.APPROVAL_LIMIT_EXCEEDED


class AlreadyDecided(RuleViolation):
    code = ErrorCode.ALREADY_DECIDED


class PolicyInvalid(InvalidInput):
    """A rule-set payload (approval limits, restructuring policy) that cannot be used."""

    code = ErrorCode.CHANGE_INVALID
