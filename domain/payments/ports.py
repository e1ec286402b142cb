"""What payments need from persistence (the store implements it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from domain.arrangements.ports import PromiseUnitOfWork
from domain.payments.model import Payment
from domain.payments.waterfall import Application


class PaymentRepository(Protocol):
    async def locate_debt(
        self, debt_id: int | None, account_number: str | None
    ) -> tuple[int, int] | None:
        """Returns (debt id, case id) of the debt with that id or account number, if it is on
        a case (the case is then loaded, and locked, through the case repository)."""
        ...

    async def reference_taken(self, reference: str) -> bool: ...

    async def written_off_since(self, debt_id: int, case_id: int) -> datetime | None:
        """Returns the instant the debt was written off, if a write-off of it is stored (a
        payment on a WRITTEN_OFF debt paid from then on is a recovery)."""
        ...

    async def add(self, payment: Payment, application: Application) -> None:
        """Adds a payment with its application and gives it its id; refuses a duplicate
        reference (PaymentReferenceDuplicate) even under a concurrent insert."""
        ...

    async def get(self, payment_id: int) -> Payment | None:
        """Returns a payment of a case the caller can see, locked for update, else None."""
        ...

    async def applications_of(self, payments: Sequence[Payment]) -> list[Application]:
        """Returns how each stored payment was applied (to reverse it exactly), in the order
        given."""
        ...

    async def later_on_debt(self, payment: Payment) -> list[Payment]:
        """Returns the payments on the same debt posted after this one and not reversed, in
        the order they were posted (the case is locked: no other request changes them)."""
        ...

    async def replace_applications(self, pairs: Sequence[tuple[Payment, Application]]) -> None:
        """Replaces how each stored payment was applied (after a reversal re-applied them)."""
        ...


class PaymentUnitOfWork(PromiseUnitOfWork, Protocol):
    @property
    def payments(self) -> PaymentRepository: ...

    async def __aenter__(self) -> PaymentUnitOfWork: ...
