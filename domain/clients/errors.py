"""Refusals of API client work."""

from __future__ import annotations

from domain.errors import ErrorCode, NotFound, RuleViolation


class ApiClientNotFound(NotFound):
    """No such client, or one of an agency the caller may not manage."""

    code = ErrorCode.API_CLIENT_NOT_FOUND


class ApiClientRevoked(RuleViolation):
    code = ErrorCode.API_CLIENT_REVOKED


class InvalidClient(Exception):
    """Client authentication failed (unknown client, wrong or expired secret, revoked client).

    Not a DomainError: the token endpoint answers it as OAuth's ``invalid_client``, and never
    says which of the reasons it was."""
