"""Reads by key for the API: the batch fetches behind its per-request DataLoaders (one
statement per batch, each limited by the caller's scope clause), the staff lookup of
authentication and the idempotency-key lookup of mutations."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.agencies.model import Agency
from domain.borrowers.model import Borrower
from domain.cases.model import Case, CaseStage
from domain.debts.model import Debt, Instalment
from domain.staff.model import Staff
from store import tables

T = TypeVar("T")


async def by_ids(
    session: AsyncSession,
    cls: type[T],
    table: Any,
    ids: Sequence[int],
    scope: ColumnElement[bool] | None = None,
) -> list[T | None]:
    """Returns the objects with those ids that the scope lets through, in the order asked
    (None for absent or out-of-scope ones, which look the same)."""
    stmt = select(cls).where(table.c.id.in_(ids))
    if scope is not None:
        stmt = stmt.where(scope)
    rows = (await session.execute(stmt)).scalars()
    found: dict[int, T] = {row.id: row for row in rows}  # type: ignore[attr-defined]
    return [found.get(i) for i in ids]


async def cases_by_id(
    session: AsyncSession, ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[Case | None]:
    return await by_ids(session, Case, tables.cases, ids, scope)


async def borrowers_by_id(
    session: AsyncSession, ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[Borrower | None]:
    return await by_ids(session, Borrower, tables.borrowers, ids, scope)


async def borrowers_in_legal_stage(
    session: AsyncSession, borrower_ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[bool]:
    """Returns, per borrower, whether one of their cases the scope lets through is in stage
    LEGAL (one statement per batch)."""
    c = tables.cases.c
    stmt = (
        select(c.borrower_id)
        .distinct()
        .where(c.borrower_id.in_(borrower_ids), c.stage == CaseStage.LEGAL.value)
    )
    if scope is not None:
        stmt = stmt.where(scope)
    legal = set((await session.execute(stmt)).scalars())
    return [i in legal for i in borrower_ids]


async def staff_by_id(
    session: AsyncSession, ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[Staff | None]:
    return await by_ids(session, Staff, tables.staff, ids, scope)


async def agencies_by_id(
    session: AsyncSession, ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[Agency | None]:
    return await by_ids(session, Agency, tables.agencies, ids, scope)


async def debts_by_id(
    session: AsyncSession, ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[Debt | None]:
    return await by_ids(session, Debt, tables.debts, ids, scope)


async def debts_by_case_id(
    session: AsyncSession, case_ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[list[Debt]]:
    """Returns each case's debts (without their schedules; see instalments_by_debt_id)."""
    stmt = select(Debt).where(tables.debts.c.case_id.in_(case_ids)).order_by(tables.debts.c.id)
    if scope is not None:
        stmt = stmt.where(scope)
    grouped: dict[int, list[Debt]] = defaultdict(list)
    for debt in (await session.execute(stmt)).scalars():
        assert debt.case_id is not None
        grouped[debt.case_id].append(debt)
    return [grouped.get(i, []) for i in case_ids]


async def instalments_by_debt_id(
    session: AsyncSession, debt_ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[list[Instalment]]:
    """Returns each debt's schedule in sequence order (debts already passed the scope)."""
    i = tables.instalments.c
    stmt = select(Instalment, i.debt_id).where(i.debt_id.in_(debt_ids)).order_by(i.sequence)
    grouped: dict[int, list[Instalment]] = defaultdict(list)
    for instalment, debt_id in (await session.execute(stmt)).all():
        grouped[debt_id].append(instalment)
    return [grouped.get(d, []) for d in debt_ids]


async def staff_by_login(session: AsyncSession, login: str) -> Staff | None:
    stmt = select(Staff).where(tables.staff.c.login == login)
    return (await session.execute(stmt)).scalar_one_or_none()


@dataclass(frozen=True)
class KeyClaim:
    """What a caller's idempotency key was used for: the operation, the one case it changed
    (if one) and the instant of the claim (the request's instant, which a change may record)."""

    operation: str
    case_id: int | None
    at: datetime


async def idempotency_claim(session: AsyncSession, staff_id: int, key: str) -> KeyClaim | None:
    """Returns the claim of a caller's idempotency key (None when the key is unused)."""
    k = tables.idempotency_keys.c
    stmt = select(k.operation, k.case_id, k.created_at).where(k.staff_id == staff_id, k.key == key)
    row = (await session.execute(stmt)).one_or_none()
    return KeyClaim(str(row.operation), row.case_id, row.created_at) if row else None


async def idempotent_result(
    session: AsyncSession, staff_id: int, key: str
) -> tuple[str, int | None] | None:
    """Returns (operation, case id) recorded for a caller's idempotency key, if any."""
    claim = await idempotency_claim(session, staff_id, key)
    return (claim.operation, claim.case_id) if claim else None
