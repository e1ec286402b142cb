"""Refusals of the arrangements (promises to pay)."""

from __future__ import annotations

from domain.errors import ErrorCode, InvalidInput, RuleViolation


class PromiseDueDateInvalid(InvalidInput):
    """A promise must fall due between today and the policy's horizon (portfolio dates)."""

    code = ErrorCode.PROMISE_DUE_DATE_INVALID


class PromiseContactInvalid(InvalidInput):
    """The contact a promise is said to come from is not a contact on the promise's case."""

    code = ErrorCode.PROMISE_CONTACT_INVALID


class PromiseContactBlocked(RuleViolation):
    """The contact a promise is said to come from was refused by a conduct rule: it never took
    place, so nothing was promised in it (and nobody earns the credit)."""

    code = ErrorCode.CONTACT_BLOCKED


class PromiseContactNotCompleted(RuleViolation):
    """The contact a promise is said to come from is still in progress: record its outcome
    (completeContact) first."""

    code = ErrorCode.CONTACT_NOT_COMPLETED
