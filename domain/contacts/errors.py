"""Refusals of work on contact points and contacts."""

from __future__ import annotations

from datetime import datetime

from domain.errors import ErrorCode, InvalidInput, NotFound, RuleViolation


class ContactNotFound(NotFound):
    code = ErrorCode.CONTACT_NOT_FOUND


class ContactPointNotFound(NotFound):
    code = ErrorCode.CONTACT_POINT_NOT_FOUND


class ContactPointMismatch(InvalidInput):
    """The contact point cannot carry this contact (another kind, or another party's)."""

    code = ErrorCode.CONTACT_POINT_MISMATCH


class ContactPointExists(RuleViolation):
    """The borrower already has this value as a contact point of that kind and owner."""

    code = ErrorCode.CONTACT_POINT_EXISTS


class ContactValueInvalid(InvalidInput):
    """A number, e-mail address or postal address that cannot be one."""

    code = ErrorCode.CONTACT_VALUE_INVALID


class InvalidTimeZone(InvalidInput):
    code = ErrorCode.INVALID_TIME_ZONE


class ContactAlreadyCompleted(RuleViolation):
    code = ErrorCode.CONTACT_ALREADY_COMPLETED


class ContactBlocked(RuleViolation):
    """A refused attempt has no outcome to record: it never took place."""

    code = ErrorCode.CONTACT_BLOCKED


class CallbackTimeRequired(InvalidInput):
    code = ErrorCode.CALLBACK_TIME_REQUIRED


class OccurredInFuture(InvalidInput):
    code = ErrorCode.OCCURRED_IN_FUTURE


class OccurredBeforeCase(InvalidInput):
    """A contact logged as having taken place before its case was opened."""

    code = ErrorCode.OCCURRED_BEFORE_CASE


class OccurredBeforePlacement(InvalidInput):
    """An agency logging a contact from before the case was placed with it: the case was not
    its own then, and the contact would be credited to it."""

    code = ErrorCode.OCCURRED_BEFORE_PLACEMENT


class ComplianceViolation(RuleViolation):
    """A conduct rule refused the contact. Raised after the refused attempt was recorded (and
    committed, with its audit entry): the refusal is the result, not a rollback.

    ``rule`` names the deciding rule, ``breaches`` every rule that refused, ``next_allowed_at``
    the earliest instant every rule passes (None: not by waiting), ``contact_id`` the recorded
    attempt."""

    code = ErrorCode.COMPLIANCE_VIOLATION

    def __init__(
        self,
        message: str,
        *,
        rule: str,
        breaches: tuple[str, ...],
        next_allowed_at: datetime | None,
        contact_id: int | None,
        field: str | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.rule = rule
        self.breaches = breaches
        self.next_allowed_at = next_allowed_at
        self.contact_id = contact_id


class ConsentChangeNotAllowed(RuleViolation):
    """The caller may not loosen what protects the person: lift an opt-out or an invalid mark,
    record or change consent or consented hours, or replace a known time zone."""

    code = ErrorCode.CONSENT_CHANGE_NOT_ALLOWED


class ConsentEvidenceRequired(InvalidInput):
    """A consent change needs a reference to its evidence (a recording, a document)."""

    code = ErrorCode.CONSENT_EVIDENCE_REQUIRED


class NotYourContact(RuleViolation):
    """Only the agent who started an attempt (or a manager, a team lead) records its outcome."""

    code = ErrorCode.NOT_YOUR_CONTACT
