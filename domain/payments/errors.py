"""Refusals of payments and their reversal."""

from __future__ import annotations

from domain.errors import ErrorCode, InvalidInput, NotFound, RuleViolation


class DebtNotFound(NotFound):
    code = ErrorCode.DEBT_NOT_FOUND


class PaymentNotFound(NotFound):
    code = ErrorCode.PAYMENT_NOT_FOUND


class PaymentAlreadyReversed(RuleViolation):
    code = ErrorCode.PAYMENT_ALREADY_REVERSED


class PaymentReferenceDuplicate(RuleViolation):
    """Another payment already carries this reference (references identify a transaction)."""

    code = ErrorCode.PAYMENT_REFERENCE_DUPLICATE


class PaymentDateInvalid(InvalidInput):
    """The payment's instant is not an aware timestamp, or lies in the future."""

    code = ErrorCode.PAYMENT_DATE_INVALID
