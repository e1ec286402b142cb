"""The Task aggregate: work a strategy step gives to the people responsible for a case (the
debt-handling operations stay with them), OPEN until someone completes it (DONE) or the daily
run cancels it (CANCELLED: the case closed, or left the segment whose step made it).

A task is made by the daily run (``treatment``, set-based) for the case's collector or agency
of the day, due the day after. It belongs to its case: whoever works the case now (its collector,
its agency while placed, legal's cases, every case for a manager) sees and completes it; the
collector or agency it was made for is kept as a record, not as its owner. This module holds
what a person may do with it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from domain.cases.errors import CaseClosed
from domain.cases.model import CaseStatus
from domain.contacts.model import ContactParty
from domain.errors import free_text
from domain.lifecycle.table import Standing
from domain.strategies.model import TaskKind, TaskStatus
from domain.tasks import errors

# Longest completion note kept (characters).
MAX_NOTE = 1000

# The worklist's reason for a task due (``TASK_DUE CALL MILD_CALL_1``).
TASK_DUE = "TASK_DUE"


def task_note(text: str | None) -> str | None:
    """Returns the note without surrounding blanks (None when empty), or refuses one longer than
    ``MAX_NOTE`` characters (TEXT_TOO_LONG)."""
    return free_text(text, "note", MAX_NOTE, "the note")


@dataclass(eq=False)
class Task:
    case_id: int
    kind: TaskKind
    reason: str
    party: ContactParty
    due_on: date  # a date in the case's portfolio's calendar
    created_at: datetime
    strategy: str | None = None
    step: str | None = None
    status: TaskStatus = TaskStatus.OPEN
    # For whom it was made: the case's collector and agency then (a record: the task follows
    # its case, and whoever works the case now sees and completes it).
    assignee_id: int | None = None
    agency_id: int | None = None
    action_id: int | None = None  # the strategy step taken that made it
    completed_at: datetime | None = None
    completed_by: int | None = None
    note: str | None = None
    version: int = 1
    id: int | None = None

    @property
    def open(self) -> bool:
        return self.status is TaskStatus.OPEN

    def check_open(self) -> None:
        """Refuses a task DONE or CANCELLED (TASK_ALREADY_CLOSED)."""
        if not self.open:
            raise errors.TaskAlreadyClosed(
                f"the task is already {self.status.value}", field="taskId"
            )

    def complete(self, note: str | None, actor_id: int | None, at: datetime) -> None:
        """Completes an OPEN task with an optional note (TASK_ALREADY_CLOSED for a task DONE or
        CANCELLED; TEXT_TOO_LONG for a note over ``MAX_NOTE`` characters)."""
        self.check_open()
        self.note = task_note(note)
        self.status = TaskStatus.DONE
        self.completed_at = at
        self.completed_by = actor_id

    def due_by(self, today: date) -> bool:
        """Whether the task is OPEN and due on or before ``today`` (the portfolio's date)."""
        return self.open and self.due_on <= today

    def due_reason(self) -> str:
        """``TASK_DUE <kind> <step>`` (no step: ``TASK_DUE <kind>``)."""
        return " ".join(p for p in (TASK_DUE, self.kind.value, self.step) if p)


def check_case_open(standing: Standing, reference: str) -> None:
    """Refuses work on a task of a case the life cycle has CLOSED (CASE_CLOSED, field taskId):
    its closure ends the strategy's work on it (the next daily run cancels its open tasks)."""
    if standing.status is CaseStatus.CLOSED:
        raise CaseClosed(f"case {reference} is closed", field="taskId")


def due_reasons(tasks: Iterable[Task], today: date) -> list[str]:
    """The worklist's reasons for a case's tasks due by ``today``, the earliest due first."""
    due = sorted((t for t in tasks if t.due_by(today)), key=lambda t: (t.due_on, t.id or 0))
    return [t.due_reason() for t in due]


def case_order(tasks: Iterable[Task]) -> list[Task]:
    """A case's tasks as ``Case.tasks`` lists them: OPEN first, earliest due first; then the
    rest newest first (by creation)."""
    found = list(tasks)
    opened = sorted((t for t in found if t.open), key=lambda t: (t.due_on, t.id or 0))
    closed = sorted(
        (t for t in found if not t.open), key=lambda t: (t.created_at, t.id or 0), reverse=True
    )
    return [*opened, *closed]
