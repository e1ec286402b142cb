"""Refusals of an allocation."""

from __future__ import annotations

from domain.errors import ErrorCode, NotFound, RuleViolation


class TeamNotFound(NotFound):
    """No staff member of that team is within the caller's reach (team leads: their own team)."""

    code = ErrorCode.TEAM_NOT_FOUND


class NoCollectorCapacity(RuleViolation):
    """No active collector of the team has room for another case."""

    code = ErrorCode.NO_COLLECTOR_CAPACITY
