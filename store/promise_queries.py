"""Reads of promises for the API: by id and by case (one statement per batch, each limited by
the caller's case scope), and the promise an idempotency key produced."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.arrangements.promises import Promise
from store import loaders, tables
from store.audit import AuditAction

p = tables.promises.c


def _visible(scope: ColumnElement[bool] | None) -> ColumnElement[bool]:
    if scope is None:
        return p.case_id.is_not(None)
    return p.case_id.in_(select(tables.cases.c.id).where(scope))


async def promises_by_id(
    session: AsyncSession, ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[Promise | None]:
    stmt = select(Promise).where(p.id.in_(ids), _visible(scope))
    found = {row.id: row for row in (await session.execute(stmt)).scalars()}
    return [found.get(i) for i in ids]


async def promises_by_case_id(
    session: AsyncSession, case_ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[list[Promise]]:
    """Returns each case's promises, newest first."""
    stmt = (
        select(Promise)
        .where(p.case_id.in_(case_ids), _visible(scope))
        .order_by(p.case_id, p.id.desc())
    )
    grouped: dict[int, list[Promise]] = defaultdict(list)
    for promise in (await session.execute(stmt)).scalars():
        grouped[promise.case_id].append(promise)
    return [grouped.get(i, []) for i in case_ids]


async def claimed_promise(
    session: AsyncSession, staff_id: int, key: str
) -> tuple[str, Promise | None] | None:
    """Returns the operation an idempotency key of a caller was used for and, for a promise,
    the promise it recorded (None when the key is unused): the claim and the promise (which
    keeps the key) commit in one transaction."""
    claimed = await loaders.idempotent_result(session, staff_id, key)
    if claimed is None:
        return None
    operation = claimed[0]
    if operation != AuditAction.PROMISE_RECORD:
        return operation, None
    made = select(Promise).where(p.recorded_by == staff_id, p.idempotency_key == key)
    return operation, (await session.execute(made)).scalar_one_or_none()
