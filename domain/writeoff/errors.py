"""Refusals of write-off work."""

from __future__ import annotations

from domain.errors import ErrorCode, InvalidInput, RuleViolation


class WriteOffNotAllowed(RuleViolation):
    """The write-off policy does not allow a manager's write-off of this case now (the message
    names the rule)."""

    code = ErrorCode.WRITE_OFF_NOT_ALLOWED


class InvalidWriteOffPolicy(InvalidInput):
    """A proposed write-off policy's payload is not valid (the message says what)."""

    code = ErrorCode.CHANGE_INVALID
