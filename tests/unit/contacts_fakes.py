"""In-memory fakes of the contact work's ports (``domain/contacts/ports.py``), on top of the shared
fakes: a unit of work that also holds contact points and contacts."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from domain.agencies.model import Agency
from domain.borrowers.model import Borrower
from domain.cases.model import Case
from domain.conduct.engine import PastContact
from domain.conduct.profiles import ConductProfile, profile
from domain.contacts.model import Contact, ContactOutcome, ContactParty, ContactPoint
from domain.contacts.ports import ContactRepository, ContactsUnitOfWork
from domain.staff.model import Staff
from tests.unit.fakes import FakeUnitOfWork


class FakeContactPointRepository:
    def __init__(self, points: list[ContactPoint], visible_borrowers: set[int]) -> None:
        self.points = list(points)
        self.visible = visible_borrowers
        self._ids = itertools.count(1000)

    async def get(self, point_id: int) -> ContactPoint | None:
        found = next((p for p in self.points if p.id == point_id), None)
        return found if found is not None and found.borrower_id in self.visible else None

    async def of_borrower(self, borrower_id: int) -> list[ContactPoint]:
        return [p for p in self.points if p.borrower_id == borrower_id]

    async def add(self, point: ContactPoint) -> None:
        point.id = next(self._ids)
        self.points.append(point)


class FakeContactRepository:
    def __init__(
        self,
        staff: list[Staff],
        cases: list[Case],
        points: list[ContactPoint] | None = None,
        borrowers: list[Borrower] | None = None,
    ) -> None:
        self.contacts: list[Contact] = []
        self.borrowers = {b.id: b for b in borrowers or []}
        self.points = points if points is not None else []  # shared with the points' fake
        self.staff = staff
        self.case_ids = {c.id for c in cases}
        self.locked: list[int] = []
        self._ids = itertools.count(1)

    async def get(self, contact_id: int) -> Contact | None:
        found = next((c for c in self.contacts if c.id == contact_id), None)
        return found if found is not None and found.case_id in self.case_ids else None

    async def add(self, contact: Contact) -> None:
        contact.id = next(self._ids)
        self.contacts.append(contact)

    async def lock_borrower(self, borrower_id: int) -> Borrower | None:
        self.locked.append(borrower_id)
        return self.borrowers.get(borrower_id)

    async def history(self, borrower_id: int, at: datetime) -> list[PastContact]:
        keys = {p.id: p.key for p in self.points}
        return [
            PastContact(
                c.at,
                c.case_id,
                c.channel,
                c.party,
                c.direction,
                c.contact_point_id,
                c.outcome,
                c.blocked,
                c.consented,
                c.agency_id,
                keys.get(c.contact_point_id),
            )
            for c in self.contacts
            if c.borrower_id == borrower_id
            and (
                at - timedelta(days=8) < c.at <= at
                or (c.party == ContactParty.UNRELATED_THIRD_PARTY
                    and c.outcome == ContactOutcome.REFUSED_TO_PAY)
            )
        ]  # fmt: skip

    async def staff_by_login(self, login: str) -> Staff | None:
        return next((s for s in self.staff if s.login == login), None)


class FakeRuleSets:
    """No approved versions: every conduct profile is its checked-in version."""

    async def conduct_profile(self, name: str, at: datetime) -> ConductProfile:
        return profile(name)


class FakeContactsUnitOfWork(FakeUnitOfWork):
    """The shared fake unit of work with contact points and contacts; only what a commit keeps
    is kept (a rolled-back unit of work drops the contacts and points it added)."""

    def __init__(
        self,
        cases: list[Case],
        staff: list[Staff],
        borrowers: list[Borrower],
        points: list[ContactPoint],
        agencies: list[Agency] | None = None,
    ) -> None:
        super().__init__(cases, staff, agencies or [], borrowers)
        self.contact_points = FakeContactPointRepository(points, {b.id for b in borrowers if b.id})
        self.contacts = FakeContactRepository(staff, cases, self.contact_points.points, borrowers)
        self.rule_sets = FakeRuleSets()
        self._kept = (0, len(points))

    async def __aenter__(self) -> FakeContactsUnitOfWork:
        self._kept = (len(self.contacts.contacts), len(self.contact_points.points))
        return self

    async def commit(self) -> None:
        await super().commit()
        self._kept = (len(self.contacts.contacts), len(self.contact_points.points))

    async def rollback(self) -> None:
        await super().rollback()
        del self.contacts.contacts[self._kept[0] :]
        del self.contact_points.points[self._kept[1] :]

    def factory(self) -> FakeContactsUnitOfWork:
        return self


# Static conformance to the ports (checked by mypy; never called).
def _conforms(uow: FakeContactsUnitOfWork) -> tuple[ContactsUnitOfWork, ContactRepository]:
    return uow, uow.contacts
