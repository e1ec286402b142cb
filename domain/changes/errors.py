"""Refusals of changes to rules and roles."""

from __future__ import annotations

from domain.errors import ErrorCode, InvalidInput, NotFound, RuleViolation


class ChangeNotFound(NotFound):
    code = ErrorCode.CHANGE_NOT_FOUND


class ChangeInvalid(InvalidInput):
    """The proposed rule set is not valid (the field names the part at fault), or its kind cannot
    be changed through maker–checker yet."""

    code = ErrorCode.CHANGE_INVALID


class EffectiveTimeInvalid(InvalidInput):
    code = ErrorCode.EFFECTIVE_TIME_INVALID


class MakerCannotApprove(RuleViolation):
    code = ErrorCode.MAKER_CANNOT_APPROVE


class AlreadyDecided(RuleViolation):
    code = ErrorCode.ALREADY_DECIDED


class CannotGrantOwnRole(RuleViolation):
    code = ErrorCode.CANNOT_GRANT_OWN_ROLE


class LastAdmin(RuleViolation):
    code = ErrorCode.LAST_ADMIN


class ApproverNotEntitled(RuleViolation):
    code = ErrorCode.APPROVER_NOT_ENTITLED


class ProposerNotEntitled(RuleViolation):
    code = ErrorCode.PROPOSER_NOT_ENTITLED


class ContentRuleBroken(RuleViolation):
    """A rule of a rule set's content that a proposal breaks, refused with its own code (not
    CHANGE_INVALID), e.g. a notice template without the content its profile requires: a reader
    raises a subclass, and the registry keeps it (naming the payload's field)."""
