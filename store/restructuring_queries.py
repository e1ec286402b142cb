"""Restructurings read for GraphQL: by case and by id (through the caller's case scope, one
statement per table per batch), and the one an idempotency key made."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.restructuring.model import (
    PlanInstalment,
    Restructuring,
    RestructuringKind,
    RestructuringStatus,
)
from domain.staff.model import Staff
from store import loaders, tables
from store.audit import AuditAction

r, ri, cs = tables.restructurings.c, tables.restructuring_instalments.c, tables.cases.c


def restructuring_of(row: Any, instalments: Sequence[PlanInstalment] = ()) -> Restructuring:
    """Returns the restructuring of a ``restructurings`` row, with its plan's instalments."""
    m = row._mapping
    return Restructuring(
        id=m["id"],
        case_id=m["case_id"],
        kind=RestructuringKind(m["kind"]),
        status=RestructuringStatus(m["status"]),
        currency=m["currency"],
        balance=m["balance"],
        concession=m["concession"],
        settlement_amount=m["settlement_amount"],
        settle_by=m["settle_by"],
        waiver_amount=m["waiver_amount"],
        replaced_amount=m["replaced_amount"],
        capitalised_interest=m["capitalised_interest"],
        grace_days=m["grace_days"],
        required_authority=m["required_authority"],
        reason=m["reason"],
        proposed_by=m["proposed_by"],
        proposed_at=m["proposed_at"],
        agency_id=m["agency_id"],
        decided_by=m["decided_by"],
        decided_at=m["decided_at"],
        decision_reason=m["decision_reason"],
        previous_stage=m["previous_stage"],
        payments_in_row=m["payments_in_row"],
        paid_amount=m["paid_amount"],
        ended_at=m["ended_at"],
        idempotency_key=m["idempotency_key"],
        version=m["version"],
        instalments=list(instalments),
    )


async def instalments_of(
    session: AsyncSession, restructuring_ids: Sequence[int]
) -> dict[int, list[PlanInstalment]]:
    """Each restructuring's plan instalments in sequence order (one statement)."""
    if not restructuring_ids:
        return {}
    stmt = (
        select(tables.restructuring_instalments)
        .where(ri.restructuring_id.in_(restructuring_ids))
        .order_by(ri.restructuring_id, ri.sequence)
    )
    grouped: dict[int, list[PlanInstalment]] = defaultdict(list)
    for row in (await session.execute(stmt)).all():
        grouped[row.restructuring_id].append(
            PlanInstalment(
                row.sequence, row.due_date, row.amount, row.amount_paid, row.paid_on, row.id
            )
        )
    return grouped


async def _with_instalments(session: AsyncSession, stmt: Select[Any]) -> list[Restructuring]:
    rows = (await session.execute(stmt)).all()
    plans = await instalments_of(session, [row.id for row in rows])
    return [restructuring_of(row, plans.get(row.id, ())) for row in rows]


def _scoped(stmt: Select[Any], scope: ColumnElement[bool] | None) -> Select[Any]:
    if scope is None:
        return stmt
    return stmt.join(tables.cases, cs.id == r.case_id).where(scope)


async def restructurings_by_case_id(
    session: AsyncSession, case_ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[list[Restructuring]]:
    """Each case's restructurings, newest first (two statements per batch of cases)."""
    stmt = select(tables.restructurings).where(r.case_id.in_(case_ids))
    stmt = _scoped(stmt, scope).order_by(r.proposed_at.desc(), r.id.desc())
    grouped: dict[int, list[Restructuring]] = defaultdict(list)
    for found in await _with_instalments(session, stmt):
        grouped[found.case_id].append(found)
    return [grouped.get(i, []) for i in case_ids]


async def restructurings_by_id(
    session: AsyncSession, ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[Restructuring | None]:
    """Each restructuring, if the scope lets its case through."""
    stmt = _scoped(select(tables.restructurings).where(r.id.in_(ids)), scope)
    found = {x.id: x for x in await _with_instalments(session, stmt)}
    return [found.get(i) for i in ids]


async def proposers_by_restructuring_id(
    session: AsyncSession, ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[Staff | None]:
    """Each restructuring's maker, if the scope lets its case through — without the staff
    scope, a deliberate exception: whoever proposed a concession on a case the viewer may see
    is shown to them (``api.restructuring.types.Restructuring.proposed_by``)."""
    stmt = (
        select(r.id, Staff)
        .select_from(tables.restructurings)
        .join(tables.staff, tables.staff.c.id == r.proposed_by)
        .where(r.id.in_(ids))
    )
    found = {row[0]: row[1] for row in (await session.execute(_scoped(stmt, scope))).all()}
    return [found.get(i) for i in ids]


async def claimed_restructuring(
    session: AsyncSession, staff_id: int, key: str
) -> tuple[str, Restructuring | None] | None:
    """Returns the operation a caller's idempotency key was used for and, for a proposal, the
    restructuring it made (None when the key is unused). The claim and the proposal (which
    keeps the key) commit in one transaction."""
    claimed = await loaders.idempotent_result(session, staff_id, key)
    if claimed is None:
        return None
    operation = claimed[0]
    if operation != AuditAction.RESTRUCTURING_PROPOSE:
        return operation, None
    stmt = select(tables.restructurings).where(r.proposed_by == staff_id, r.idempotency_key == key)
    made = await _with_instalments(session, stmt)
    return operation, made[0] if made else None
