"""Case mutations: parse input → call the domain service → map the result or typed error."""

from __future__ import annotations

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
from api.permissions import needs
from domain.cases import services
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


Errors = ValidationError | NotFoundError | RuleViolationError | ConflictError
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


@strawberry.type
class CaseMutation:
    @strawberry.mutation(
        description="Assigns a case to an active internal collector within their capacity.",
        extensions=needs("case:assign"),
    )
    async def assign_case(self, info: strawberry.Info, input: AssignCaseInput) -> AssignCasePayload:
        ctx = info.context
        try:
            case = await services.assign_case(
                ctx.unit_of_work,
                ctx.clock,
                _case_pk(input.case_id),
                input.assignee_login,
                ctx.viewer.id,
                input.expected_version,
            )
        except DomainError as error:
            return user_error(error)
        return AssignCaseSuccess(case=Case.from_domain(case))

    @strawberry.mutation(
        description="Places a case with an active partner agency for its placement period.",
        extensions=needs("case:place"),
    )
    async def place_with_agency(
        self, info: strawberry.Info, input: PlaceWithAgencyInput
    ) -> PlaceWithAgencyPayload:
        ctx = info.context
        try:
            case = await services.place_with_agency(
                ctx.unit_of_work,
                ctx.clock,
                _case_pk(input.case_id),
                input.agency_name,
                ctx.viewer.id,
                input.expected_version,
            )
        except DomainError as error:
            return user_error(error)
        return PlaceWithAgencySuccess(case=Case.from_domain(case))

    @strawberry.mutation(
        description="Recalls a case from its agency into the unassigned pool.",
        extensions=needs("case:recall"),
    )
    async def recall_from_agency(
        self, info: strawberry.Info, input: RecallFromAgencyInput
    ) -> RecallFromAgencyPayload:
        ctx = info.context
        try:
            case = await services.recall_from_agency(
                ctx.unit_of_work,
                ctx.clock,
                _case_pk(input.case_id),
                ctx.viewer.id,
                input.expected_version,
            )
        except DomainError as error:
            return user_error(error)
        return RecallFromAgencySuccess(case=Case.from_domain(case))
