"""Errors raised when changing staff."""

from __future__ import annotations

from domain.errors import DomainError, RuleViolation


class UnknownRole(DomainError):
    code = "UNKNOWN_ROLE"


class RoleNotApplicable(RuleViolation):
    code = "ROLE_NOT_APPLICABLE"


class CannotRevokeOwnAdmin(RuleViolation):
    code = "CANNOT_REVOKE_OWN_ADMIN"
