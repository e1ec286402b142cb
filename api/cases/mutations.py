"""Case mutations: parse input → call the domain service → map the result or typed error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry

from api.cases.types import Case
from api.common.ids import pk_of
from api.common.types import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    user_error,
)
from api.context import Context
from api.permissions import needs
from domain.cases import services
from domain.cases.model import Case as DomainCase
from domain.errors import DomainError


@strawberry.input
class AssignCaseInput:
    case_id: strawberry.ID
    assignee_login: str
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the case is at this version."
    )


@strawberry.input
class PlaceWithAgencyInput:
    case_id: strawberry.ID
    agency_name: str
    expected_version: int | None = None


@strawberry.input
class RecallFromAgencyInput:
    case_id: strawberry.ID
    expected_version: int | None = None


@strawberry.type
class AssignCaseSuccess:
    case: Case


@strawberry.type
class PlaceWithAgencySuccess:
    case: Case


@strawberry.type
class RecallFromAgencySuccess:
    case: Case


UserErrors = ValidationError | NotFoundError | RuleViolationError | ConflictError
Errors = UserErrors
AssignCasePayload = Annotated[AssignCaseSuccess | Errors, strawberry.union("AssignCasePayload")]
PlaceWithAgencyPayload = Annotated[
    PlaceWithAgencySuccess | Errors, strawberry.union("PlaceWithAgencyPayload")
]
RecallFromAgencyPayload = Annotated[
    RecallFromAgencySuccess | Errors, strawberry.union("RecallFromAgencyPayload")
]


def _case_pk(case_id: strawberry.ID) -> int:
    pk = pk_of(case_id, "Case")
    if pk is None:
        raise services.errors.CaseNotFound("no such case", field="caseId")
    return pk


async def _run(
    info: strawberry.Info,
    action: str,
    case_id: strawberry.ID,
    change: Callable[[Context, int], Awaitable[DomainCase]],
) -> DomainCase | UserErrors:
    """Runs a case change; a refusal is returned as a typed error and audited on its own
    (the change itself rolled back, so its failure entry is all that remains)."""
    ctx: Context = info.context
    try:
        return await change(ctx, _case_pk(case_id))
    except DomainError as error:
        pk = pk_of(case_id, "Case")
        await ctx.audit.write(
            ctx.audit.record(
                action,
                "DENIED",
                resource_type="Case",
                resource_ids=[case_id],
                case_ids=[pk] if pk else [],
                changes={"refused": error.code},
            )
        )
        return user_error(error)


@strawberry.type
class CaseMutation:
    @strawberry.mutation(
        description="Assigns a case to an active internal collector within their capacity.",
        extensions=needs("case:assign"),
    )
    async def assign_case(self, info: strawberry.Info, input: AssignCaseInput) -> AssignCasePayload:
        result = await _run(
            info,
            "case.assign",
            input.case_id,
            lambda ctx, pk: services.assign_case(
                ctx.unit_of_work,
                ctx.clock,
                pk,
                input.assignee_login,
                ctx.viewer.id,
                input.expected_version,
            ),
        )
        if isinstance(result, DomainCase):
            return AssignCaseSuccess(case=Case.from_domain(result))
        return result

    @strawberry.mutation(
        description="Places a case with an active partner agency for its placement period.",
        extensions=needs("case:place"),
    )
    async def place_with_agency(
        self, info: strawberry.Info, input: PlaceWithAgencyInput
    ) -> PlaceWithAgencyPayload:
        result = await _run(
            info,
            "case.place",
            input.case_id,
            lambda ctx, pk: services.place_with_agency(
                ctx.unit_of_work,
                ctx.clock,
                pk,
                input.agency_name,
                ctx.viewer.id,
                input.expected_version,
            ),
        )
        if isinstance(result, DomainCase):
            return PlaceWithAgencySuccess(case=Case.from_domain(result))
        return result

    @strawberry.mutation(
        description="Recalls a case from its agency into the unassigned pool.",
        extensions=needs("case:recall"),
    )
    async def recall_from_agency(
        self, info: strawberry.Info, input: RecallFromAgencyInput
    ) -> RecallFromAgencyPayload:
        result = await _run(
            info,
            "case.recall",
            input.case_id,
            lambda ctx, pk: services.recall_from_agency(
                ctx.unit_of_work, ctx.clock, pk, ctx.viewer.id, input.expected_version
            ),
        )
        if isinstance(result, DomainCase):
            return RecallFromAgencySuccess(case=Case.from_domain(result))
        return result
