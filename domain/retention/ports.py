"""Ports of legal-hold work: the repository and the unit of work that holds it."""

from __future__ import annotations

from typing import Protocol

from domain.ports import UnitOfWork
from domain.retention.model import LegalHold


class LegalHoldRepository(Protocol):
    async def get(self, hold_id: int) -> LegalHold | None:
        """Returns the hold, whatever its case (the caller checks the case's scope and takes its
        lock: every change of a case's holds holds it)."""
        ...

    async def in_force(self, case_id: int) -> LegalHold | None:
        """Returns the case's hold in force, if it has one (the caller holds the case's lock)."""
        ...

    async def add(self, hold: LegalHold) -> None:
        """Adds a new hold and gives it its id."""
        ...

    async def save(self, hold: LegalHold) -> None:
        """Writes a released hold."""
        ...


class LegalHoldsUnitOfWork(UnitOfWork, Protocol):
    async def __aenter__(self) -> LegalHoldsUnitOfWork: ...

    @property
    def legal_holds(self) -> LegalHoldRepository: ...
