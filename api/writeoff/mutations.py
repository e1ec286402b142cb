"""writeOff and markDebtSold: parse input → call the write-off service → map."""

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
from api.writeoff.types import WriteOff, WriteOffReasonCode
from domain.cases.errors import CaseNotFound
from domain.errors import MAX_REASON, DomainError
from domain.writeoff import services
from store.audit import AuditAction


@strawberry.input
class WriteOffInput:
    case_id: strawberry.ID
    reason_code: WriteOffReasonCode
    reason_text: str = strawberry.field(
        description=f"Why (not empty, at most {MAX_REASON} characters); kept in the audit "
        "trail, never on the timeline or the decisions feed."
    )


@strawberry.input
class MarkDebtSoldInput:
    case_id: strawberry.ID
    reason_text: str = strawberry.field(
        description=f"To whom and why the debt was sold (not empty, at most {MAX_REASON} "
        "characters); kept in the audit trail."
    )


@strawberry.type
class WriteOffSuccess:
    write_off: WriteOff
    case: Case


@strawberry.type
class MarkDebtSoldSuccess:
    case: Case


UserErrors = ValidationError | NotFoundError | RuleViolationError | ConflictError
WriteOffPayload = Annotated[WriteOffSuccess | UserErrors, strawberry.union("WriteOffPayload")]
MarkDebtSoldPayload = Annotated[
    MarkDebtSoldSuccess | UserErrors, strawberry.union("MarkDebtSoldPayload")
]


async def _case(ctx: Context, case_id: int) -> Case:
    case = await ctx.cases.load(case_id)
    assert case is not None  # the case just written off is in the caller's scope
    ctx.audit.saw_cases([case_id])
    return Case.from_domain(case)


@strawberry.type
class WriteOffMutation:
    @strawberry.mutation(
        description="Writes off a case: allowed from stage LEGAL or at the write-off policy's "
        "days past due (default 180; WRITE_OFF_NOT_ALLOWED names the rule), never on a closed "
        "or already written-off case (ILLEGAL_TRANSITION), nor while a restructuring is "
        "PROPOSED or ACTIVE (RESTRUCTURING_PENDING) or a legal referral is PENDING "
        "(REFERRAL_PENDING). The case moves to stage WRITTEN_OFF "
        "and stays open for recovery; its debts are marked WRITTEN_OFF; the decisions feed "
        "gets CASE_WRITTEN_OFF and CHARGE_OFF_REQUESTED (the core is asked to book it).",
        extensions=needs("case:write_off"),
    )
    async def write_off(self, info: Info, input: WriteOffInput) -> WriteOffPayload:
        ctx = info.context
        case_pk = pk_of(input.case_id, "Case")
        try:
            if case_pk is None:
                raise CaseNotFound("no such case", field="caseId")
            request = services.WriteOffRequest(case_pk, input.reason_code.value, input.reason_text)
            await ctx.release()
            done = await services.write_off(ctx.unit_of_work, ctx.clock, ctx.viewer.id, request)
        except DomainError as error:
            return await refused(ctx, AuditAction.CASE_WRITE_OFF, error, "Case", case_pk)
        return WriteOffSuccess(
            write_off=WriteOff.from_domain(done.write_off),
            case=await _case(ctx, case_pk),
        )

    @strawberry.mutation(
        description="Closes a written-off case as DEBT_SOLD: its debt was sold to a buyer. "
        "Only a case in stage WRITTEN_OFF that is not closed (ILLEGAL_TRANSITION otherwise); "
        "the decisions feed gets CASE_CLOSED with closeReason DEBT_SOLD.",
        extensions=needs("case:write_off"),
    )
    async def mark_debt_sold(self, info: Info, input: MarkDebtSoldInput) -> MarkDebtSoldPayload:
        ctx = info.context
        case_pk = pk_of(input.case_id, "Case")
        try:
            if case_pk is None:
                raise CaseNotFound("no such case", field="caseId")
            await ctx.release()
            await services.mark_debt_sold(
                ctx.unit_of_work, ctx.clock, ctx.viewer.id, case_pk, input.reason_text
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.CASE_TRANSITION, error, "Case", case_pk)
        return MarkDebtSoldSuccess(case=await _case(ctx, case_pk))
