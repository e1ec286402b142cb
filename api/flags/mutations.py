"""flagBorrower and unflagBorrower: parse input → call the flags service → map."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from api.cases.types import Borrower, borrower_view
from api.common.ids import pk_of
from api.common.types import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    refused,
)
from api.context import Context, Info
from api.flags.types import BorrowerFlag, BorrowerFlagKind
from api.permissions import needs
from domain.borrowers.errors import BorrowerNotFound
from domain.errors import DomainError
from domain.flags import services
from domain.flags.model import BorrowerFlag as DomainBorrowerFlag
from store.audit import AuditAction


@strawberry.input
class FlagBorrowerInput:
    borrower_id: strawberry.ID
    flag: BorrowerFlagKind
    evidence_ref: str | None = strawberry.field(
        default=None,
        description="Reference of the evidence (at most "
        f"{services.MAX_EVIDENCE_REF} characters); required for the flags the flag-effects "
        "table marks (EVIDENCE_REQUIRED).",
    )
    note: str | None = strawberry.field(
        default=None, description=f"Why (at most {services.MAX_NOTE} characters)."
    )
    review_on: date | None = strawberry.field(
        default=None,
        description="When to review the flag: after today in the time zone of each of the "
        "borrower's portfolios; required except for DECEASED (REVIEW_DATE_INVALID).",
    )


@strawberry.input
class UnflagBorrowerInput:
    borrower_id: strawberry.ID
    flag: BorrowerFlagKind
    note: str | None = strawberry.field(
        default=None, description=f"Why it is lifted (at most {services.MAX_NOTE} characters)."
    )


@strawberry.type
class FlagBorrowerSuccess:
    borrower_flag: BorrowerFlag = strawberry.field(description="The flag set.")
    borrower: Borrower


@strawberry.type
class UnflagBorrowerSuccess:
    borrower_flag: BorrowerFlag = strawberry.field(description="The flag lifted (liftedAt set).")
    borrower: Borrower


UserErrors = ValidationError | NotFoundError | RuleViolationError | ConflictError
FlagBorrowerPayload = Annotated[
    FlagBorrowerSuccess | UserErrors, strawberry.union("FlagBorrowerPayload")
]
UnflagBorrowerPayload = Annotated[
    UnflagBorrowerSuccess | UserErrors, strawberry.union("UnflagBorrowerPayload")
]


async def _borrower(ctx: Context, flag: DomainBorrowerFlag) -> Borrower:
    shown = await borrower_view(ctx, flag.borrower_id)
    assert shown is not None  # the borrower just flagged is in the caller's scope
    return shown


@strawberry.type
class FlagMutation:
    @strawberry.mutation(
        description="Sets a flag on a borrower you can see: it covers every case of theirs "
        "(contact, placement, escalation and allocation as the flag-effects table says) until "
        "it is lifted.",
        extensions=needs("borrower:flag"),
    )
    async def flag_borrower(self, info: Info, input: FlagBorrowerInput) -> FlagBorrowerPayload:
        ctx = info.context
        pk = pk_of(input.borrower_id, "Borrower")
        try:
            if pk is None:
                raise BorrowerNotFound("no such borrower", field="borrowerId")
            request = services.FlagRequest(
                pk, input.flag, input.evidence_ref, input.note, input.review_on
            )
            await ctx.release()
            flag = await services.flag_borrower(ctx.unit_of_work, ctx.clock, ctx.viewer.id, request)
        except DomainError as error:
            return await refused(ctx, AuditAction.BORROWER_FLAG, error, "Borrower", pk)
        return FlagBorrowerSuccess(
            borrower_flag=BorrowerFlag.from_domain(flag), borrower=await _borrower(ctx, flag)
        )

    @strawberry.mutation(
        description="Lifts a flag set on a borrower you can see; its record stays, with who "
        "lifted it, when and why.",
        extensions=needs("borrower:unflag"),
    )
    async def unflag_borrower(
        self, info: Info, input: UnflagBorrowerInput
    ) -> UnflagBorrowerPayload:
        ctx = info.context
        pk = pk_of(input.borrower_id, "Borrower")
        try:
            if pk is None:
                raise BorrowerNotFound("no such borrower", field="borrowerId")
            await ctx.release()
            flag = await services.unflag_borrower(
                ctx.unit_of_work, ctx.clock, ctx.viewer.id, pk, input.flag, input.note
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.BORROWER_UNFLAG, error, "Borrower", pk)
        return UnflagBorrowerSuccess(
            borrower_flag=BorrowerFlag.from_domain(flag), borrower=await _borrower(ctx, flag)
        )
