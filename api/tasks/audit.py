"""The audit record of a task's completion (``api.audit.RequestAudit.for_changes`` asks here):
the task, its case, its kind and step; never its note."""

from __future__ import annotations

from collections.abc import Callable

from api.common.ids import to_global_id
from domain.tasks.events import TaskCompleted
from store.audit import AuditAction, AuditRecord, Outcome

Record = Callable[..., AuditRecord]


def task_record(record: Record, event: object) -> AuditRecord | None:
    """Returns the audit record of a task event, or None for any other event."""
    if not isinstance(event, TaskCompleted):
        return None
    assert event.case_id is not None
    return record(
        AuditAction.TASK_COMPLETE,
        Outcome.ALLOWED,
        resource_type="Task",
        resource_ids=[to_global_id("Task", event.task_id)],
        case_ids=[event.case_id],
        changes=event.data(),
    )
