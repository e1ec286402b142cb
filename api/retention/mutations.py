"""placeLegalHold and releaseLegalHold: parse input → call the legal-hold service → map."""

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
    refused,
)
from api.context import Context, Info
from api.permissions import needs
from api.retention.types import LegalHold
from domain.cases.errors import CaseNotFound
from domain.errors import MAX_REASON, DomainError, InvalidInput
from domain.retention import services
from domain.retention.errors import LegalHoldNotFound
from domain.retention.model import LegalHold as DomainLegalHold
from store.audit import AuditAction


@strawberry.input
class PlaceLegalHoldInput:
    case_id: strawberry.ID
    reason: str = strawberry.field(
        description="Why the case's records must be kept (a lawsuit, a regulator's inquiry; not "
        f"empty, at most {MAX_REASON} characters)."
    )


@strawberry.input(description="The hold to release: its holdId, or the caseId whose hold in force.")
class ReleaseLegalHoldInput:
    hold_id: strawberry.ID | None = None
    case_id: strawberry.ID | None = None
    reason: str = strawberry.field(
        description=f"Why the hold ends (not empty, at most {MAX_REASON} characters)."
    )


@strawberry.type
class PlaceLegalHoldSuccess:
    legal_hold: LegalHold
    case: Case


@strawberry.type
class ReleaseLegalHoldSuccess:
    legal_hold: LegalHold = strawberry.field(description="The hold released (releasedAt set).")
    case: Case


UserErrors = ValidationError | NotFoundError | RuleViolationError | ConflictError
PlaceLegalHoldPayload = Annotated[
    PlaceLegalHoldSuccess | UserErrors, strawberry.union("PlaceLegalHoldPayload")
]
ReleaseLegalHoldPayload = Annotated[
    ReleaseLegalHoldSuccess | UserErrors, strawberry.union("ReleaseLegalHoldPayload")
]


async def _case(ctx: Context, hold: DomainLegalHold) -> Case:
    case = await ctx.cases.load(hold.case_id)
    assert case is not None  # the caller just changed it, within their scope
    ctx.audit.saw_cases([hold.case_id])
    return Case.from_domain(case)


@strawberry.type
class RetentionMutation:
    @strawberry.mutation(
        description="Places a legal hold on a case you can see: while it is in force the purge "
        "keeps every record of the case and its borrower's personal data. One in force per case "
        "(LEGAL_HOLD_EXISTS).",
        extensions=needs("legal_hold:manage"),
    )
    async def place_legal_hold(
        self, info: Info, input: PlaceLegalHoldInput
    ) -> PlaceLegalHoldPayload:
        ctx = info.context
        case_pk = pk_of(input.case_id, "Case")
        try:
            if case_pk is None:
                raise CaseNotFound("no such case", field="caseId")
            await ctx.release()
            hold = await services.place_legal_hold(
                ctx.unit_of_work, ctx.clock, ctx.viewer.id, case_pk, input.reason
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.LEGAL_HOLD_PLACE, error, "Case", case_pk)
        return PlaceLegalHoldSuccess(
            legal_hold=LegalHold.from_domain(hold), case=await _case(ctx, hold)
        )

    @strawberry.mutation(
        description="Releases a legal hold, named by holdId or by the caseId whose hold is in "
        "force (give one of them), with a reason; the purge may then reach the case again. "
        "LEGAL_HOLD_RELEASED for a hold released already; LEGAL_HOLD_NOT_FOUND for none.",
        extensions=needs("legal_hold:manage"),
    )
    async def release_legal_hold(
        self, info: Info, input: ReleaseLegalHoldInput
    ) -> ReleaseLegalHoldPayload:
        ctx = info.context
        hold_pk = pk_of(input.hold_id, "LegalHold") if input.hold_id is not None else None
        case_pk = pk_of(input.case_id, "Case") if input.case_id is not None else None
        try:
            if (input.hold_id is None) == (input.case_id is None):
                raise InvalidInput("give either holdId or caseId", field="holdId")
            if input.hold_id is not None and hold_pk is None:
                raise LegalHoldNotFound("no such legal hold", field="holdId")
            if input.case_id is not None and case_pk is None:
                raise CaseNotFound("no such case", field="caseId")
            await ctx.release()
            hold = await services.release_legal_hold(
                ctx.unit_of_work,
                ctx.clock,
                ctx.viewer.id,
                input.reason,
                hold_id=hold_pk,
                case_id=case_pk,
            )
        except DomainError as error:
            if input.hold_id is not None:
                return await refused(
                    ctx, AuditAction.LEGAL_HOLD_RELEASE, error, "LegalHold", hold_pk
                )
            return await refused(ctx, AuditAction.LEGAL_HOLD_RELEASE, error, "Case", case_pk)
        return ReleaseLegalHoldSuccess(
            legal_hold=LegalHold.from_domain(hold), case=await _case(ctx, hold)
        )
