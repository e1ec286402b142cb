"""Reads of strategies' work on cases, each one statement per batch of cases, through the
caller's case scope: each case's treatment (``case_treatments``, as the last daily run left it)
and its tasks (all of them, or the OPEN ones a worklist shows)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.contacts.model import ContactParty
from domain.strategies.model import TaskKind, TaskStatus
from domain.tasks.model import Task, case_order
from store import tables

t, tr, cs = tables.tasks.c, tables.case_treatments.c, tables.cases.c


@dataclass(frozen=True)
class Treatment:
    """A case's treatment as the last daily run left it (``case_treatments``)."""

    case_id: int
    portfolio: str  # the case's, whose calendar ``next_action_on`` is a date of
    strategy: str
    version: str
    variant: str
    segment: str | None
    entered_on: date
    step: str | None
    step_on: date | None
    next_step: str | None
    next_action_on: date | None
    as_of: date


def task_of(row: Any) -> Task:
    """Returns the task of a ``tasks`` row."""
    r = row._mapping
    return Task(
        id=r["id"],
        case_id=r["case_id"],
        kind=TaskKind(r["kind"]),
        reason=r["reason"],
        party=ContactParty(r["party"]),
        due_on=r["due_on"],
        created_at=r["created_at"],
        strategy=r["strategy"],
        step=r["step"],
        status=TaskStatus(r["status"]),
        assignee_id=r["assignee_id"],
        agency_id=r["agency_id"],
        action_id=r["action_id"],
        completed_at=r["completed_at"],
        completed_by=r["completed_by"],
        note=r["note"],
        version=r["version"],
    )


def _scoped(stmt: Select[Any], scope: ColumnElement[bool] | None) -> Select[Any]:
    return stmt if scope is None else stmt.where(scope)


async def treatments_by_case_id(
    session: AsyncSession, case_ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[Treatment | None]:
    """Returns each case's treatment (None: none recorded, or the case is out of scope)."""
    stmt = (
        select(tables.case_treatments, cs.portfolio.label("case_portfolio"))
        .join(tables.cases, cs.id == tr.case_id)
        .where(tr.case_id.in_(case_ids))
    )
    found: dict[int, Treatment] = {}
    for row in (await session.execute(_scoped(stmt, scope))).all():
        found[row.case_id] = Treatment(
            case_id=row.case_id,
            portfolio=str(row.case_portfolio),
            strategy=row.strategy,
            version=row.version,
            variant=row.variant,
            segment=row.segment,
            entered_on=row.entered_on,
            step=row.step,
            step_on=row.step_on,
            next_step=row.next_step,
            next_action_on=row.next_action_on,
            as_of=row.as_of,
        )
    return [found.get(pk) for pk in case_ids]


async def _tasks_by_case_id(
    session: AsyncSession,
    case_ids: Sequence[int],
    scope: ColumnElement[bool] | None,
    *,
    open_only: bool,
) -> list[list[Task]]:
    stmt = (
        select(tables.tasks)
        .join(tables.cases, cs.id == t.case_id)
        .where(t.case_id.in_(case_ids))
        .order_by(t.case_id, t.id)
    )
    if open_only:
        stmt = stmt.where(t.status == TaskStatus.OPEN.value)
    grouped: dict[int, list[Task]] = defaultdict(list)
    for row in (await session.execute(_scoped(stmt, scope))).all():
        grouped[row.case_id].append(task_of(row))
    return [case_order(grouped.get(pk, [])) for pk in case_ids]


async def tasks_by_case_id(
    session: AsyncSession, case_ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[list[Task]]:
    """Returns each case's tasks: OPEN first, earliest due first, then the rest newest first
    (one statement per batch)."""
    return await _tasks_by_case_id(session, case_ids, scope, open_only=False)


async def open_tasks_by_case_id(
    session: AsyncSession, case_ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[list[Task]]:
    """Returns each case's OPEN tasks, earliest due first (one statement per batch)."""
    return await _tasks_by_case_id(session, case_ids, scope, open_only=True)


async def tasks_by_id(
    session: AsyncSession, ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[Task | None]:
    """Returns each task if the scope lets its case through, else None."""
    stmt = select(tables.tasks).join(tables.cases, cs.id == t.case_id).where(t.id.in_(ids))
    found = {row.id: task_of(row) for row in (await session.execute(_scoped(stmt, scope))).all()}
    return [found.get(pk) for pk in ids]


@dataclass(frozen=True)
class KeyClaim:
    """What a caller's idempotency key was used for: the operation, the one case it changed
    (if one) and the instant of the claim (a completion records its task at that instant)."""

    operation: str
    case_id: int | None
    at: datetime


async def claimed_key(session: AsyncSession, staff_id: int, key: str) -> KeyClaim | None:
    """Returns the claim of a caller's idempotency key (None when the key is unused)."""
    k = tables.idempotency_keys.c
    stmt = select(k.operation, k.case_id, k.created_at).where(k.staff_id == staff_id, k.key == key)
    row = (await session.execute(stmt)).one_or_none()
    return KeyClaim(str(row.operation), row.case_id, row.created_at) if row is not None else None
