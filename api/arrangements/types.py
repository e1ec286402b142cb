"""GraphQL types of arrangements: PromiseToPay."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.common.ids import to_global_id
from api.common.types import Money, Node
from api.context import Info
from domain.arrangements.promises import Promise as DomainPromise
from domain.arrangements.promises import PromiseStatus as DomainPromiseStatus
from domain.money import Money as DomainMoney

if TYPE_CHECKING:
    from api.staff.types import Agency, Staff

strawberry.enum(
    DomainPromiseStatus,
    name="PromiseStatus",
    description="OPEN until paid in full (KEPT) or until its due date plus grace days have "
    "passed (PARTIALLY_KEPT when something was paid, else BROKEN); SUPERSEDED by a newer "
    "promise on the case; CANCELLED when the case closed while it was open (back to OPEN if "
    "the closing is undone by a reversal).",
)
PromiseStatus = DomainPromiseStatus


@strawberry.type(
    description="A borrower's promise to pay an amount by a date. Payments made from the day "
    "it was made up to its due date plus its grace days count toward it, oldest first."
)
class PromiseToPay(Node):
    amount: Money
    due_date: date = strawberry.field(description="The portfolio's local date.")
    status: PromiseStatus
    paid_amount: Money = strawberry.field(
        description="What counted toward it so far (at most the amount)."
    )
    promised_on: date = strawberry.field(description="The day it was made (local date).")
    grace_days: int = strawberry.field(description="Days after the due date that still count.")
    created_at: datetime
    _pk: strawberry.Private[int]
    _staff_id: strawberry.Private[int | None]
    _agency_id: strawberry.Private[int | None]

    @strawberry.field(description="The collector it is credited to (who made the contact).")
    async def collector(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_staff

        return await load_staff(info, self._staff_id)

    @strawberry.field(description="The agency it is credited to, when an agency made it.")
    async def agency(
        self, info: Info
    ) -> Annotated[Agency, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_agency

        return await load_agency(info, self._agency_id)

    @classmethod
    def from_domain(cls, promise: DomainPromise) -> PromiseToPay:
        assert promise.id is not None and promise.created_at is not None
        return cls(
            id=strawberry.ID(to_global_id("PromiseToPay", promise.id)),
            amount=Money.from_domain(DomainMoney(promise.amount, promise.currency)),
            due_date=promise.due_date,
            status=DomainPromiseStatus(promise.status),
            paid_amount=Money.from_domain(DomainMoney(promise.paid_amount, promise.currency)),
            promised_on=promise.promised_on,
            grace_days=promise.grace_days,
            created_at=promise.created_at,
            _pk=promise.id,
            _staff_id=promise.staff_id,
            _agency_id=promise.agency_id,
        )


async def promise_node(info: Info, pk: int) -> PromiseToPay | None:
    """Returns a promise on a case the viewer can see (``node(id:)``), else None."""
    promise = await info.context.promises.load(pk)
    if promise is None:
        return None
    info.context.audit.saw_cases([promise.case_id])
    return PromiseToPay.from_domain(promise)


async def promises_of_case(info: Info, case_pk: int) -> list[PromiseToPay]:
    """Returns a case's promises, newest first (the case is already in scope)."""
    return [PromiseToPay.from_domain(p) for p in await info.context.promises_of_case.load(case_pk)]
