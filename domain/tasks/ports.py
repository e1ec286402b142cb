"""Ports of task work: the repository and the unit of work that holds it."""

from __future__ import annotations

from typing import Protocol

from domain.ports import UnitOfWork
from domain.tasks.model import Task


class TaskRepository(Protocol):
    async def get(self, task_id: int, *, lock: bool = False) -> Task | None:
        """Returns the task (locked if asked) if the caller may see its case, else None."""
        ...

    async def save(self, task: Task) -> None:
        """Writes a changed task under its version (CONFLICT if it moved meanwhile) and moves
        its version on."""
        ...


class TasksUnitOfWork(UnitOfWork, Protocol):
    async def __aenter__(self) -> TasksUnitOfWork: ...

    @property
    def tasks(self) -> TaskRepository: ...
