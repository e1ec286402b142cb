"""Refusals of complaint work."""

from __future__ import annotations

from domain.errors import ErrorCode, InvalidInput, NotFound, RuleViolation


class ComplaintNotFound(NotFound):
    code = ErrorCode.COMPLAINT_NOT_FOUND


class ComplaintAlreadyResolved(RuleViolation):
    code = ErrorCode.COMPLAINT_ALREADY_RESOLVED


class DescriptionRequired(InvalidInput):
    code = ErrorCode.DESCRIPTION_REQUIRED
