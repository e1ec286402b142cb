"""Refusals of the early-warning services."""

from __future__ import annotations

from domain.errors import ErrorCode, InvalidInput, NotFound, RuleViolation


class WarningNotFound(NotFound):
    """No such warning, or one on a case the caller cannot see (the two look the same)."""

    code = ErrorCode.WARNING_NOT_FOUND


class WarningAlreadyAcknowledged(RuleViolation):
    code = ErrorCode.WARNING_ALREADY_ACKNOWLEDGED


class WarningAlreadyHandled(RuleViolation):
    code = ErrorCode.WARNING_ALREADY_HANDLED


class TextTooLong(InvalidInput):
    code = ErrorCode.TEXT_TOO_LONG


class SignalKindInvalid(InvalidInput):
    code = ErrorCode.SIGNAL_KIND_INVALID
