"""Tasks in a unit of work: read through the caller's case scope, locked for a change, written
under their version."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import ConcurrencyConflict
from domain.tasks.model import Task
from store import tables
from store.tasks_queries import task_of

t, cs = tables.tasks.c, tables.cases.c


class SqlTaskRepository:
    def __init__(self, session: AsyncSession, case_scope: ColumnElement[bool]) -> None:
        self.session = session
        self.scope = case_scope

    async def get(self, task_id: int, *, lock: bool = False) -> Task | None:
        stmt = (
            select(tables.tasks)
            .join(tables.cases, cs.id == t.case_id)
            .where(t.id == task_id, self.scope)
        )
        if lock:
            stmt = stmt.with_for_update(of=tables.tasks)
        row = (await self.session.execute(stmt)).one_or_none()
        return task_of(row) if row is not None else None

    async def save(self, task: Task) -> None:
        stmt = (
            update(tables.tasks)
            .where(t.id == task.id, t.version == task.version)
            .values(
                status=task.status.value,
                completed_at=task.completed_at,
                completed_by=task.completed_by,
                note=task.note,
                version=task.version + 1,
            )
        )
        result = await self.session.execute(stmt)
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrencyConflict(
                "the task was changed by someone else; reload it and try again", field="taskId"
            )
        task.version += 1
