"""referToLegal, approveLegalReferral, rejectLegalReferral and recordLegalAction: parse input →
call the legal service → map."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import strawberry

from api.cases.types import Case
from api.common.idempotency import MAX_KEY, UnitsOfWork, exactly_once
from api.common.ids import pk_of
from api.common.inputs import check_text
from api.common.types import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    refused,
)
from api.context import Context, Info
from api.legal.types import LegalAction, LegalActionKind, LegalReferral, LegalStep
from api.permissions import needs
from domain.cases.errors import CaseNotFound
from domain.errors import MAX_REASON, DomainError, IdempotencyKeyReused
from domain.legal import services
from domain.legal.errors import ReferralNotFound
from domain.legal.model import MAX_BODY, MAX_REFERENCE
from store import legal_queries
from store.audit import AuditAction


@strawberry.input
class ReferToLegalInput:
    case_id: strawberry.ID
    reason: str = strawberry.field(
        description=f"Why the case goes to legal (not empty, at most {MAX_REASON} characters)."
    )


@strawberry.input
class ApproveLegalReferralInput:
    referral_id: strawberry.ID


@strawberry.input
class RejectLegalReferralInput:
    referral_id: strawberry.ID
    reason: str = strawberry.field(
        description=f"Why not (not empty, at most {MAX_REASON} characters)."
    )


@strawberry.input
class RecordLegalActionInput:
    case_id: strawberry.ID
    kind: LegalActionKind
    step: LegalStep
    occurred_on: date = strawberry.field(
        description="The step's date in the portfolio's calendar; not after today."
    )
    body: str | None = strawberry.field(
        default=None, description=f"The court, notary or body (at most {MAX_BODY} characters)."
    )
    reference: str | None = strawberry.field(
        default=None,
        description=f"Its case or file number (at most {MAX_REFERENCE} characters).",
    )
    amount: Decimal | None = strawberry.field(
        default=None,
        description="The amount awarded (required with JUDGMENT), in the case's currency.",
    )
    currency: str | None = strawberry.field(
        default=None, description="The amount's currency: the case's (ISO 4217)."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Your key for this step (at most "
        f"{MAX_KEY} characters): a retry with it records the step once and answers with it.",
    )


@strawberry.type
class ReferToLegalSuccess:
    referral: LegalReferral
    case: Case


@strawberry.type
class ApproveLegalReferralSuccess:
    referral: LegalReferral
    case: Case


@strawberry.type
class RejectLegalReferralSuccess:
    referral: LegalReferral
    case: Case


@strawberry.type
class RecordLegalActionSuccess:
    legal_action: LegalAction
    case: Case


UserErrors = ValidationError | NotFoundError | RuleViolationError | ConflictError
ReferToLegalPayload = Annotated[
    ReferToLegalSuccess | UserErrors, strawberry.union("ReferToLegalPayload")
]
ApproveLegalReferralPayload = Annotated[
    ApproveLegalReferralSuccess | UserErrors, strawberry.union("ApproveLegalReferralPayload")
]
RejectLegalReferralPayload = Annotated[
    RejectLegalReferralSuccess | UserErrors, strawberry.union("RejectLegalReferralPayload")
]
RecordLegalActionPayload = Annotated[
    RecordLegalActionSuccess | UserErrors, strawberry.union("RecordLegalActionPayload")
]


async def _replay(
    ctx: Context, key: str, request: services.ActionRequest
) -> RecordLegalActionSuccess | None:
    """Returns what the action recorded with this key answered (None if the key is unused);
    refuses the key if it was used for anything else, this input included."""
    assert ctx.viewer.id is not None
    viewer_id = ctx.viewer.id
    prior = await ctx.read(lambda s: legal_queries.claimed_action(s, viewer_id, key))
    if prior is None:
        return None
    operation, made = prior
    if made is None or not request.same_as(made):
        raise IdempotencyKeyReused(
            f"this idempotency key was already used for another {operation}",
            field="idempotencyKey",
        )
    # The caller must still reach the case (the claimed action was read without the scope).
    case = await ctx.cases.load(made.case_id)
    if case is None:
        raise CaseNotFound("no such case", field="caseId")
    ctx.audit.saw_cases([made.case_id])
    return RecordLegalActionSuccess(
        legal_action=LegalAction.from_domain(made), case=Case.from_domain(case)
    )


def _referral_pk(pk: int | None) -> int:
    """The referral's row id, or ReferralNotFound for an ID that names none."""
    if pk is None:
        raise ReferralNotFound("no such referral", field="referralId")
    return pk


async def _case(ctx: Context, case_id: int) -> Case:
    case = await ctx.cases.load(case_id)
    # In scope: the caller just changed it (only a manager, who sees every case, moves one).
    assert case is not None
    ctx.audit.saw_cases([case_id])
    return Case.from_domain(case)


@strawberry.type
class LegalMutation:
    @strawberry.mutation(
        description="Refers a case you can see to legal when every condition holds (each "
        "failed one is named in LEGAL_CONDITIONS_NOT_MET); the referral waits for a manager's "
        "approveLegalReferral. REFERRAL_PENDING while one waits.",
        extensions=needs("legal:refer"),
    )
    async def refer_to_legal(self, info: Info, input: ReferToLegalInput) -> ReferToLegalPayload:
        ctx = info.context
        case_pk = pk_of(input.case_id, "Case")
        try:
            if case_pk is None:
                raise CaseNotFound("no such case", field="caseId")
            assert ctx.viewer.id is not None
            await ctx.release()
            referral = await services.refer_to_legal(
                ctx.unit_of_work, ctx.clock, ctx.viewer.id, case_pk, input.reason
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.LEGAL_REFER, error, "Case", case_pk)
        return ReferToLegalSuccess(
            referral=LegalReferral.from_domain(referral), case=await _case(ctx, referral.case_id)
        )

    @strawberry.mutation(
        description="Approves a pending legal referral (never your own: MAKER_CANNOT_APPROVE; "
        "once: ALREADY_DECIDED). Every condition is checked again; the case moves to LEGAL, is "
        "recalled from its agency and leaves its collector.",
        extensions=needs("legal:approve"),
    )
    async def approve_legal_referral(
        self, info: Info, input: ApproveLegalReferralInput
    ) -> ApproveLegalReferralPayload:
        ctx = info.context
        pk = pk_of(input.referral_id, "LegalReferral")
        assert ctx.viewer.id is not None
        await ctx.release()
        try:
            referral = await services.approve_referral(
                ctx.unit_of_work, ctx.clock, ctx.viewer.id, _referral_pk(pk)
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.LEGAL_APPROVE, error, "LegalReferral", pk)
        return ApproveLegalReferralSuccess(
            referral=LegalReferral.from_domain(referral), case=await _case(ctx, referral.case_id)
        )

    @strawberry.mutation(
        description="Rejects a pending legal referral with a reason (never your own); the case "
        "stays where it is.",
        extensions=needs("legal:approve"),
    )
    async def reject_legal_referral(
        self, info: Info, input: RejectLegalReferralInput
    ) -> RejectLegalReferralPayload:
        ctx = info.context
        pk = pk_of(input.referral_id, "LegalReferral")
        assert ctx.viewer.id is not None
        await ctx.release()
        try:
            referral = await services.reject_referral(
                ctx.unit_of_work, ctx.clock, ctx.viewer.id, _referral_pk(pk), input.reason
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.LEGAL_REJECT, error, "LegalReferral", pk)
        return RejectLegalReferralSuccess(
            referral=LegalReferral.from_domain(referral), case=await _case(ctx, referral.case_id)
        )

    @strawberry.mutation(
        description="Records a step of a legal route on a case in stage LEGAL, or WRITTEN_OFF "
        "after an approved legal referral (LEGAL_ACTION_INVALID otherwise, naming what is "
        "wrong); once per idempotencyKey.",
        extensions=needs("legal:act"),
    )
    async def record_legal_action(
        self, info: Info, input: RecordLegalActionInput
    ) -> RecordLegalActionPayload:
        ctx = info.context
        check_text("input.idempotencyKey", input.idempotency_key)
        case_pk = pk_of(input.case_id, "Case")
        try:
            if case_pk is None:
                raise CaseNotFound("no such case", field="caseId")
            assert ctx.viewer.id is not None
            actor_id = ctx.viewer.id
            request = services.ActionRequest(
                case_pk,
                input.kind,
                input.step,
                input.occurred_on,
                input.body,
                input.reference,
                input.amount,
                input.currency,
                input.idempotency_key or None,
            )

            async def work(units: UnitsOfWork) -> RecordLegalActionSuccess:
                action = await services.record_legal_action(units, ctx.clock, actor_id, request)
                return RecordLegalActionSuccess(
                    legal_action=LegalAction.from_domain(action),
                    case=await _case(ctx, action.case_id),
                )

            return await exactly_once(
                ctx,
                input.idempotency_key,
                AuditAction.LEGAL_ACT,
                lambda key: _replay(ctx, key, request),
                work,
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.LEGAL_ACT, error, "Case", case_pk)
