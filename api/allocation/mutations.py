"""allocateCases: the unassigned pool handed to a team's collectors by a strategy, at once."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import strawberry

from api.cases.queries import CaseFilter
from api.cases.types import Case
from api.common.inputs import check_text
from api.common.types import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    user_error,
)
from api.context import Info
from api.permissions import needs
from api.staff.types import Staff
from authz.scopes import allocation_clause
from domain.allocation.rule import AllocationStrategy as DomainAllocationStrategy
from domain.errors import DomainError
from store import allocation
from store.audit import AuditAction
from store.case_queries import CaseFilterSpec

strawberry.enum(
    DomainAllocationStrategy,
    name="AllocationStrategy",
    description="LEAST_LOADED: each case to the collector carrying the fewest open cases (ties "
    "by login). ROUND_ROBIN: to each collector in turn, by login.",
)
AllocationStrategy = DomainAllocationStrategy


@strawberry.input
class AllocateCasesInput:
    team_name: str = strawberry.field(description="The team whose collectors get the cases.")
    filter: CaseFilter | None = strawberry.field(
        default=None,
        description="Which cases of the pool (unassigned, not placed, OPEN) to allocate; "
        "all of them by default.",
    )
    strategy: AllocationStrategy = DomainAllocationStrategy.LEAST_LOADED


@strawberry.type(description="One case handed to one collector.")
class CaseAssignment:
    case: Case
    assignee: Staff


@strawberry.type
class AllocateCasesSuccess:
    assigned_count: int = strawberry.field(description="Cases assigned by this allocation.")
    unassigned_count: int = strawberry.field(
        description="Matching cases left unassigned because every collector was full."
    )
    assignments: list[CaseAssignment] = strawberry.field(
        description="Each case assigned, most urgent first (DPD, then outstanding, then ID)."
    )


AllocateCasesPayload = Annotated[
    AllocateCasesSuccess | ValidationError | NotFoundError | RuleViolationError | ConflictError,
    strawberry.union("AllocateCasesPayload"),
]


@strawberry.type
class AllocationMutation:
    @strawberry.mutation(
        description="Assigns the unassigned, unplaced OPEN cases matching the filter to the "
        "active collectors of a team, by a strategy, never beyond their capacity, in one "
        "transaction. Cases left when every collector is full stay unassigned.",
        extensions=needs("case:allocate"),
    )
    async def allocate_cases(self, info: Info, input: AllocateCasesInput) -> AllocateCasesPayload:
        ctx = info.context
        check_text("input.teamName", input.team_name)
        spec = input.filter.to_spec(ctx.viewer.roles) if input.filter else CaseFilterSpec()
        now = ctx.clock.now()
        spec = replace(spec, extra=[*spec.extra, allocation_clause(ctx.viewer, now)])
        strategy = DomainAllocationStrategy(input.strategy)
        await ctx.release()
        try:
            async with ctx.unit_of_work() as uow:
                done = await allocation.allocate(
                    uow, spec, input.team_name, strategy, now, ctx.viewer.id
                )
        except DomainError as error:
            await ctx.release()
            await ctx.audit.refused(AuditAction.CASE_ALLOCATE, error, resource_type="Case")
            return user_error(error)
        case_ids = [case_id for case_id, _ in done.assignments]
        cases = await ctx.cases.load_many(case_ids)
        staff = await ctx.staff.load_many([staff_id for _, staff_id in done.assignments])
        assignments = [
            CaseAssignment(case=Case.from_domain(c), assignee=Staff.from_domain(s))
            for c, s in zip(cases, staff, strict=True)
            if c is not None and s is not None
        ]
        ctx.audit.saw_cases(case_ids)
        return AllocateCasesSuccess(
            assigned_count=len(done.assignments),
            unassigned_count=done.left_over,
            assignments=assignments,
        )
