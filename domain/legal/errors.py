"""Refusals of legal escalation."""

from __future__ import annotations

from domain.errors import ErrorCode, InvalidInput, NotFound, RuleViolation


class LegalConditionsNotMet(RuleViolation):
    """At least one condition of a referral fails; the message names each failed one."""

    code = ErrorCode.LEGAL_CONDITIONS_NOT_MET


class ReferralNotFound(NotFound):
    code = ErrorCode.REFERRAL_NOT_FOUND


class ReferralPending(RuleViolation):
    code = ErrorCode.REFERRAL_PENDING


class MakerCannotApprove(RuleViolation):
    code = ErrorCode.MAKER_CANNOT_APPROVE


class AlreadyDecided(RuleViolation):
    code = ErrorCode.ALREADY_DECIDED


class LegalActionInvalid(InvalidInput):
    code = ErrorCode.LEGAL_ACTION_INVALID


class LegalPolicyInvalid(InvalidInput):
    """A legal policy payload that cannot be a policy (the maker–checker slice calls
    ``policy.from_payload`` to validate a proposed change)."""

    code = ErrorCode.CHANGE_INVALID
