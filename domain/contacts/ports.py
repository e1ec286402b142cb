"""Ports of the contact work: its repositories and the unit of work that holds them.

``ContactsUnitOfWork`` extends the shared ``domain.ports.UnitOfWork``; the store's unit of work
implements both."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from domain.borrowers.model import Borrower
from domain.changes.ports import RuleSetReader
from domain.conduct.engine import PastContact
from domain.contacts.model import Contact, ContactPoint
from domain.ports import UnitOfWork
from domain.staff.model import Staff


class ContactPointRepository(Protocol):
    async def get(self, point_id: int) -> ContactPoint | None:
        """Returns the contact point if the caller may see its borrower, else None."""
        ...

    async def of_borrower(self, borrower_id: int) -> list[ContactPoint]:
        """Returns every contact point of a borrower, oldest first."""
        ...

    async def add(self, point: ContactPoint) -> None:
        """Adds a new point and gives it its id."""
        ...


class ContactRepository(Protocol):
    async def get(self, contact_id: int) -> Contact | None:
        """Returns the contact, locked, if the caller may see its case, else None."""
        ...

    async def add(self, contact: Contact) -> None:
        """Adds a new contact and gives it its id."""
        ...

    async def lock_borrower(self, borrower_id: int) -> Borrower | None:
        """Returns the borrower (None: there is none) with their contact work serialised until
        commit: every count the conduct rules take after this sees the contacts committed
        before."""
        ...

    async def history(self, borrower_id: int, at: datetime) -> list[PastContact]:
        """Returns the borrower's contacts (every case, every caller) of the 8 days up to
        ``at``, and every refusal by an unrelated third party ever recorded on them, each with
        its point's ``value_key``."""
        ...

    async def staff_by_login(self, login: str) -> Staff | None:
        """Returns a staff member by login (a second agent on a visit), or None."""
        ...


class ContactsUnitOfWork(UnitOfWork, Protocol):
    async def __aenter__(self) -> ContactsUnitOfWork: ...

    @property
    def contact_points(self) -> ContactPointRepository: ...

    @property
    def contacts(self) -> ContactRepository: ...

    @property
    def rule_sets(self) -> RuleSetReader: ...
