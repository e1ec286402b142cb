"""proposeRestructuring, approveRestructuring and rejectRestructuring: parse input → call the
restructuring service → map the result to the payload union."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import strawberry

from api.common.idempotency import UnitsOfWork, exactly_once
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
from api.permissions import needs
from api.restructuring.types import Restructuring, RestructuringKind
from domain.cases.errors import CaseNotFound
from domain.errors import (
    MAX_REASON,
    ConcurrencyConflict,
    DomainError,
    IdempotencyKeyReused,
)
from domain.restructuring import services
from domain.restructuring.errors import RestructuringNotFound, RestructuringPending
from domain.restructuring.model import Restructuring as DomainRestructuring
from domain.restructuring.proposals import Proposal, ProposedInstalment
from store import restructuring_queries
from store.audit import AuditAction


@strawberry.input(description="One payment of a proposed plan.")
class PlanInstalmentInput:
    due_date: date = strawberry.field(
        description="After today (the portfolio's date) and after the instalment before it."
    )
    amount: Decimal = strawberry.field(description="Above zero, at most the currency's cents.")


@strawberry.input(
    description="Give the fields of the kind: SETTLEMENT settlementAmount and settleBy; "
    "PENALTY_WAIVER waiverAmount; INSTALMENT_PLAN instalments (and an optional waiverAmount)."
)
class ProposeRestructuringInput:
    case_id: strawberry.ID
    kind: RestructuringKind
    reason: str = strawberry.field(description=f"Why (1 to {MAX_REASON} characters).")
    settlement_amount: Decimal | None = strawberry.field(
        default=None, description="Above zero and below the case's outstanding balance."
    )
    settle_by: date | None = strawberry.field(
        default=None, description="The settlement's deadline, after today (portfolio's date)."
    )
    waiver_amount: Decimal | None = strawberry.field(
        default=None, description="Above zero, at most the case's outstanding penalty."
    )
    instalments: list[PlanInstalmentInput] | None = strawberry.field(
        default=None,
        description="A plan's schedule: it must add up exactly to the balance − waiverAmount + "
        "capitalised interest (zero).",
    )
    currency: str | None = strawberry.field(
        default=None, description="The amounts' currency: the case's (the default)."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Any unique string: a retry with the same key and input returns the first "
        "result instead of proposing again (IDEMPOTENCY_KEY_REUSED for other input).",
    )


@strawberry.input
class ApproveRestructuringInput:
    restructuring_id: strawberry.ID


@strawberry.input
class RejectRestructuringInput:
    restructuring_id: strawberry.ID
    reason: str = strawberry.field(description=f"Why (1 to {MAX_REASON} characters).")


@strawberry.type
class ProposeRestructuringSuccess:
    restructuring: Restructuring


@strawberry.type
class ApproveRestructuringSuccess:
    restructuring: Restructuring


@strawberry.type
class RejectRestructuringSuccess:
    restructuring: Restructuring


UserErrors = ValidationError | NotFoundError | RuleViolationError | ConflictError
ProposeRestructuringPayload = Annotated[
    ProposeRestructuringSuccess | UserErrors, strawberry.union("ProposeRestructuringPayload")
]
ApproveRestructuringPayload = Annotated[
    ApproveRestructuringSuccess | UserErrors, strawberry.union("ApproveRestructuringPayload")
]
RejectRestructuringPayload = Annotated[
    RejectRestructuringSuccess | UserErrors, strawberry.union("RejectRestructuringPayload")
]


def _proposal(data: ProposeRestructuringInput) -> Proposal:
    return Proposal(
        kind=data.kind,
        settlement_amount=data.settlement_amount,
        settle_by=data.settle_by,
        waiver_amount=data.waiver_amount,
        instalments=tuple(ProposedInstalment(i.due_date, i.amount) for i in data.instalments or ()),
        currency=data.currency or None,
    )


def _same(made: DomainRestructuring, request: services.ProposalRequest) -> bool:
    """Whether a stored proposal is the one this request asks for (an idempotent retry)."""
    asked = request.proposal
    return (
        made.case_id == request.case_id
        and made.kind == asked.kind
        and made.reason == request.reason.strip()
        and made.settlement_amount == asked.settlement_amount
        and made.settle_by == asked.settle_by
        and made.waiver_amount == asked.waiver_amount
        and [(i.due_date, i.amount) for i in made.instalments]
        == [(i.due_date, i.amount) for i in asked.instalments]
    )


async def _replay(
    ctx: Context, key: str, request: services.ProposalRequest
) -> ProposeRestructuringSuccess | None:
    """Returns the proposal this key made (None if unused); refuses the key if it was used for
    anything else, this input included."""
    viewer_id = request.actor_id
    prior = await ctx.read(lambda s: restructuring_queries.claimed_restructuring(s, viewer_id, key))
    if prior is None:
        return None
    operation, made = prior
    if made is None or made.id is None or not _same(made, request):
        raise IdempotencyKeyReused(
            f"this idempotency key was already used for another {operation}",
            field="idempotencyKey",
        )
    # The caller must still reach the case (the claimed proposal was read without the scope).
    visible = await ctx.restructurings.load(made.id)
    if visible is None:
        raise CaseNotFound("no such case", field="caseId")
    return ProposeRestructuringSuccess(restructuring=Restructuring.from_domain(visible))


async def propose(info: Info, data: ProposeRestructuringInput) -> ProposeRestructuringPayload:
    ctx = info.context
    for name, text in (
        ("input.reason", data.reason),
        ("input.currency", data.currency),
        ("input.idempotencyKey", data.idempotency_key),
    ):
        check_text(name, text)
    now = ctx.clock.now()
    case_pk = pk_of(data.case_id, "Case")
    try:
        if case_pk is None:
            raise CaseNotFound("no such case", field="caseId")
        assert ctx.viewer.id is not None
        request = services.ProposalRequest(
            case_id=case_pk,
            proposal=_proposal(data),
            reason=data.reason,
            actor_id=ctx.viewer.id,
            actor_agency_id=ctx.viewer.agency_id,
            idempotency_key=data.idempotency_key or None,
        )

        async def work(units: UnitsOfWork) -> ProposeRestructuringSuccess:
            made = await services.propose_restructuring(units, ctx.clock, request, at=now)
            return ProposeRestructuringSuccess(restructuring=Restructuring.from_domain(made))

        return await exactly_once(
            ctx,
            data.idempotency_key,
            AuditAction.RESTRUCTURING_PROPOSE,
            lambda key: _replay(ctx, key, request),
            work,
            # A retry racing the original waits on the case's lock, then finds the original's
            # proposal PROPOSED: it answers with it.
            retry_on=(ConcurrencyConflict, RestructuringPending),
            at=now,
        )
    except DomainError as error:
        return await refused(ctx, AuditAction.RESTRUCTURING_PROPOSE, error, "Case", case_pk)


def _decider(ctx: Context) -> services.Decider:
    assert ctx.viewer.id is not None
    return services.Decider(ctx.viewer.id, tuple(ctx.viewer.roles))


def _restructuring_pk(pk: int | None) -> int:
    if pk is None:
        raise RestructuringNotFound("no such restructuring", field="restructuringId")
    return pk


@strawberry.type
class RestructuringMutation:
    @strawberry.mutation(
        description="Proposes a plan, a settlement or a penalty waiver on a case you can see. "
        "It needs the approval of someone else whose role's limits cover the case's cumulative "
        "concession (requiredAuthority); a proposal no role's limits cover is refused.",
        extensions=needs("restructuring:propose"),
    )
    async def propose_restructuring(
        self, info: Info, input: ProposeRestructuringInput
    ) -> ProposeRestructuringPayload:
        return await propose(info, input)

    @strawberry.mutation(
        description="Approves a PROPOSED restructuring you did not propose, if your role's "
        "limits cover the case's cumulative concession: a plan or settlement becomes ACTIVE; "
        "a penalty waiver is APPROVED and applied at once (a concession, never a payment).",
        extensions=needs("restructuring:approve"),
    )
    async def approve_restructuring(
        self, info: Info, input: ApproveRestructuringInput
    ) -> ApproveRestructuringPayload:
        ctx = info.context
        pk = pk_of(input.restructuring_id, "Restructuring")
        await ctx.release()
        try:
            made, _ = await services.approve_restructuring(
                ctx.unit_of_work, ctx.clock, _decider(ctx), _restructuring_pk(pk)
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.RESTRUCTURING_APPROVE, error, "Restructuring", pk)
        return ApproveRestructuringSuccess(restructuring=Restructuring.from_domain(made))

    @strawberry.mutation(
        description="Rejects a PROPOSED restructuring you did not propose, with a reason, if "
        "your role's limits cover the case's cumulative concession (as for approval).",
        extensions=needs("restructuring:approve"),
    )
    async def reject_restructuring(
        self, info: Info, input: RejectRestructuringInput
    ) -> RejectRestructuringPayload:
        ctx = info.context
        check_text("input.reason", input.reason)
        pk = pk_of(input.restructuring_id, "Restructuring")
        await ctx.release()
        try:
            made, _ = await services.reject_restructuring(
                ctx.unit_of_work, ctx.clock, _decider(ctx), _restructuring_pk(pk), input.reason
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.RESTRUCTURING_REJECT, error, "Restructuring", pk)
        return RejectRestructuringSuccess(restructuring=Restructuring.from_domain(made))
