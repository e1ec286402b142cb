"""Case mutations: parse input → call the domain service → map the result or typed error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
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
from api.context import Context, Info
from api.permissions import needs
from domain.cases import errors, services
from domain.cases.model import Case as DomainCase
from domain.errors import DomainError, IdempotencyKeyReused, IdempotencyKeyTooLong
from domain.lifecycle.table import HoldReason as DomainHoldReason
from store import loaders
from store.audit import AuditAction
from store.uow import IdempotencyClaim, SqlUnitOfWork

IDEMPOTENCY = (
    "Any unique string (e.g. a UUID): a retry with the same key returns the first result "
    "instead of acting again."
)


@strawberry.input
class AssignCaseInput:
    case_id: strawberry.ID
    assignee_login: str
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the case is at this version."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input
class PlaceWithAgencyInput:
    case_id: strawberry.ID
    agency_name: str
    until: date | None = strawberry.field(
        default=None,
        description="Last day of the placement (inclusive), in the portfolio's time zone: from "
        "today up to the agency's placement period; by default the whole period.",
    )
    expected_version: int | None = None
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input
class RecallFromAgencyInput:
    case_id: strawberry.ID
    expected_version: int | None = None
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


strawberry.enum(
    DomainHoldReason,
    name="HoldReason",
    description="Why collection on a case is paused: HOSPITALISATION, BEREAVEMENT, DISASTER (a "
    "natural disaster or emergency where the borrower lives), INVESTIGATION (suspected fraud or "
    "identity theft), LENDER_DECISION (any other pause the lender decided).",
)
HoldReason = DomainHoldReason


@strawberry.input
class HoldCaseInput:
    case_id: strawberry.ID
    reason: HoldReason
    expected_version: int | None = None
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.input
class ResumeCaseInput:
    case_id: strawberry.ID
    expected_version: int | None = None
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY)


@strawberry.type
class AssignCaseSuccess:
    case: Case


@strawberry.type
class PlaceWithAgencySuccess:
    case: Case


@strawberry.type
class RecallFromAgencySuccess:
    case: Case


@strawberry.type
class HoldCaseSuccess:
    case: Case


@strawberry.type
class ResumeCaseSuccess:
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
HoldCasePayload = Annotated[HoldCaseSuccess | Errors, strawberry.union("HoldCasePayload")]
ResumeCasePayload = Annotated[ResumeCaseSuccess | Errors, strawberry.union("ResumeCasePayload")]


def _case_pk(case_id: strawberry.ID) -> int:
    pk = pk_of(case_id, "Case")
    if pk is None:
        raise errors.CaseNotFound("no such case", field="caseId")
    return pk


async def _run(
    info: Info,
    action: AuditAction,
    data: AssignCaseInput
    | PlaceWithAgencyInput
    | RecallFromAgencyInput
    | HoldCaseInput
    | ResumeCaseInput,
    change: Callable[[Callable[[], SqlUnitOfWork], Context, int], Awaitable[DomainCase]],
) -> DomainCase | UserErrors:
    """Runs a case change once per idempotency key; a refusal is returned as a typed error and
    audited on its own (the change itself rolled back, so its failure entry is all that remains)."""
    ctx = info.context
    claim = None
    try:
        pk = _case_pk(data.case_id)
        if data.idempotency_key:
            replay = await _replay(ctx, action, data.idempotency_key, pk)
            if replay is not None:
                return replay
            assert ctx.viewer.id is not None
            claim = IdempotencyClaim(ctx.viewer.id, data.idempotency_key, action, ctx.clock.now())
        await ctx.release()
        return await change(lambda: ctx.unit_of_work(claim), ctx, pk)
    except DomainError as error:
        await ctx.release()
        await ctx.audit.refused(
            action, error, resource_type="Case", resource_id=pk_of(data.case_id, "Case")
        )
        return user_error(error)


async def _replay(ctx: Context, action: str, key: str, case_pk: int) -> DomainCase | None:
    """Returns the case a previous request with this key changed, or None if there was none."""
    if len(key) > 128:
        raise IdempotencyKeyTooLong(
            "the idempotency key is longer than 128 characters", field="idempotencyKey"
        )
    assert ctx.viewer.id is not None
    viewer_id = ctx.viewer.id
    prior = await ctx.read(lambda session: loaders.idempotent_result(session, viewer_id, key))
    if prior is None:
        return None
    operation, case_id = prior
    if operation != action or case_id != case_pk:
        raise IdempotencyKeyReused(
            f"this idempotency key was already used for another {operation}",
            field="idempotencyKey",
        )
    case = await ctx.cases.load(case_id)
    if case is None:
        raise errors.CaseNotFound("no such case", field="caseId")
    return case


@strawberry.type
class CaseMutation:
    @strawberry.mutation(
        description="Assigns a case to an active internal collector within their capacity.",
        extensions=needs("case:assign"),
    )
    async def assign_case(self, info: Info, input: AssignCaseInput) -> AssignCasePayload:
        result = await _run(
            info,
            AuditAction.CASE_ASSIGN,
            input,
            lambda uow, ctx, pk: services.assign_case(
                uow,
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
        self, info: Info, input: PlaceWithAgencyInput
    ) -> PlaceWithAgencyPayload:
        result = await _run(
            info,
            AuditAction.CASE_PLACE,
            input,
            lambda uow, ctx, pk: services.place_with_agency(
                uow,
                ctx.clock,
                pk,
                input.agency_name,
                ctx.viewer.id,
                input.expected_version,
                input.until,
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
        self, info: Info, input: RecallFromAgencyInput
    ) -> RecallFromAgencyPayload:
        result = await _run(
            info,
            AuditAction.CASE_RECALL,
            input,
            lambda uow, ctx, pk: services.recall_from_agency(
                uow, ctx.clock, pk, ctx.viewer.id, input.expected_version
            ),
        )
        if isinstance(result, DomainCase):
            return RecallFromAgencySuccess(case=Case.from_domain(result))
        return result

    @strawberry.mutation(
        description="Pauses collection on an open case, with a reason code: while it is ON_HOLD "
        "nobody contacts, places, allocates or escalates it (CASE_ON_HOLD) until resumeCase.",
        extensions=needs("case:hold"),
    )
    async def hold_case(self, info: Info, input: HoldCaseInput) -> HoldCasePayload:
        result = await _run(
            info,
            AuditAction.CASE_HOLD,
            input,
            lambda uow, ctx, pk: services.hold_case(
                uow, ctx.clock, pk, input.reason, ctx.viewer.id, input.expected_version
            ),
        )
        if isinstance(result, DomainCase):
            return HoldCaseSuccess(case=Case.from_domain(result))
        return result

    @strawberry.mutation(
        description="Lifts the pause on a case ON_HOLD: it is OPEN and worked again.",
        extensions=needs("case:hold"),
    )
    async def resume_case(self, info: Info, input: ResumeCaseInput) -> ResumeCasePayload:
        result = await _run(
            info,
            AuditAction.CASE_RESUME,
            input,
            lambda uow, ctx, pk: services.resume_case(
                uow, ctx.clock, pk, ctx.viewer.id, input.expected_version
            ),
        )
        if isinstance(result, DomainCase):
            return ResumeCaseSuccess(case=Case.from_domain(result))
        return result
