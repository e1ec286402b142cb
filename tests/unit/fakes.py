"""In-memory fakes of the repository and unit-of-work Protocols in ``domain/ports.py``.

They behave like the SQL unit of work where the services can tell: repositories remember the
aggregates they handed out, ``commit`` collects (and clears) the events those aggregates
recorded, and leaving the ``async with`` block on an exception rolls back.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType

from domain.agencies.model import Agency
from domain.borrowers.model import Borrower
from domain.cases.events import CaseEvent
from domain.cases.model import Case, CaseStatus
from domain.flags.effects import NO_PROTECTION, Protection
from domain.ports import (
    AgencyRepository,
    BorrowerRepository,
    CaseRepository,
    RevealLedger,
    StaffRepository,
    UnitOfWork,
)
from domain.staff.model import Staff


class FakeCaseRepository:
    def __init__(self, cases: list[Case]) -> None:
        self.by_id: dict[int, Case] = {}
        self.seen: list[Case] = []
        for case in cases:
            assert case.id is not None, "fake cases need ids"
            self.by_id[case.id] = case

    def _see(self, case: Case) -> None:
        if all(case is not s for s in self.seen):
            self.seen.append(case)

    async def get(self, case_id: int) -> Case | None:
        case = self.by_id.get(case_id)
        if case is not None:
            self._see(case)
        return case

    async def get_with_debts(self, case_id: int) -> Case | None:
        return await self.get(case_id)  # fake cases hold their debts and schedules

    def add(self, case: Case) -> None:
        assert case.id is not None, "fake cases need ids"
        self.by_id[case.id] = case
        self._see(case)

    async def count_open_assigned_to(self, staff_id: int) -> int:
        return sum(
            1
            for case in self.by_id.values()
            if case.assignee_id == staff_id and case.status != CaseStatus.CLOSED
        )


class FakeStaffRepository:
    def __init__(self, staff: list[Staff]) -> None:
        self.by_login = {s.login: s for s in staff}

    async def get_by_login(self, login: str) -> Staff | None:
        return self.by_login.get(login)

    async def get(self, staff_id: int) -> Staff | None:
        return next((s for s in self.by_login.values() if s.id == staff_id), None)


class FakeAgencyRepository:
    def __init__(self, agencies: list[Agency]) -> None:
        self.by_name = {a.name: a for a in agencies}

    async def get_by_name(self, name: str) -> Agency | None:
        return self.by_name.get(name)


class FakeBorrowerRepository:
    """Holds the borrowers the caller may see (others are simply absent)."""

    def __init__(self, borrowers: list[Borrower]) -> None:
        self.by_id = {b.id: b for b in borrowers}

    async def get(self, borrower_id: int) -> Borrower | None:
        return self.by_id.get(borrower_id)


class FakeRevealLedger:
    """Reveals already made, as (actor id, instant)."""

    def __init__(self) -> None:
        self.made: list[tuple[int, datetime]] = []

    async def since(self, actor_id: int, since: datetime) -> tuple[int, datetime | None]:
        times = [at for actor, at in self.made if actor == actor_id and at >= since]
        return len(times), min(times, default=None)


class FakeProtectionReader:
    """The protections in force per case id (none unless set)."""

    def __init__(self) -> None:
        self.by_case: dict[int, Protection] = {}

    async def of_case(self, case_id: int, borrower_id: int) -> Protection:
        return self.by_case.get(case_id, NO_PROTECTION)


class FakeUnitOfWork:
    """Records whether (and how often) it committed and keeps the events it persisted."""

    def __init__(
        self,
        cases: list[Case],
        staff: list[Staff],
        agencies: list[Agency],
        borrowers: list[Borrower] | None = None,
    ) -> None:
        self.cases = FakeCaseRepository(cases)
        self.staff = FakeStaffRepository(staff)
        self.agencies = FakeAgencyRepository(agencies)
        self.borrowers = FakeBorrowerRepository(borrowers or [])
        self.reveals = FakeRevealLedger()
        self.protections = FakeProtectionReader()
        self.recorded: list[object] = []
        self._pending: list[object] = []
        self.committed = False
        self.commit_count = 0
        self.rolled_back = False
        self.events: list[CaseEvent] = []

    def record(self, event: object) -> None:
        self._pending.append(event)

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            await self.rollback()

    async def commit(self) -> None:
        self.committed = True
        self.commit_count += 1
        for case in self.cases.seen:
            self.events.extend(case.events)
            case.events.clear()
        self.recorded.extend(self._pending)
        self._pending.clear()

    async def rollback(self) -> None:
        self.rolled_back = True
        self._pending.clear()

    def factory(self) -> FakeUnitOfWork:
        """The ``uow_factory`` the services take: always this unit of work."""
        return self


# Static conformance to the ports (checked by mypy; never called).
def _conforms(
    uow: FakeUnitOfWork,
) -> tuple[
    UnitOfWork, CaseRepository, StaffRepository, AgencyRepository, BorrowerRepository, RevealLedger
]:
    return uow, uow.cases, uow.staff, uow.agencies, uow.borrowers, uow.reveals
