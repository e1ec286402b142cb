"""Refusals of a reveal of a borrower's confidential value."""

from __future__ import annotations

from domain.errors import ErrorCode, NotFound, RuleViolation


class BorrowerNotFound(NotFound):
    code = ErrorCode.BORROWER_NOT_FOUND


class RevealNotAllowed(RuleViolation):
    """The caller's roles may not see this field in clear."""

    code = ErrorCode.REVEAL_NOT_ALLOWED


class RevealRateLimited(RuleViolation):
    """The caller used up their reveals for the period; ``retry_after_seconds`` says when the
    next one is possible at the earliest."""

    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
