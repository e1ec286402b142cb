"""GraphQL types of payments: Payment, its allocations, and a case's payments (a connection)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.common.ids import to_global_id
from api.common.pagination import Connection, connection, page_size
from api.common.types import Money, Node
from api.context import Info
from api.errors import BadUserInput
from domain.money import Money as DomainMoney
from domain.payments.model import Payment as DomainPayment
from domain.payments.waterfall import DebtComponent as DomainDebtComponent
from store import payment_queries
from store.keyset import InvalidCursor
from store.nested_pages import PageKey

if TYPE_CHECKING:
    from api.cases.types import Debt

strawberry.enum(
    DomainDebtComponent,
    name="DebtComponent",
    description="A balance of a debt that money goes to: PENALTY, FEE, INTEREST, PRINCIPAL (the "
    "default waterfall's order), or UNAPPLIED: credit above the balance.",
)
DebtComponent = DomainDebtComponent


@strawberry.type(description="How much of a payment went to one component of its debt.")
class PaymentAllocation:
    component: DebtComponent
    amount: Money


@strawberry.type(
    description="Money received for a debt, applied oldest instalment first and to the "
    "components in waterfall order (penalty, fee, interest, principal); anything above the "
    "outstanding stays UNAPPLIED. Provisional until the core banking system's feed books it."
)
class Payment(Node):
    amount: Money
    paid_at: datetime = strawberry.field(description="When the money was paid.")
    reference: str = strawberry.field(description="The sender's reference (unique).")
    reversed: bool
    reversed_at: datetime | None = strawberry.field(description="When it was reversed, if it was.")
    recovery: bool = strawberry.field(
        description="A recovery: paid on a debt that is WRITTEN_OFF, on or after its write-off "
        "(it never returns the case to an earlier stage)."
    )
    _pk: strawberry.Private[int]
    _debt_id: strawberry.Private[int]
    _currency: strawberry.Private[str]

    @strawberry.field(
        description="The split by component, in the order applied; the amounts add up to the "
        "payment's amount."
    )
    async def allocations(self, info: Info) -> list[PaymentAllocation]:
        rows = await info.context.payment_allocations.load(self._pk)
        return [
            PaymentAllocation(
                component=row.component,
                amount=Money.from_domain(DomainMoney(row.amount, self._currency)),
            )
            for row in rows
        ]

    @strawberry.field(description="The debt the payment was for.")
    async def debt(self, info: Info) -> Annotated[Debt, strawberry.lazy("api.cases.types")]:
        from api.cases.types import Debt

        debt = await info.context.debts.load(self._debt_id)
        assert debt is not None  # a payment in scope is on a case in scope, and so its debt
        return Debt.from_domain(debt)

    @classmethod
    def from_domain(cls, payment: DomainPayment) -> Payment:
        assert payment.id is not None
        return cls(
            id=strawberry.ID(to_global_id("Payment", payment.id)),
            amount=Money.from_domain(DomainMoney(payment.amount, payment.currency)),
            paid_at=payment.paid_at,
            reference=payment.reference,
            reversed=payment.reversed,
            reversed_at=payment.reversed_at,
            recovery=payment.recovery,
            _pk=payment.id,
            _debt_id=payment.debt_id,
            _currency=payment.currency,
        )


async def payment_node(info: Info, pk: int) -> Payment | None:
    """Returns a payment of a case the viewer can see (``node(id:)``), else None."""
    payment = await info.context.payments.load(pk)
    if payment is None:
        return None
    info.context.audit.saw_cases([payment.case_id])
    return Payment.from_domain(payment)


async def payments_of_case(
    info: Info, case_pk: int, first: int | None, after: str | None
) -> Connection[Payment]:
    """Returns a page of a case's payments, newest first (the case is already in scope)."""
    ctx = info.context
    limit = page_size(first)
    try:
        position = payment_queries.decode_cursor(after) if after else None
    except InvalidCursor as exc:
        raise BadUserInput(f"after: {exc}") from None
    # Batched over every case of the request that asks (one statement per size and position).
    page = await ctx.payment_pages.load(PageKey(case_pk, limit, after or None, position))
    for row in page.rows:
        assert row.id is not None
        ctx.payments.prime(row.id, row)
    return connection(
        page.rows,
        page.more,
        after=after,
        cursor=payment_queries.encode_cursor,
        node=Payment.from_domain,
        count=lambda: ctx.payment_counts.load(case_pk),
    )
