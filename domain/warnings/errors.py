"""Refusals of the early-warning services."""

from __future__ import annotations

from domain.errors import ErrorCode, NotFound, RuleViolation


class WarningNotFound(NotFound):
    """No such warning, or one on a case the caller cannot see (the two look the same)."""

    code = ErrorCode.WARNING_NOT_FOUND


class WarningAlreadyAcknowledged(RuleViolation):
    code = ErrorCode.WARNING_ALREADY_ACKNOWLEDGED


class WarningAlreadyHandled(RuleViolation):
    code = ErrorCode.WARNING_ALREADY_HANDLED
