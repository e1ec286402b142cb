"""In-memory payments and promises for the service tests, beside tests/unit/fakes.py: a unit of
work that also has ``payments`` and ``promises`` (``domain.payments.ports``,
``domain.arrangements.ports``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import count

from domain.arrangements.ports import ContactCredit
from domain.arrangements.promises import PaymentFact, Promise
from domain.cases.model import Case
from domain.payments.errors import PaymentReferenceDuplicate
from domain.payments.model import Payment
from domain.payments.waterfall import Application
from domain.portfolios import local_date
from tests.unit.fakes import FakeCaseRepository, FakeUnitOfWork
from tests.unit.plans_fakes import FakePlanRepository


class FakePaymentRepository:
    def __init__(self, cases: FakeCaseRepository) -> None:
        self.cases = cases
        self.by_id: dict[int, Payment] = {}
        self.applications: dict[int, Application] = {}
        self.written_off: dict[int, datetime] = {}  # debt id: its write-off's instant
        self._ids = count(1)

    async def locate_debt(
        self, debt_id: int | None, account_number: str | None
    ) -> tuple[int, int] | None:
        for case in self.cases.by_id.values():
            for debt in case.debts:
                if (debt_id is not None and debt.id == debt_id) or (
                    debt_id is None and debt.account_number == account_number
                ):
                    assert debt.id is not None and case.id is not None
                    return debt.id, case.id
        return None

    async def written_off_since(self, debt_id: int, case_id: int) -> datetime | None:
        return self.written_off.get(debt_id)

    async def reference_taken(self, reference: str) -> bool:
        return any(p.reference == reference for p in self.by_id.values())

    async def add(self, payment: Payment, application: Application) -> None:
        if await self.reference_taken(payment.reference):
            raise PaymentReferenceDuplicate("duplicate", field="reference")
        payment.id = next(self._ids)
        self.by_id[payment.id] = payment
        self.applications[payment.id] = application

    async def get(self, payment_id: int) -> Payment | None:
        return self.by_id.get(payment_id)

    async def applications_of(self, payments: Sequence[Payment]) -> list[Application]:
        return [self.applications[p.id] for p in payments if p.id is not None]

    async def later_on_debt(self, payment: Payment) -> list[Payment]:
        assert payment.id is not None
        return [
            p
            for pid, p in sorted(self.by_id.items())
            if pid > payment.id and p.debt_id == payment.debt_id and not p.reversed
        ]

    async def replace_applications(self, pairs: Sequence[tuple[Payment, Application]]) -> None:
        for payment, application in pairs:
            assert payment.id is not None
            self.applications[payment.id] = application


class FakePromiseRepository:
    def __init__(
        self, payments: FakePaymentRepository, contacts: dict[int, ContactCredit] | None = None
    ) -> None:
        self.payments = payments
        self.contacts = contacts or {}
        self.all: list[Promise] = []
        self._ids = count(1)

    async def for_case(self, case_id: int) -> list[Promise]:
        return [p for p in self.all if p.case_id == case_id]

    async def add(self, promise: Promise) -> None:
        promise.id = next(self._ids)
        self.all.append(promise)

    async def payment_facts(self, case_id: int, time_zone: str) -> list[PaymentFact]:
        return [
            PaymentFact(p.id, p.amount, local_date(time_zone, p.paid_at), p.reversed)
            for p in self.payments.by_id.values()
            if p.case_id == case_id
        ]

    async def contact_credit(self, contact_id: int) -> ContactCredit | None:
        return self.contacts.get(contact_id)


class FakeMoneyUnitOfWork(FakeUnitOfWork):
    """The fake unit of work with payments, promises and plans in effect."""

    def __init__(self, cases: list[Case], contacts: dict[int, ContactCredit] | None = None) -> None:
        super().__init__(cases, [], [])
        self.payments = FakePaymentRepository(self.cases)
        self.promises = FakePromiseRepository(self.payments, contacts)
        self.plans = FakePlanRepository(self.payments)

    async def __aenter__(self) -> FakeMoneyUnitOfWork:
        return self

    def factory(self) -> FakeMoneyUnitOfWork:
        return self
