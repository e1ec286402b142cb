"""Repository and unit-of-work Protocols that the store implements."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Protocol

from domain.agencies.model import Agency
from domain.borrowers.model import Borrower
from domain.cases.model import Case
from domain.flags.effects import Protection
from domain.staff.model import Staff


class CaseRepository(Protocol):
    async def get(self, case_id: int) -> Case | None:
        """Returns the case with that id, locked for update where the database can."""
        ...

    async def get_with_debts(self, case_id: int) -> Case | None:
        """Returns the case locked, as ``get``, with its debts and their schedules loaded
        (after the lock, so that they are current)."""
        ...

    def add(self, case: Case) -> None: ...

    async def count_open_assigned_to(self, staff_id: int) -> int:
        """Returns how many open cases the staff member carries."""
        ...


class StaffRepository(Protocol):
    async def get_by_login(self, login: str) -> Staff | None: ...

    async def get(self, staff_id: int) -> Staff | None: ...


class AgencyRepository(Protocol):
    async def get_by_name(self, name: str) -> Agency | None: ...


class BorrowerRepository(Protocol):
    async def get(self, borrower_id: int) -> Borrower | None:
        """Returns the borrower if the caller may see them, else None."""
        ...


class RevealLedger(Protocol):
    async def since(self, actor_id: int, since: datetime) -> tuple[int, datetime | None]:
        """Returns how many values the staff member revealed since ``since`` and when the
        oldest of them was, holding the staff member's reveals serialised until commit."""
        ...


class ProtectionReader(Protocol):
    async def of_case(self, case_id: int, borrower_id: int) -> Protection:
        """Returns the protections in force on a case: its open complaints and disputes and
        its borrower's active flags (``domain.flags.effects``)."""
        ...


class UnitOfWork(Protocol):
    @property
    def cases(self) -> CaseRepository: ...

    @property
    def staff(self) -> StaffRepository: ...

    @property
    def agencies(self) -> AgencyRepository: ...

    @property
    def borrowers(self) -> BorrowerRepository: ...

    @property
    def reveals(self) -> RevealLedger: ...

    @property
    def protections(self) -> ProtectionReader: ...

    def record(self, event: object) -> None:
        """Records an event that belongs to no aggregate (e.g. a reveal) for the commit."""
        ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Persists every change and the events the aggregates recorded, atomically."""
        ...

    async def rollback(self) -> None: ...
