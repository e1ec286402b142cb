"""Ports of flag work: the repository and the unit of work that holds it."""

from __future__ import annotations

from typing import Protocol

from domain.flags.model import BorrowerFlag
from domain.ports import UnitOfWork


class FlagRepository(Protocol):
    async def active(self, borrower_id: int) -> list[BorrowerFlag]:
        """Returns the borrower's active flags, with the borrower's flag work serialised until
        commit (two requests setting the same flag: the second sees the first)."""
        ...

    async def add(self, flag: BorrowerFlag) -> None:
        """Adds a new flag and gives it its id."""
        ...

    async def save(self, flag: BorrowerFlag) -> None:
        """Writes a lifted flag."""
        ...

    async def cases_of(self, borrower_id: int) -> list[tuple[int, str]]:
        """Returns (id, portfolio) of every case of the borrower, whoever may see them: a flag
        covers them all."""
        ...


class FlagsUnitOfWork(UnitOfWork, Protocol):
    async def __aenter__(self) -> FlagsUnitOfWork: ...

    @property
    def flags(self) -> FlagRepository: ...
