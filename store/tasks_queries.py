"""Reads of strategies' work on cases, each one statement per batch of cases, through the
caller's case scope: each case's treatment (``case_treatments``, as the last daily run left it)
and its tasks (all of them, or the OPEN ones a worklist shows); and the listing of the tasks of
every case in the caller's scope, earliest due first, in keyset pages."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, not_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import True_

from domain.contacts.model import ContactParty
from domain.strategies.model import TaskKind, TaskStatus
from domain.tasks.model import Task, case_order
from store import keyset, tables
from store.keyset import InvalidCursor

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


# ---- the listing: tasks of the cases in the caller's scope, by due date ------------------------


@dataclass(frozen=True)
class TaskFilterSpec:
    """Which tasks the listing holds: every condition given holds (lists: any of their values)."""

    statuses: Sequence[str] = ()
    kinds: Sequence[str] = ()
    case_id: int | None = None
    # True: the case has neither collector nor agency now (the pool); False: it has one.
    unowned: bool | None = None
    due_by: date | None = None  # due on or before this date (the portfolio's calendar)
    # The caller's case scope (a clause over ``cases``): a task is visible with its case.
    case_scope: ColumnElement[bool] = field(default_factory=true)


def _clauses(spec: TaskFilterSpec) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if not isinstance(spec.case_scope, True_):
        clauses.append(spec.case_scope)
    if spec.statuses:
        clauses.append(t.status.in_(list(spec.statuses)))
    if spec.kinds:
        clauses.append(t.kind.in_(list(spec.kinds)))
    if spec.case_id is not None:
        clauses.append(t.case_id == spec.case_id)
    if spec.unowned is not None:
        pool = and_(cs.assignee_id.is_(None), cs.agency_id.is_(None))
        clauses.append(pool if spec.unowned else not_(pool))
    if spec.due_by is not None:
        clauses.append(t.due_on <= spec.due_by)
    return clauses


LISTING = "tasks:DUE"


def encode_cursor(task: Task) -> str:
    """An opaque cursor of the task's due date and id (no personal data)."""
    assert task.id is not None
    return keyset.encode_cursor(LISTING, task.id, task.due_on.isoformat())


def decode_cursor(cursor: str) -> keyset.Keyset:
    """Returns the position a cursor of this listing holds, or raises InvalidCursor."""
    position = keyset.decode_cursor(cursor, LISTING)
    raw = position.value
    if not isinstance(raw, str) or len(raw) != 10:
        raise InvalidCursor("malformed cursor")
    try:
        due = date.fromisoformat(raw)
    except ValueError:
        raise InvalidCursor("malformed cursor") from None
    return keyset.Keyset(due, position.id)


async def fetch_page(
    session: AsyncSession, spec: TaskFilterSpec, after: keyset.Keyset | None, first: int
) -> tuple[list[Task], bool]:
    """Up to ``first`` tasks after the position, earliest due first (due_on, then id), and
    whether more follow: one statement."""
    clauses = _clauses(spec)
    if after is not None:
        clauses.append(keyset.after_row_clause([(t.due_on, False)], [after.value], t.id, after.id))
    stmt = (
        select(tables.tasks)
        .join(tables.cases, cs.id == t.case_id)
        .where(*clauses)
        .order_by(t.due_on, t.id)
    )
    rows, more = await keyset.fetch_page(session, stmt, first, scalars=False)
    return [task_of(row) for row in rows], more


async def count(session: AsyncSession, spec: TaskFilterSpec) -> int:
    """How many tasks the filter holds in the caller's scope (one statement)."""
    stmt = (
        select(func.count())
        .select_from(tables.tasks.join(tables.cases, cs.id == t.case_id))
        .where(*_clauses(spec))
    )
    return int((await session.execute(stmt)).scalar_one())
