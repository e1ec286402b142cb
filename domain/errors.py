"""Base domain errors, and the one list of the codes they carry.

Every expected refusal has a code from ``ErrorCode``; the API exposes the enum as ``ErrorCode``
so that front ends can switch on it exhaustively. A new refusal adds its code here first.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    """Machine-readable codes of expected failures (typed mutation errors)."""

    # Generic kinds, used when a more precise code does not exist.
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    RULE_VIOLATION = "RULE_VIOLATION"
    INVALID_INPUT = "INVALID_INPUT"
    # Cases, staff and agencies.
    CASE_NOT_FOUND = "CASE_NOT_FOUND"
    STAFF_NOT_FOUND = "STAFF_NOT_FOUND"
    AGENCY_NOT_FOUND = "AGENCY_NOT_FOUND"
    CASE_CLOSED = "CASE_CLOSED"
    CASE_PLACED_WITH_AGENCY = "CASE_PLACED_WITH_AGENCY"
    CASE_NOT_PLACED = "CASE_NOT_PLACED"
    STAFF_INACTIVE = "STAFF_INACTIVE"
    STAFF_CANNOT_CARRY_CASES = "STAFF_CANNOT_CARRY_CASES"
    CAPACITY_EXCEEDED = "CAPACITY_EXCEEDED"
    AGENCY_INACTIVE = "AGENCY_INACTIVE"
    PLACEMENT_END_INVALID = "PLACEMENT_END_INVALID"
    # Roles.
    UNKNOWN_ROLE = "UNKNOWN_ROLE"
    ROLE_NOT_APPLICABLE = "ROLE_NOT_APPLICABLE"
    CANNOT_REVOKE_OWN_ADMIN = "CANNOT_REVOKE_OWN_ADMIN"
    # Borrowers' confidential data.
    BORROWER_NOT_FOUND = "BORROWER_NOT_FOUND"
    REVEAL_NOT_ALLOWED = "REVEAL_NOT_ALLOWED"
    REASON_REQUIRED = "REASON_REQUIRED"
    REASON_TOO_LONG = "REASON_TOO_LONG"
    RATE_LIMITED = "RATE_LIMITED"
    # Collection work: the case life cycle.
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    CASE_ON_HOLD = "CASE_ON_HOLD"
    ACTION_NOT_ALLOWED = "ACTION_NOT_ALLOWED"
    # Collection work: money.
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    # Collection work: payments and promises.
    AMOUNT_NOT_POSITIVE = "AMOUNT_NOT_POSITIVE"
    AMOUNT_TOO_PRECISE = "AMOUNT_TOO_PRECISE"
    AMOUNT_TOO_LARGE = "AMOUNT_TOO_LARGE"
    APPLICATION_NOT_REVERSIBLE = "APPLICATION_NOT_REVERSIBLE"
    PROMISE_DUE_DATE_INVALID = "PROMISE_DUE_DATE_INVALID"
    DEBT_NOT_FOUND = "DEBT_NOT_FOUND"
    PAYMENT_NOT_FOUND = "PAYMENT_NOT_FOUND"
    PAYMENT_ALREADY_REVERSED = "PAYMENT_ALREADY_REVERSED"
    PAYMENT_REFERENCE_DUPLICATE = "PAYMENT_REFERENCE_DUPLICATE"
    PAYMENT_DATE_INVALID = "PAYMENT_DATE_INVALID"
    PROMISE_CONTACT_INVALID = "PROMISE_CONTACT_INVALID"
    # Collection work: allocation.
    TEAM_NOT_FOUND = "TEAM_NOT_FOUND"
    NO_COLLECTOR_CAPACITY = "NO_COLLECTOR_CAPACITY"
    # Collection work: contacts and conduct rules.
    COMPLIANCE_VIOLATION = "COMPLIANCE_VIOLATION"
    CONTACT_NOT_FOUND = "CONTACT_NOT_FOUND"
    CONTACT_POINT_NOT_FOUND = "CONTACT_POINT_NOT_FOUND"
    CONTACT_POINT_MISMATCH = "CONTACT_POINT_MISMATCH"
    CONTACT_POINT_EXISTS = "CONTACT_POINT_EXISTS"
    CONTACT_VALUE_INVALID = "CONTACT_VALUE_INVALID"
    CONTACT_ALREADY_COMPLETED = "CONTACT_ALREADY_COMPLETED"
    CONTACT_BLOCKED = "CONTACT_BLOCKED"
    CALLBACK_TIME_REQUIRED = "CALLBACK_TIME_REQUIRED"
    INVALID_TIME_ZONE = "INVALID_TIME_ZONE"
    OCCURRED_IN_FUTURE = "OCCURRED_IN_FUTURE"
    OCCURRED_BEFORE_CASE = "OCCURRED_BEFORE_CASE"
    OCCURRED_BEFORE_PLACEMENT = "OCCURRED_BEFORE_PLACEMENT"
    # Collection work: contacts review (consent rights, evidence, whose contact it is).
    CONSENT_CHANGE_NOT_ALLOWED = "CONSENT_CHANGE_NOT_ALLOWED"
    CONSENT_EVIDENCE_REQUIRED = "CONSENT_EVIDENCE_REQUIRED"
    NOT_YOUR_CONTACT = "NOT_YOUR_CONTACT"
    # Collection work: payments and promises review (a promise's contact must have taken place).
    CONTACT_NOT_COMPLETED = "CONTACT_NOT_COMPLETED"
    # The daily cycle: warnings, complaints, borrower flags.
    WARNING_NOT_FOUND = "WARNING_NOT_FOUND"
    WARNING_ALREADY_HANDLED = "WARNING_ALREADY_HANDLED"
    WARNING_ALREADY_ACKNOWLEDGED = "WARNING_ALREADY_ACKNOWLEDGED"
    COMPLAINT_NOT_FOUND = "COMPLAINT_NOT_FOUND"
    COMPLAINT_ALREADY_RESOLVED = "COMPLAINT_ALREADY_RESOLVED"
    DESCRIPTION_REQUIRED = "DESCRIPTION_REQUIRED"
    FLAG_ALREADY_SET = "FLAG_ALREADY_SET"
    FLAG_NOT_SET = "FLAG_NOT_SET"
    EVIDENCE_REQUIRED = "EVIDENCE_REQUIRED"
    REVIEW_DATE_INVALID = "REVIEW_DATE_INVALID"
    TEXT_TOO_LONG = "TEXT_TOO_LONG"
    # Debt handling: maker–checker (restructurings, legal referrals, rule changes).
    MAKER_CANNOT_APPROVE = "MAKER_CANNOT_APPROVE"
    APPROVAL_LIMIT_EXCEEDED = "APPROVAL_LIMIT_EXCEEDED"
    ALREADY_DECIDED = "ALREADY_DECIDED"
    RESTRUCTURING_NOT_FOUND = "RESTRUCTURING_NOT_FOUND"
    RESTRUCTURING_PENDING = "RESTRUCTURING_PENDING"
    PLAN_INVALID = "PLAN_INVALID"
    SETTLEMENT_INVALID = "SETTLEMENT_INVALID"
    WAIVER_INVALID = "WAIVER_INVALID"
    # Debt handling: legal escalation, evidence, write-off.
    LEGAL_CONDITIONS_NOT_MET = "LEGAL_CONDITIONS_NOT_MET"
    REFERRAL_NOT_FOUND = "REFERRAL_NOT_FOUND"
    REFERRAL_PENDING = "REFERRAL_PENDING"
    LEGAL_ACTION_INVALID = "LEGAL_ACTION_INVALID"
    EVIDENCE_PACK_NOT_FOUND = "EVIDENCE_PACK_NOT_FOUND"
    WRITE_OFF_NOT_ALLOWED = "WRITE_OFF_NOT_ALLOWED"
    # Debt handling: changes to rules and roles.
    CHANGE_NOT_FOUND = "CHANGE_NOT_FOUND"
    CHANGE_INVALID = "CHANGE_INVALID"
    CANNOT_GRANT_OWN_ROLE = "CANNOT_GRANT_OWN_ROLE"
    EFFECTIVE_TIME_INVALID = "EFFECTIVE_TIME_INVALID"
    # Strategies, templates and notices.
    TEMPLATE_CONTENT_MISSING = "TEMPLATE_CONTENT_MISSING"
    NO_CHALLENGER = "NO_CHALLENGER"
    NOTICE_NOT_FOUND = "NOTICE_NOT_FOUND"
    NOTICE_STATUS_INVALID = "NOTICE_STATUS_INVALID"
    TASK_NOT_FOUND = "TASK_NOT_FOUND"
    TASK_ALREADY_CLOSED = "TASK_ALREADY_CLOSED"
    # API clients of partner agencies (OAuth 2.0 client credentials).
    API_CLIENT_NOT_FOUND = "API_CLIENT_NOT_FOUND"
    API_CLIENT_REVOKED = "API_CLIENT_REVOKED"
    # Legal holds (the data life cycle): one in force per case; a released one stays released.
    LEGAL_HOLD_NOT_FOUND = "LEGAL_HOLD_NOT_FOUND"
    LEGAL_HOLD_EXISTS = "LEGAL_HOLD_EXISTS"
    LEGAL_HOLD_RELEASED = "LEGAL_HOLD_RELEASED"
    # Reporting (issue 13)
    REPORT_PERIOD_INVALID = "REPORT_PERIOD_INVALID"
    # An admin revoke that would leave no active admin (checked at proposal and approval).
    LAST_ADMIN = "LAST_ADMIN"
    # An approval that needs a right the approver lacks (role:grant for the admin role), or a
    # change whose proposer no longer holds the right to propose it (or is inactive).
    APPROVER_NOT_ENTITLED = "APPROVER_NOT_ENTITLED"
    PROPOSER_NOT_ENTITLED = "PROPOSER_NOT_ENTITLED"
    # Retries.
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    IDEMPOTENCY_KEY_TOO_LONG = "IDEMPOTENCY_KEY_TOO_LONG"


class DomainError(Exception):
    """An expected failure of a business rule."""

    code = ErrorCode.INVALID_INPUT

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """The request cannot be carried out as given (a missing or malformed value)."""

    code = ErrorCode.INVALID_INPUT


class NotFound(DomainError):
    """The referenced object does not exist (or is not visible to the caller)."""

    code = ErrorCode.NOT_FOUND


class ConcurrencyConflict(DomainError):
    """Somebody else changed the object since it was read."""

    code = ErrorCode.CONFLICT


class RuleViolation(DomainError):
    """A business rule refuses the change."""

    code = ErrorCode.RULE_VIOLATION


class ReasonRequired(InvalidInput):
    code = ErrorCode.REASON_REQUIRED


class ReasonTooLong(InvalidInput):
    code = ErrorCode.REASON_TOO_LONG


# How long a stated reason may be (a reveal's, a reversal's): enough for a sentence or two.
MAX_REASON = 500


def stated_reason(text: str, field: str, missing: str) -> str:
    """Returns a reason without surrounding blanks, or refuses an empty one (``missing`` says
    what to state) or one longer than MAX_REASON."""
    stripped = text.strip()
    if not stripped:
        raise ReasonRequired(missing, field=field)
    if len(stripped) > MAX_REASON:
        raise ReasonTooLong(f"the reason is longer than {MAX_REASON} characters", field=field)
    return stripped


class TextTooLong(InvalidInput):
    """Free text (a description, a note, a reference) longer than its limit."""

    code = ErrorCode.TEXT_TOO_LONG


def free_text(value: str | None, field: str, limit: int, what: str | None = None) -> str | None:
    """Returns free text without surrounding blanks (None when empty), or refuses text longer
    than ``limit`` characters (TEXT_TOO_LONG, naming ``what``, else the field). The one checker
    of complaint, flag and warning text."""
    text = (value or "").strip()
    if len(text) > limit:
        raise TextTooLong(f"{what or field} is longer than {limit} characters", field=field)
    return text or None


class IdempotencyKeyReused(InvalidInput):
    """The idempotency key was already used for another operation (or another object)."""

    code = ErrorCode.IDEMPOTENCY_KEY_REUSED


class IdempotencyKeyTooLong(InvalidInput):
    code = ErrorCode.IDEMPOTENCY_KEY_TOO_LONG
