"""Events of task work: case events (the timeline's TASK entry, the audit trail)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.cases.events import CaseEvent


@dataclass(frozen=True, slots=True)
class TaskCompleted(CaseEvent):
    """A task was completed; its note stays with the task (free text may be personal)."""

    task_id: int
    kind: str
    step: str | None
