"""Errors raised when changing staff."""

from __future__ import annotations

from domain.errors import ErrorCode, InvalidInput, RuleViolation


class UnknownRole(InvalidInput):
    code = ErrorCode.UNKNOWN_ROLE


class RoleNotApplicable(RuleViolation):
    code = ErrorCode.ROLE_NOT_APPLICABLE


class CannotRevokeOwnAdmin(RuleViolation):
    code = ErrorCode.CANNOT_REVOKE_OWN_ADMIN
