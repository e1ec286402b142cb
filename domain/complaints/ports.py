"""Ports of complaint work: the repository and the unit of work that holds it."""

from __future__ import annotations

from typing import Protocol

from domain.complaints.model import Complaint
from domain.ports import UnitOfWork


class ComplaintRepository(Protocol):
    async def get(self, complaint_id: int) -> Complaint | None:
        """Returns the complaint, locked, if the caller may see its case, else None."""
        ...

    async def add(self, complaint: Complaint) -> None:
        """Adds a new complaint and gives it its id."""
        ...

    async def save(self, complaint: Complaint) -> None:
        """Writes a changed complaint (its resolution)."""
        ...


class ComplaintsUnitOfWork(UnitOfWork, Protocol):
    async def __aenter__(self) -> ComplaintsUnitOfWork: ...

    @property
    def complaints(self) -> ComplaintRepository: ...
