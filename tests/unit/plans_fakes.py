"""An in-memory plan repository (``domain.restructuring.execution.PlanRepository``) for the
service tests: the restructurings a test puts in effect, the payments of the fake payment
repository as their facts, and each evaluation saved back."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from domain.errors import ConcurrencyConflict
from domain.portfolios import local_date
from domain.restructuring import plans
from domain.restructuring.plans import InEffect, PlanPayment

if TYPE_CHECKING:
    from tests.unit.money_fakes import FakePaymentRepository


class FakePlanRepository:
    def __init__(self, payments: FakePaymentRepository, needed: int | None = None) -> None:
        self.payments = payments
        self.needed = needed
        self.by_id: dict[int, InEffect] = {}

    def put(self, restructuring: InEffect) -> None:
        self.by_id[restructuring.id] = restructuring

    async def current(self, case_id: int) -> InEffect | None:
        mine = [x for x in self.by_id.values() if x.case_id == case_id]
        return max(mine, key=lambda x: x.id) if mine else None

    async def payment_facts(self, case_id: int, time_zone: str) -> list[PlanPayment]:
        return [
            PlanPayment(p.id, p.amount, p.paid_at, local_date(time_zone, p.paid_at), p.reversed)
            for p in self.payments.by_id.values()
            if p.case_id == case_id
        ]

    async def payments_in_row_needed(self, at: datetime) -> int:
        return plans.payments_in_row_needed(self.needed)

    async def save(self, before: InEffect, after: InEffect, at: datetime) -> None:
        stored = self.by_id[before.id]
        if stored.version != before.version:
            raise ConcurrencyConflict("changed meanwhile")
        self.by_id[before.id] = replace(after, version=before.version + 1)
