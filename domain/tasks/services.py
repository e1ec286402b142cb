"""Use cases of task work: completeTask, one unit of work.

The task is found through its case's scope (TASK_NOT_FOUND outside it, exactly as for one that
does not exist); its case is locked and the task read again, so a concurrent completion or
cancellation is seen (TASK_ALREADY_CLOSED) rather than overwritten, and a case closed since the
last daily run (which cancels its open tasks) is refused with its closure (CASE_CLOSED). The
event is the case's own (``TaskCompleted``): the timeline's TASK entry and the audit entry read
it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.clock import Clock
from domain.lifecycle.moves import standing_of
from domain.tasks.errors import TaskNotFound
from domain.tasks.events import TaskCompleted
from domain.tasks.model import Task, check_case_open
from domain.tasks.ports import TasksUnitOfWork

UowFactory = Callable[[], TasksUnitOfWork]


def _not_found() -> TaskNotFound:
    return TaskNotFound("no such task", field="taskId")


async def complete_task(
    uow_factory: UowFactory,
    clock: Clock,
    actor_id: int | None,
    task_id: int,
    note: str | None,
    *,
    at: datetime | None = None,
) -> Task:
    """Completes an OPEN task on a case the caller may work and the life cycle has not closed,
    with an optional note; ``at`` is the instant recorded (default: now)."""
    async with uow_factory() as uow:
        found = await uow.tasks.get(task_id)
        case = await uow.cases.get(found.case_id) if found is not None else None
        if case is None or case.id is None:
            raise _not_found()
        task = await uow.tasks.get(task_id, lock=True)  # current now that its case is locked
        if task is None or task.id is None:
            raise _not_found()
        now = at or clock.now()
        task.check_open()
        check_case_open(standing_of(case), case.reference)
        task.complete(note, actor_id, now)
        await uow.tasks.save(task)
        case.events.append(
            TaskCompleted(case.id, now, actor_id, task.id, task.kind.value, task.step)
        )
        await uow.commit()
        return task
