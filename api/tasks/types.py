"""GraphQL types of strategies' work on a case: Treatment and Task with their enums;
``Case.treatment``, ``Case.tasks``, ``WorklistItem.tasks`` and ``node`` load here (the ``tasks``
listing is api.tasks.queries)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.common.ids import to_global_id
from api.common.types import Node
from api.context import Info
from domain.contacts.model import ContactParty
from domain.portfolios import start_of_day
from domain.strategies.model import TaskKind as DomainTaskKind
from domain.strategies.model import TaskStatus as DomainTaskStatus
from domain.tasks.model import MAX_NOTE
from domain.tasks.model import Task as DomainTask
from store.tasks_queries import Treatment as TreatmentRow

if TYPE_CHECKING:
    from api.cases.types import Case
    from api.staff.types import Staff

strawberry.enum(
    DomainTaskKind,
    name="TaskKind",
    description="The work a strategy step gives to people: CALL (call the step's party), "
    "LEGAL_REVIEW (review the case for legal action), SETTLEMENT_OFFER (offer a settlement).",
)
strawberry.enum(
    DomainTaskStatus,
    name="TaskStatus",
    description="OPEN until completed (DONE); CANCELLED by the daily run when the case closed "
    "or left the segment whose step made the task.",
)
TaskKind = DomainTaskKind
TaskStatus = DomainTaskStatus


@strawberry.type(
    description="How the strategy treats a case, as the last daily run left it: the strategy "
    "(and the version of it) that governs the case, the variant (CHAMPION, or CHALLENGER on the "
    "challenger's share of cases), the segment the case is in and the steps taken and due."
)
class Treatment:
    strategy: str = strawberry.field(
        description="The strategy that governs the case: the one in effect naming its "
        "portfolio, else the default STANDARD."
    )
    version: str = strawberry.field(description="The strategy version's label (e.g. 2026.1).")
    variant: str = strawberry.field(description="CHAMPION or CHALLENGER.")
    segment: str | None = strawberry.field(
        description="The segment the case is in; null when no segment of the strategy takes "
        "the case (no steps)."
    )
    entered_on: date = strawberry.field(
        description="When the case entered its segment (portfolio's date); a new version of "
        "the same strategy, or a change of variant alone, keeps it."
    )
    step: str | None = strawberry.field(
        description="The last step taken in this entry of the segment (done, suppressed or "
        "refused; never one skipped as overtaken); null until one is."
    )
    next_step: str | None = strawberry.field(description="The next step of the segment, if any.")
    next_action_at: datetime | None = strawberry.field(
        description="When the next step falls due: the start (00:00) of its date in the "
        "portfolio's time zone; null when no step follows."
    )

    @classmethod
    def from_row(cls, row: TreatmentRow) -> Treatment:
        due = row.next_action_on
        return cls(
            strategy=row.strategy,
            version=row.version,
            variant=row.variant,
            segment=row.segment,
            entered_on=row.entered_on,
            step=row.step,
            next_step=row.next_step,
            next_action_at=start_of_day(row.portfolio, due) if due is not None else None,
        )


@strawberry.type(
    description="Work a strategy step gave to the people responsible for a case (the "
    "debt-handling operations stay with them): shown on their worklist with its step and "
    "reason until completed. A task belongs to its case: whoever works the case now — its "
    "`case { assignee agency }`, legal's cases for legal, every case for a manager — sees and "
    "completes it. It was made for the case's collector or agency of the day it was made; when "
    "the case moves later (reassigned, recalled to the pool) the task goes with the case, and a "
    "task of a case with neither (the pool) is on no worklist: `tasks(filter: {unowned: true})` "
    "lists those."
)
class Task(Node):
    kind: TaskKind = strawberry.field(description="The work asked for.")
    status: TaskStatus = strawberry.field(
        description="OPEN until completed (DONE) or cancelled by the daily run (CANCELLED)."
    )
    strategy: str | None = strawberry.field(description="The strategy whose step made it.")
    step: str | None = strawberry.field(description="The step that made it.")
    reason: str = strawberry.field(description="Why: the step's reason, for the person doing it.")
    party: ContactParty = strawberry.field(description="Whom the work is about (a CALL: whom).")
    due_on: date = strawberry.field(
        description="The portfolio's date it is due by: the day after the daily run that made it."
    )
    created_at: datetime = strawberry.field(
        description="When the daily run made it (the run's instant)."
    )
    completed_at: datetime | None = strawberry.field(
        description="When it was completed (DONE); null while OPEN or once CANCELLED."
    )
    _case_id: strawberry.Private[int]
    _completed_by: strawberry.Private[int | None]
    _note: strawberry.Private[str | None]

    @strawberry.field(
        description=f"What was done, as noted on completion (at most {MAX_NOTE} characters); "
        "null unless your role works cases (contact:make), as for contact notes."
    )
    def note(self, info: Info) -> str | None:
        return self._note if info.context.may_read_notes() else None

    @strawberry.field(description="Who completed it; null unless DONE.")
    async def completed_by(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_staff

        return await load_staff(info, self._completed_by)

    @strawberry.field(description="The case it is about.")
    async def case(self, info: Info) -> Annotated[Case, strawberry.lazy("api.cases.types")]:
        from api.cases.types import Case

        case = await info.context.cases.load(self._case_id)
        assert case is not None  # a task in scope is on a case in scope
        return Case.from_domain(case)

    @classmethod
    def from_domain(cls, task: DomainTask) -> Task:
        assert task.id is not None
        return cls(
            id=strawberry.ID(to_global_id("Task", task.id)),
            kind=task.kind,
            status=task.status,
            strategy=task.strategy,
            step=task.step,
            reason=task.reason,
            party=task.party,
            due_on=task.due_on,
            created_at=task.created_at,
            completed_at=task.completed_at,
            _case_id=task.case_id,
            _completed_by=task.completed_by,
            _note=task.note,
        )


async def treatment_of_case(info: Info, case_id: int) -> Treatment | None:
    """Returns a case's treatment (one statement per batch of cases)."""
    row = await info.context.treatments.load(case_id)
    return Treatment.from_row(row) if row is not None else None


async def tasks_of_case(
    info: Info, case_id: int, status: Sequence[DomainTaskStatus] | None
) -> list[Task]:
    """Returns a case's tasks of the given statuses (all when none are given) in the order of
    ``domain.tasks.model.case_order`` (one statement per batch of cases)."""
    found = await info.context.tasks_of_case.load(case_id)
    wanted = set(status) if status else None
    return [Task.from_domain(t) for t in found if wanted is None or t.status in wanted]


async def task_node(info: Info, pk: int) -> Task | None:
    """Returns a task by id for ``node(id:)`` (None: none the viewer may see)."""
    task = await info.context.tasks.load(pk)
    if task is None:
        return None
    info.context.audit.saw_cases([task.case_id])
    return Task.from_domain(task)
