"""What the arrangements need from persistence (the store implements it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.arrangements.promises import PaymentFact, Promise
from domain.ports import UnitOfWork
from domain.restructuring.execution import PlanRepository


@dataclass(frozen=True, slots=True)
class ContactCredit:
    """The case a contact was about, who made it (a promise from it is credited to them), and
    whether it took place: ``blocked`` (a conduct rule refused it) or ``completed`` (it has its
    outcome; an attempt granted by startContact is in progress until then)."""

    case_id: int
    staff_id: int | None
    agency_id: int | None
    blocked: bool
    completed: bool


class PromiseRepository(Protocol):
    async def for_case(self, case_id: int) -> list[Promise]:
        """Returns every promise of a case, oldest first."""
        ...

    async def add(self, promise: Promise) -> None:
        """Adds a promise and gives it its id."""
        ...

    async def payment_facts(self, case_id: int, time_zone: str) -> list[PaymentFact]:
        """Returns the case's payments (reversed ones too) with their local dates in a zone,
        including changes made in this unit of work."""
        ...

    async def contact_credit(self, contact_id: int) -> ContactCredit | None: ...


class PromiseUnitOfWork(UnitOfWork, Protocol):
    @property
    def promises(self) -> PromiseRepository: ...

    @property
    def plans(self) -> PlanRepository:
        """The case's plan or settlement in effect (payments count against it here too)."""
        ...

    async def __aenter__(self) -> PromiseUnitOfWork: ...
