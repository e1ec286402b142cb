"""Reads of payments for the API: by id and the allocations of many (one statement per batch,
each limited by the caller's case scope), a case's payments newest first in keyset pages, and
the payment an idempotency key produced."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.payments.model import Payment
from domain.payments.waterfall import ComponentAllocation, DebtComponent
from store import keyset, tables
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


async def fetch_case_page(
    session: AsyncSession, case_id: int, after: keyset.Keyset | None, first: int
) -> tuple[list[Payment], bool]:
    """Returns a page of a case's payments, newest first (by when paid, ties by id)."""
    stmt = select(Payment).where(y.case_id == case_id).order_by(y.paid_at.desc(), y.id)
    if after is not None:
        stmt = stmt.where(keyset.after_clause(y.paid_at, True, y.id, after))
    return await keyset.fetch_page(session, stmt, first)


async def count_for_case(session: AsyncSession, case_id: int) -> int:
    stmt = select(func.count()).where(y.case_id == case_id)
    return int((await session.execute(stmt)).scalar_one())


async def claimed_payment(
    session: AsyncSession, staff_id: int, key: str
) -> tuple[str, Payment | None] | None:
    """Returns the operation an idempotency key of a caller was used for and, for a posting,
    the payment it made (None when the key is unused).

    The key's claim and the payment (which keeps the key) commit in one transaction."""
    k = tables.idempotency_keys.c
    stmt = select(k.operation).where(k.staff_id == staff_id, k.key == key)
    operation = (await session.execute(stmt)).scalar_one_or_none()
    if operation is None:
        return None
    if operation != AuditAction.PAYMENT_POST:
        return operation, None
    made = select(Payment).where(y.posted_by == staff_id, y.idempotency_key == key)
    return operation, (await session.execute(made)).scalar_one_or_none()
