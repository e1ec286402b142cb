"""Allocation as set-based SQL: the pool's cases handed to a team's collectors in one transaction.

A fixed number of statements whatever the number of cases: the team's staff (locked, so that
concurrent allocations and assignments count their capacity one after the other), their open
cases, the candidate cases (locked; on PostgreSQL ``SKIP LOCKED`` leaves cases another
transaction is changing to it), how many match, one UPDATE of the cases (assignee and version,
chunked only past ``CHUNK`` cases for the drivers' parameter limits), and one INSERT of their
``CaseAssigned`` events. Which collector gets which case is the domain's rule
(``domain.allocation.rule.plan``); which cases may be allocated at all is the life cycle's
(``domain.lifecycle.table.where_allowed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, false, func, not_, or_, select, update

from domain.allocation.errors import NoCollectorCapacity, TeamNotFound
from domain.allocation.events import CasesAllocated
from domain.allocation.rule import (
    AllocationStrategy,
    Candidate,
    Collector,
    may_take_cases,
    plan,
    room,
)
from domain.cases.events import CaseAssigned
from domain.cases.model import CaseStatus
from domain.errors import ConcurrencyConflict
from domain.lifecycle.table import Action, where_allowed
from domain.staff.model import Staff
from store import tables
from store.case_queries import CaseFilterSpec, filter_clauses
from store.protections_queries import refused_clause
from store.uow import SqlUnitOfWork

c = tables.cases.c
CHUNK = 2000  # cases per UPDATE: 3 parameters each, within every driver's limit


@dataclass(frozen=True)
class Allocation:
    """What an allocation did: (case id, staff id) in the order handed out, and how many
    matching cases are still unassigned."""

    assignments: tuple[tuple[int, int], ...]
    left_over: int


def allocatable_clause() -> ColumnElement[bool]:
    """Returns the WHERE clause of the cases allocation may take: unassigned, not placed, in a
    status and stage where the life cycle allows ALLOCATE, and with no protection (an open
    complaint, a flag) that forbids it (the SQL twin of ``may``)."""
    allowed = where_allowed(Action.ALLOCATE, placed=False, assigned=False)
    if not allowed:
        return false()
    standing = or_(
        *(
            and_(c.status == status.value, c.stage.in_(sorted(s.value for s in stages)))
            for status, stages in allowed.items()
        )
    )
    return and_(
        c.assignee_id.is_(None),
        c.agency_id.is_(None),
        standing,
        not_(refused_clause(Action.ALLOCATE)),
    )


async def allocate(
    uow: SqlUnitOfWork,
    spec: CaseFilterSpec,
    team: str,
    strategy: AllocationStrategy,
    at: datetime,
    actor_id: int | None,
) -> Allocation:
    """Allocates the cases matching ``spec`` (its ``extra`` carries the caller's allocation
    scope) to the team's collectors within the unit of work's staff scope, records the events
    (``CaseAssigned`` per case, ``CasesAllocated`` for the audit trail) and commits.

    Raises TeamNotFound when no staff member of the team is within reach, NoCollectorCapacity
    when none of its collectors has room for a case."""
    session = uow.session
    s = tables.staff.c
    members = (
        await session.execute(
            select(Staff)
            .where(s.team == team, uow.staff.scope)
            .order_by(s.login)
            .with_for_update(of=tables.staff)
        )
    ).scalars()
    eligible = [m for m in members.all() if may_take_cases(m)]
    if not eligible and not await _team_exists(uow, team):
        raise TeamNotFound(f"no team {team!r}", field="teamName")
    loads = await _open_cases(uow, [m.id for m in eligible if m.id is not None])
    collectors = [
        Collector(m.id, m.login, m.capacity, loads.get(m.id, 0))
        for m in eligible
        if m.id is not None
    ]
    spare = room(collectors)
    if spare == 0:
        raise NoCollectorCapacity(
            f"no active collector of team {team} has room for another case", field="teamName"
        )
    where = [*filter_clauses(spec), allocatable_clause()]
    statement = (
        select(c.id, c.days_past_due, c.outstanding_amount)
        .where(*where)
        .order_by(c.days_past_due.desc(), c.outstanding_amount.desc(), c.id.asc())
        .limit(spare)
        .with_for_update(of=tables.cases, skip_locked=True)
    )
    rows = (await session.execute(statement)).all()
    matching = int(
        (
            await session.execute(select(func.count()).select_from(tables.cases).where(*where))
        ).scalar_one()
    )
    candidates = [Candidate(r.id, r.days_past_due, r.outstanding_amount) for r in rows]
    result = plan(candidates, collectors, strategy)
    await _assign(uow, result.assignments, at, actor_id)
    left_over = max(0, matching - len(result.assignments))
    uow.record(CasesAllocated(at, actor_id, team, strategy.value, result.assignments, left_over))
    await uow.commit()
    return Allocation(result.assignments, left_over)


async def _team_exists(uow: SqlUnitOfWork, team: str) -> bool:
    s = tables.staff.c
    found = await uow.session.execute(select(s.id).where(s.team == team, uow.staff.scope).limit(1))
    return found.first() is not None


async def _open_cases(uow: SqlUnitOfWork, staff_ids: Sequence[int]) -> dict[int, int]:
    """Returns the open (not CLOSED) cases each collector carries, as assignment counts them."""
    if not staff_ids:
        return {}
    statement = (
        select(c.assignee_id, func.count())
        .where(c.assignee_id.in_(staff_ids), c.status != CaseStatus.CLOSED.value)
        .group_by(c.assignee_id)
    )
    return {int(a): int(n) for a, n in (await uow.session.execute(statement)).all()}


async def _assign(
    uow: SqlUnitOfWork, assignments: Sequence[tuple[int, int]], at: datetime, actor_id: int | None
) -> None:
    """Sets the assignees and bumps the versions in bulk, and inserts the CaseAssigned events."""
    if not assignments:
        return
    for start in range(0, len(assignments), CHUNK):
        chunk = dict(assignments[start : start + CHUNK])
        statement = (
            update(tables.cases)
            .where(c.id.in_(list(chunk)), allocatable_clause())
            .values(assignee_id=case(chunk, value=c.id), version=c.version + 1)
            .execution_options(synchronize_session=False)
        )
        changed = (await uow.session.execute(statement)).rowcount  # type: ignore[attr-defined]
        if changed != len(chunk):
            raise ConcurrencyConflict("cases changed while they were allocated; try again")
    await uow.write_case_events(
        [CaseAssigned(pk, at, actor_id, staff_id, None) for pk, staff_id in assignments]
    )
