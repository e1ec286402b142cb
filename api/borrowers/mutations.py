"""revealConfidential: one clear value, for a stated reason, recorded whether allowed or not."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.common.ids import pk_of
from api.common.types import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    UserError,
    ValidationError,
    user_error,
)
from api.context import Info
from api.metrics import count_reveal
from api.permissions import needs
from authz.enforcer import reveal_permission
from domain.borrowers import errors, services
from domain.borrowers.model import ConfidentialField, RevealReason
from domain.errors import MAX_REASON, DomainError, ErrorCode
from store.audit import AuditAction

strawberry.enum(ConfidentialField, name="ConfidentialField", description="A confidential field.")
strawberry.enum(
    RevealReason,
    name="RevealReason",
    description="Why a clear value is needed; recorded in the audit trail.",
)


@strawberry.input
class RevealConfidentialInput:
    borrower_id: strawberry.ID
    field: ConfidentialField
    reason_code: RevealReason
    reason_text: str = strawberry.field(
        description=f"What the value is needed for (not empty, at most {MAX_REASON} characters)."
    )


@strawberry.type
class RevealConfidentialSuccess:
    # Not called `field`: that name is UserError's (String) and would clash in the union.
    revealed: ConfidentialField = strawberry.field(description="The field revealed.")
    value: str


@strawberry.type(description="Your roles may not reveal this field.")
class RevealNotAllowedError(UserError):
    pass


@strawberry.type(description="Too many reveals in the last hour; try again later.")
class RateLimitedError(UserError):
    retry_after_seconds: int = strawberry.field(
        description="Seconds until your next reveal is allowed."
    )


RevealError = (
    ValidationError
    | NotFoundError
    | RevealNotAllowedError
    | RateLimitedError
    | RuleViolationError
    | ConflictError
)
RevealConfidentialPayload = Annotated[
    RevealConfidentialSuccess | RevealError, strawberry.union("RevealConfidentialPayload")
]


def _reveal_error(error: DomainError) -> RevealError:
    if isinstance(error, errors.RevealRateLimited):
        return RateLimitedError(
            code=ErrorCode(error.code),
            message=error.message,
            field=None,
            retry_after_seconds=error.retry_after_seconds,
        )
    if isinstance(error, errors.RevealNotAllowed):
        return RevealNotAllowedError(
            code=ErrorCode(error.code), message=error.message, field=error.field
        )
    return user_error(error)


@strawberry.type
class BorrowerMutation:
    @strawberry.mutation(
        description="Returns one confidential value in clear, for a recorded reason.",
        extensions=needs("case:read"),
    )
    async def reveal_confidential(
        self, info: Info, input: RevealConfidentialInput
    ) -> RevealConfidentialPayload:
        ctx = info.context
        pk = pk_of(input.borrower_id, "Borrower")
        may_reveal = ctx.allows(reveal_permission(input.field))
        await ctx.release()
        try:
            if pk is None:
                raise errors.BorrowerNotFound("no such borrower", field="borrowerId")
            assert ctx.viewer.id is not None
            value = await services.reveal_confidential(
                ctx.unit_of_work,
                ctx.clock,
                services.RevealRequest(
                    actor_id=ctx.viewer.id,
                    borrower_id=pk,
                    field=input.field,
                    reason=input.reason_code,
                    reason_text=input.reason_text,
                ),
                may_reveal=may_reveal,
                limit_per_hour=ctx.settings.reveal_limit_per_hour,
            )
        except DomainError as error:
            await ctx.audit.refused(
                AuditAction.BORROWER_REVEAL,
                error,
                resource_type="Borrower",
                resource_id=pk,
                fields=[{"name": input.field.value, "clear": False}],
                reason_code=input.reason_code.value,
                reason_text=input.reason_text.strip()[:MAX_REASON],
            )
            count_reveal(ctx.request, input.field.value, ok=False)
            return _reveal_error(error)
        count_reveal(ctx.request, input.field.value, ok=True)
        return RevealConfidentialSuccess(revealed=input.field, value=value)
