"""Refusals of task work."""

from __future__ import annotations

from domain.errors import ErrorCode, NotFound, RuleViolation


class TaskNotFound(NotFound):
    """No such task, or its case is outside the caller's scope (never revealed as existing)."""

    code = ErrorCode.TASK_NOT_FOUND


class TaskAlreadyClosed(RuleViolation):
    """The task is DONE or CANCELLED: only an OPEN task can be completed."""

    code = ErrorCode.TASK_ALREADY_CLOSED
