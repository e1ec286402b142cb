"""Base domain errors: each carries a machine-readable code for the API's typed error unions."""

from __future__ import annotations


class DomainError(Exception):
    """An expected failure of a business rule."""

    code = "DOMAIN_ERROR"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """The referenced object does not exist (or is not visible to the caller)."""

    code = "NOT_FOUND"


class ConcurrencyConflict(DomainError):
    """Somebody else changed the object since it was read."""

    code = "CONFLICT"


class RuleViolation(DomainError):
    """A business rule refuses the change."""

    code = "RULE_VIOLATION"
