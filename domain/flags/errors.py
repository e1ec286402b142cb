"""Refusals of flag work."""

from __future__ import annotations

from domain.errors import ErrorCode, InvalidInput, RuleViolation


class FlagAlreadySet(RuleViolation):
    code = ErrorCode.FLAG_ALREADY_SET


class FlagNotSet(RuleViolation):
    code = ErrorCode.FLAG_NOT_SET


class EvidenceRequired(InvalidInput):
    code = ErrorCode.EVIDENCE_REQUIRED


class ReviewDateInvalid(InvalidInput):
    code = ErrorCode.REVIEW_DATE_INVALID
