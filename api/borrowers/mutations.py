"""revealConfidential: one clear value, for a stated reason, recorded whether allowed or not."""

from __future__ import annotations

import enum
from datetime import timedelta
from typing import Annotated

import strawberry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.common.ids import pk_of, to_global_id
from api.common.types import NotFoundError, UserError, ValidationError
from api.context import Context
from api.permissions import needs
from authz.masking import clear_value
from store import tables


@strawberry.enum(description="A confidential borrower field.")
class ConfidentialField(enum.Enum):
    NATIONAL_ID = "national_id"
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"
    EMPLOYER = "employer"
    INCOME = "income"


@strawberry.enum(description="Why a clear value is needed; recorded in the audit trail.")
class RevealReason(enum.Enum):
    CONTACT_BORROWER = "CONTACT_BORROWER"
    IDENTITY_VERIFICATION = "IDENTITY_VERIFICATION"
    LEGAL_PROCEEDINGS = "LEGAL_PROCEEDINGS"
    COMPLAINT_HANDLING = "COMPLAINT_HANDLING"
    DISPUTE_RESOLUTION = "DISPUTE_RESOLUTION"


@strawberry.input
class RevealConfidentialInput:
    borrower_id: strawberry.ID
    field: ConfidentialField
    reason_code: RevealReason
    reason_text: str = strawberry.field(description="What the value is needed for (not empty).")


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
    retry_after_seconds: int


RevealConfidentialPayload = Annotated[
    RevealConfidentialSuccess
    | ValidationError
    | NotFoundError
    | RevealNotAllowedError
    | RateLimitedError,
    strawberry.union("RevealConfidentialPayload"),
]

MAX_REASON = 500


async def _reveals_in_last_hour(ctx: Context, session: AsyncSession) -> int:
    """Counts the caller's reveals in the last hour, holding the caller's staff row locked
    (SQLite: the write lock) until the new entry commits, so that concurrent reveals by one
    caller are counted one after the other and cannot pass the limit together."""
    await session.execute(
        select(tables.staff.c.id).where(tables.staff.c.id == ctx.viewer.id).with_for_update()
    )
    a = tables.audit_entries.c
    since = ctx.clock.now() - timedelta(hours=1)
    stmt = select(func.count()).where(
        a.actor_login == ctx.viewer.login,
        a.action == "borrower.reveal",
        a.outcome == "ALLOWED",
        a.at >= since,
    )
    return int((await session.execute(stmt)).scalar_one())


@strawberry.type
class BorrowerMutation:
    @strawberry.mutation(
        description="Returns one confidential value in clear, for a recorded reason.",
        extensions=needs("case:read"),
    )
    async def reveal_confidential(
        self, info: strawberry.Info, input: RevealConfidentialInput
    ) -> RevealConfidentialPayload:
        ctx: Context = info.context
        name = input.field.value
        pk = pk_of(input.borrower_id, "Borrower")
        borrower = await ctx.borrowers.load(pk) if pk is not None else None
        reason_text = input.reason_text.strip()
        error: ValidationError | NotFoundError | RevealNotAllowedError | RateLimitedError | None = (
            None
        )
        if borrower is None:
            error = NotFoundError(
                code="BORROWER_NOT_FOUND", message="no such borrower", field="borrowerId"
            )
        elif not ctx.allows(f"borrower:reveal:{name}"):
            error = RevealNotAllowedError(
                code="REVEAL_NOT_ALLOWED",
                message=f"your roles may not reveal {input.field.name}",
                field="field",
            )
        elif not reason_text:
            error = ValidationError(
                code="REASON_REQUIRED", message="say why you need the value", field="reasonText"
            )
        elif len(reason_text) > MAX_REASON:
            error = ValidationError(
                code="REASON_TOO_LONG",
                message=f"the reason is longer than {MAX_REASON} characters",
                field="reasonText",
            )
        await ctx.release()
        async with ctx.sessions() as session:
            await session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            limit = ctx.settings.reveal_limit_per_hour
            if error is None and await _reveals_in_last_hour(ctx, session) >= limit:
                error = RateLimitedError(
                    code="RATE_LIMITED",
                    message=f"at most {limit} reveals an hour",
                    field=None,
                    retry_after_seconds=3600,
                )
            record = ctx.audit.record(
                "borrower.reveal",
                "ALLOWED" if error is None else "DENIED",
                resource_type="Borrower",
                # Only IDs that decode are recorded: the raw input is the caller's to choose.
                resource_ids=[to_global_id("Borrower", pk)] if pk is not None else [],
                # Only a reveal that happened is access to the borrower's personal data.
                borrower_ids=[pk] if error is None and pk is not None else [],
                fields=[{"name": name, "clear": error is None}],
                reason_code=input.reason_code.value,
                reason_text=reason_text[:MAX_REASON],
                changes=None if error is None else {"refused": error.code},
            )
            await ctx.audit.append(session, record)
            await session.commit()
        if error is not None:
            return error
        assert borrower is not None
        return RevealConfidentialSuccess(revealed=input.field, value=clear_value(borrower, name))
