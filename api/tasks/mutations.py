"""completeTask: parse input → call the tasks service → map the result."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.common.idempotency import UnitsOfWork, exactly_once
from api.common.ids import pk_of
from api.common.inputs import check_text
from api.common.types import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    refused,
)
from api.context import Context, Info
from api.permissions import needs
from api.tasks.types import Task
from domain.errors import ConcurrencyConflict, DomainError, IdempotencyKeyReused
from domain.tasks import services
from domain.tasks.errors import TaskAlreadyClosed, TaskNotFound
from domain.tasks.model import MAX_NOTE
from store import loaders
from store.audit import AuditAction


@strawberry.input
class CompleteTaskInput:
    task_id: strawberry.ID
    note: str | None = strawberry.field(
        default=None, description=f"What was done (at most {MAX_NOTE} characters)."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Any unique string (e.g. a UUID): a retry with the same key and task "
        "returns the first result instead of TASK_ALREADY_CLOSED; the key used for anything "
        "else is refused (IDEMPOTENCY_KEY_REUSED).",
    )


@strawberry.type
class CompleteTaskSuccess:
    task: Task


CompleteTaskPayload = Annotated[
    CompleteTaskSuccess | NotFoundError | RuleViolationError | ValidationError | ConflictError,
    strawberry.union("CompleteTaskPayload"),
]


def _task_pk(pk: int | None) -> int:
    """The decoded task id, or the refusal of an id that names no task."""
    if pk is None:
        raise TaskNotFound("no such task", field="taskId")
    return pk


async def _replay(ctx: Context, key: str, task_pk: int) -> CompleteTaskSuccess | None:
    """Returns what the completion made with this key answered (None if the key is unused);
    refuses the key if it was used for anything else: another operation, or another task (the
    claim names the case, and the task completed under it carries the claim's instant and the
    caller)."""
    assert ctx.viewer.id is not None
    viewer_id = ctx.viewer.id
    claim = await ctx.read(lambda session: loaders.idempotency_claim(session, viewer_id, key))
    if claim is None:
        return None
    task = await ctx.tasks.load(task_pk)
    if (
        claim.operation != AuditAction.TASK_COMPLETE
        or task is None
        or task.case_id != claim.case_id
        or task.completed_by != viewer_id
        or task.completed_at != claim.at
    ):
        raise IdempotencyKeyReused(
            f"this idempotency key was already used for another {claim.operation}",
            field="idempotencyKey",
        )
    ctx.audit.saw_cases([task.case_id])
    return CompleteTaskSuccess(task=Task.from_domain(task))


async def complete_task(info: Info, data: CompleteTaskInput) -> CompleteTaskPayload:
    """Completes the task once per idempotency key (a retry answers with the first result)."""
    ctx = info.context
    check_text("input.note", data.note)
    check_text("input.idempotencyKey", data.idempotency_key)
    pk = pk_of(data.task_id, "Task")
    now = ctx.clock.now()
    try:
        task_pk = _task_pk(pk)

        async def work(units: UnitsOfWork) -> CompleteTaskSuccess:
            task = await services.complete_task(
                units, ctx.clock, ctx.viewer.id, task_pk, data.note, at=now
            )
            ctx.audit.saw_cases([task.case_id])
            return CompleteTaskSuccess(task=Task.from_domain(task))

        return await exactly_once(
            ctx,
            data.idempotency_key,
            AuditAction.TASK_COMPLETE,
            lambda key: _replay(ctx, key, task_pk),
            work,
            # A retry racing the original waits on the case's lock, then finds the task DONE by
            # the original: it answers with the original's result.
            retry_on=(ConcurrencyConflict, TaskAlreadyClosed),
            at=now,
        )
    except DomainError as error:
        return await refused(ctx, AuditAction.TASK_COMPLETE, error, "Task", pk)


@strawberry.type
class TaskMutation:
    @strawberry.mutation(
        description="Completes an OPEN task on a case you may work (your own as a collector, "
        "your team's as a team lead, your agency's current placements, legal's cases as legal; "
        "every case as a manager), with an optional note of what was done. A task on a case "
        "outside your scope is TASK_NOT_FOUND, as one that does not exist; a task of a case "
        "closed since the last daily run (which cancels it) is CASE_CLOSED.",
        extensions=needs("task:complete"),
    )
    async def complete_task(self, info: Info, input: CompleteTaskInput) -> CompleteTaskPayload:
        return await complete_task(info, input)
