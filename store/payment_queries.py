"""Reads of payments for the API: by id and the allocations of many (one statement per batch,
each limited by the caller's case scope), a case's payments newest first in keyset pages, and
the payment an idempotency key produced."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.payments.model import Payment
from domain.payments.waterfall import ComponentAllocation, DebtComponent
from store import keyset, loaders, tables
from store.audit import AuditAction

LISTING = "case-payments"
y = tables.payments.c


def _visible(scope: ColumnElement[bool] | None) -> ColumnElement[bool]:
    """Payments of the cases the scope lets through."""
    if scope is None:
        return y.case_id.is_not(None)
    return y.case_id.in_(select(tables.cases.c.id).where(scope))


async def payments_by_id(
    session: AsyncSession, ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[Payment | None]:
    stmt = select(Payment).where(y.id.in_(ids), _visible(scope))
    found = {p.id: p for p in (await session.execute(stmt)).scalars()}
    return [found.get(i) for i in ids]


async def allocations_by_payment_id(
    session: AsyncSession, ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[list[ComponentAllocation]]:
    """Returns each payment's split by component, in the order it was applied (the payments
    already passed the scope)."""
    a = tables.payment_allocations.c
    stmt = select(a.payment_id, a.component, a.amount).where(a.payment_id.in_(ids)).order_by(a.id)
    grouped: dict[int, list[ComponentAllocation]] = defaultdict(list)
    for row in (await session.execute(stmt)).all():
        grouped[row.payment_id].append(
            ComponentAllocation(DebtComponent(row.component), row.amount)
        )
    return [grouped.get(i, []) for i in ids]


def encode_cursor(payment: Payment) -> str:
    assert payment.id is not None
    return keyset.encode_cursor(LISTING, payment.id, payment.paid_at.isoformat())


def decode_cursor(cursor: str) -> keyset.Keyset:
    """Returns the keyset of a cursor of this listing, or raises InvalidCursor."""
    position = keyset.decode_cursor(cursor, LISTING)
    try:
        paid_at = datetime.fromisoformat(position.value)
    except (TypeError, ValueError):
        raise keyset.InvalidCursor("malformed cursor") from None
    if paid_at.tzinfo is None:
        raise keyset.InvalidCursor("malformed cursor")
    return keyset.Keyset(paid_at, position.id)


async def claimed_payment(
    session: AsyncSession, staff_id: int, key: str
) -> tuple[str, Payment | None] | None:
    """Returns the operation an idempotency key of a caller was used for and, for a posting,
    the payment it made (None when the key is unused).

    The key's claim and the payment (which keeps the key) commit in one transaction."""
    claimed = await loaders.idempotent_result(session, staff_id, key)
    if claimed is None:
        return None
    operation = claimed[0]
    if operation != AuditAction.PAYMENT_POST:
        return operation, None
    made = select(Payment).where(y.posted_by == staff_id, y.idempotency_key == key)
    return operation, (await session.execute(made)).scalar_one_or_none()
