"""Refusals of legal-hold work."""

from __future__ import annotations

from domain.errors import ErrorCode, NotFound, RuleViolation


class LegalHoldNotFound(NotFound):
    code = ErrorCode.LEGAL_HOLD_NOT_FOUND


class LegalHoldExists(RuleViolation):
    code = ErrorCode.LEGAL_HOLD_EXISTS


class LegalHoldReleased(RuleViolation):
    code = ErrorCode.LEGAL_HOLD_RELEASED
