"""Access-matrix declarations of tasks (tests/operations.py joins them to OPERATIONS):

- ``tasks`` and ``node`` for a Task, ``case:read`` — a task is visible exactly when its case is:
  every role lists the tasks of the cases it can see (an empty connection outside its scope),
  and a task out of scope is null as a node;
- completeTask, ``task:complete`` — the roles that work cases (collectors, team leads, managers,
  legal, agency staff), each on the cases of its scope only: outside it a task is
  TASK_NOT_FOUND, exactly as one that does not exist.

Case.treatment, Case.tasks and WorklistItem.tasks are fields of types read wherever the case is
(tests/e2e/test_tasks.py covers them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from store import tables
from tests.factories import TASK_STEP, add_task, global_id
from tests.matrix import (
    CASE_TARGETS,
    Cell,
    Empty,
    Forbidden,
    Null,
    Operation,
    Refused,
    Target,
    roles_holding,
)
from tests.operations_contacts import case_in_reach

t, ev = tables.tasks.c, tables.case_events.c
PAYLOAD = "__typename ... on UserError { code field }"

COMPLETE = f"""
mutation($input: CompleteTaskInput!) {{
  r: completeTask(input: $input) {{
    {PAYLOAD}
    ... on CompleteTaskSuccess {{ task {{ id status step note completedBy {{ login }} }} }}
  }}
}}
"""


@dataclass
class TaskTarget(Target):
    """A case with an OPEN task (``task``) as the daily run makes it."""

    task: int | None = None


async def _task(cell: Cell, target: Target) -> TaskTarget:
    made = target.made
    return TaskTarget(case=made, task=await add_task(cell.engine, made))


async def fresh_task(cell: Cell) -> Target:
    return await _task(cell, await case_in_reach(cell))


async def world_task(cell: Cell) -> Target:
    name = CASE_TARGETS[cell.login][0 if cell.inside is not False else 1]
    assert name is not None
    return await _task(cell, Target(case=cell.world.cases[name]))


def complete_variables(target: Target) -> dict[str, Any]:
    assert isinstance(target, TaskTarget) and target.task is not None
    return {"input": {"taskId": global_id("Task", target.task), "note": "matrix note"}}


async def tasks_of(cell: Cell) -> tuple[Any, ...]:
    """What a refusal leaves alone: the case's tasks and events."""
    case_id = cell.target.made.case.id
    async with cell.engine.connect() as conn:
        rows = (await conn.execute(select(tables.tasks).where(t.case_id == case_id))).all()
        stmt = select(ev.name).where(ev.case_id == case_id).order_by(ev.id)
        events = tuple((await conn.execute(stmt)).scalars())
    return tuple(tuple(r) for r in rows), events


async def check_complete(op: Operation, cell: Cell) -> None:
    target = cell.target
    assert isinstance(target, TaskTarget) and target.task is not None
    result, request_id = await cell.result(op.document, op.variables(target))
    assert result == {
        "__typename": "CompleteTaskSuccess",
        "task": {
            "id": global_id("Task", target.task),
            "status": "DONE",
            "step": TASK_STEP,
            "note": "matrix note",
            "completedBy": {"login": cell.login},
        },
    }
    async with cell.engine.connect() as conn:
        row = (await conn.execute(select(tables.tasks).where(t.id == target.task))).one()
    assert (row.status, row.completed_by, row.note) == (
        "DONE",
        cell.world.staff[cell.login].id,
        "matrix note",
    )
    _, events = await tasks_of(cell)
    assert events == ("TaskCompleted",)
    entries = await cell.entries(request_id)
    assert [(x.action, x.outcome, x.case_ids) for x in entries] == [
        ("task.complete", "ALLOWED", [target.made.case.id])
    ]


def task_of(target: Target) -> str:
    assert isinstance(target, TaskTarget) and target.task is not None
    return global_id("Task", target.task)


TASKS = """
query($caseId: ID) {
  r: tasks(first: 100, filter: {caseId: $caseId}) {
    totalCount edges { node { id status step case { id } } }
  }
}
"""


async def check_tasks(op: Operation, cell: Cell) -> None:
    made = cell.target.made
    async with cell.engine.connect() as conn:
        stmt = select(t.id, t.status).where(t.case_id == made.case.id).order_by(t.due_on, t.id)
        rows = (await conn.execute(stmt)).all()
    assert task_of(cell.target) in [global_id("Task", row.id) for row in rows]
    result, _ = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "totalCount": len(rows),
        "edges": [
            {
                "node": {
                    "id": global_id("Task", row.id),
                    "status": row.status,
                    "step": TASK_STEP,
                    "case": {"id": made.gid},
                }
            }
            for row in rows
        ],
    }


NODE = """
query($id: ID!) { r: node(id: $id) { __typename id ... on Task { status step case { id } } } }
"""


async def check_node(op: Operation, cell: Cell) -> None:
    result, _ = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "Task",
        "id": task_of(cell.target),
        "status": "OPEN",
        "step": TASK_STEP,
        "case": {"id": cell.target.made.gid},
    }


TASK_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="tasks",
        field="tasks",
        document=TASKS,
        variables=lambda target: {"caseId": target.made.gid},
        allowed=roles_holding("case:read"),
        permission="case:read",
        denied=Forbidden("case:read"),
        check=check_tasks,
        scope="case",
        outside=Empty(),
        aim=world_task,
    ),
    Operation(
        name="nodeTask",
        field="node",
        document=NODE,
        variables=lambda target: {"id": task_of(target)},
        allowed=roles_holding("case:read"),
        permission="case:read",
        denied=Null(),
        check=check_node,
        scope="case",
        outside=Null(),
        aim=world_task,
    ),
    Operation(
        name="completeTask",
        field="completeTask",
        document=COMPLETE,
        variables=complete_variables,
        allowed=roles_holding("task:complete"),
        permission="task:complete",
        denied=Forbidden("task:complete"),
        check=check_complete,
        scope="case",
        outside=Refused("NotFoundError", "TASK_NOT_FOUND", "taskId", "task.complete"),
        fresh=fresh_task,
        aim=world_task,
        snapshot=tasks_of,
    ),
)
