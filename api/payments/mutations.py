"""postPayment and reversePayment: parse input → call the domain service → map the result."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from api.cases.types import Case, Debt
from api.common.ids import pk_of
from api.common.types import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    user_error,
)
from api.context import Context, Info
from api.payments.types import Payment
from api.permissions import needs
from domain.errors import (
    ConcurrencyConflict,
    DomainError,
    IdempotencyKeyReused,
    IdempotencyKeyTooLong,
)
from domain.payments import errors, services
from domain.payments.model import Payment as DomainPayment
from store import payment_queries
from store.audit import AuditAction
from store.uow import IdempotencyClaim

MAX_KEY = 128


@strawberry.input(description="Give either debtId or accountNumber.")
class PostPaymentInput:
    amount: Decimal = strawberry.field(
        description="Above zero, with at most the currency's decimal places (cents)."
    )
    currency: str = strawberry.field(description="The debt's currency (ISO 4217).")
    paid_at: datetime = strawberry.field(description="When it was paid, with its offset.")
    reference: str = strawberry.field(
        description=f"The sender's reference of the transaction (unique, at most "
        f"{services.MAX_REFERENCE} characters)."
    )
    debt_id: strawberry.ID | None = None
    account_number: str | None = None
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Any unique string (e.g. a UUID): a retry with the same key and the same "
        "input returns the first result instead of posting again; other input under a used key "
        "is refused (IDEMPOTENCY_KEY_REUSED).",
    )


@strawberry.input
class ReversePaymentInput:
    payment_id: strawberry.ID
    reason: str = strawberry.field(
        description=f"Why (a bounced transfer, a mistake); 1 to {services.MAX_REASON} characters."
    )


@strawberry.type
class PostPaymentSuccess:
    payment: Payment
    debt: Debt
    case: Case


@strawberry.type
class ReversePaymentSuccess:
    payment: Payment
    debt: Debt
    case: Case


UserErrors = ValidationError | NotFoundError | RuleViolationError | ConflictError
PostPaymentPayload = Annotated[
    PostPaymentSuccess | UserErrors, strawberry.union("PostPaymentPayload")
]
ReversePaymentPayload = Annotated[
    ReversePaymentSuccess | UserErrors, strawberry.union("ReversePaymentPayload")
]


def _request(data: PostPaymentInput, actor_id: int | None) -> services.PaymentRequest:
    debt_pk = None
    if data.debt_id is not None:
        debt_pk = pk_of(data.debt_id, "Debt")
        if debt_pk is None:
            raise errors.DebtNotFound("no such debt", field="debtId")
    return services.PaymentRequest(
        debt_id=debt_pk,
        account_number=data.account_number,
        amount=data.amount,
        currency=data.currency,
        paid_at=data.paid_at,
        reference=data.reference,
        actor_id=actor_id,
        idempotency_key=data.idempotency_key or None,
    )


async def _success(ctx: Context, payment: DomainPayment) -> PostPaymentSuccess:
    debt = await ctx.debts.load(payment.debt_id)
    case = await ctx.cases.load(payment.case_id)
    if debt is None or case is None:
        raise errors.DebtNotFound("no such debt", field="debtId")
    return PostPaymentSuccess(
        payment=Payment.from_domain(payment),
        debt=Debt.from_domain(debt),
        case=Case.from_domain(case),
    )


async def _replay(
    ctx: Context, key: str, request: services.PaymentRequest
) -> PostPaymentSuccess | None:
    """Returns the result of the payment this key posted (None if the key is unused); refuses
    the key if it was used for anything else, this input included."""
    assert ctx.viewer.id is not None
    viewer_id = ctx.viewer.id
    prior = await ctx.read(lambda s: payment_queries.claimed_payment(s, viewer_id, key))
    if prior is None:
        return None
    operation, payment = prior
    same = payment is not None and (
        payment.amount == request.amount
        and payment.currency == request.currency
        and payment.paid_at == request.paid_at
        and payment.reference == request.reference.strip()
    )
    if same and payment is not None:
        if request.debt_id is not None:
            same = payment.debt_id == request.debt_id
        else:
            debt = await ctx.debts.load(payment.debt_id)
            same = debt is not None and debt.account_number == request.account_number
    if not same or payment is None:
        raise IdempotencyKeyReused(
            f"this idempotency key was already used for another {operation}",
            field="idempotencyKey",
        )
    return await _success(ctx, payment)


async def post_payment(info: Info, data: PostPaymentInput) -> PostPaymentSuccess | UserErrors:
    """Posts once per idempotency key, also when retries race: the loser of a race answers
    with the winner's result."""
    ctx = info.context
    now = ctx.clock.now()
    debt_pk = pk_of(data.debt_id, "Debt") if data.debt_id is not None else None
    try:
        request = _request(data, ctx.viewer.id)
        claim = None
        if data.idempotency_key:
            key = data.idempotency_key
            if len(key) > MAX_KEY:
                raise IdempotencyKeyTooLong(
                    f"the idempotency key is longer than {MAX_KEY} characters",
                    field="idempotencyKey",
                )
            replay = await _replay(ctx, key, request)
            if replay is not None:
                return replay
            assert ctx.viewer.id is not None
            claim = IdempotencyClaim(ctx.viewer.id, key, AuditAction.PAYMENT_POST, now)
        await ctx.release()
        try:
            result = await services.post_payment(
                lambda: ctx.unit_of_work(claim), ctx.clock, request, at=now
            )
        except (errors.PaymentReferenceDuplicate, ConcurrencyConflict):
            # A request with the same key may have committed first: answer with its result.
            replay = await _replay(ctx, claim.key, request) if claim else None
            if replay is None:
                raise
            return replay
        return PostPaymentSuccess(
            payment=Payment.from_domain(result.payment),
            debt=Debt.from_domain(result.debt),
            case=Case.from_domain(result.case),
        )
    except DomainError as error:
        await ctx.release()
        await ctx.audit.refused(
            AuditAction.PAYMENT_POST, error, resource_type="Debt", resource_id=debt_pk
        )
        return user_error(error)


async def reverse_payment(
    info: Info, data: ReversePaymentInput
) -> ReversePaymentSuccess | UserErrors:
    ctx = info.context
    pk = pk_of(data.payment_id, "Payment")
    await ctx.release()
    try:
        if pk is None:
            raise errors.PaymentNotFound("no such payment", field="paymentId")
        result = await services.reverse_payment(
            ctx.unit_of_work, ctx.clock, pk, data.reason, ctx.viewer.id
        )
    except DomainError as error:
        await ctx.audit.refused(
            AuditAction.PAYMENT_REVERSE, error, resource_type="Payment", resource_id=pk
        )
        return user_error(error)
    return ReversePaymentSuccess(
        payment=Payment.from_domain(result.payment),
        debt=Debt.from_domain(result.debt),
        case=Case.from_domain(result.case),
    )


@strawberry.type
class PaymentMutation:
    @strawberry.mutation(
        description="Records money received outside the core's feed and applies it at once: "
        "oldest instalment first, components by the waterfall, any excess UNAPPLIED; the case's "
        "DPD, bucket, classification, outstanding, life cycle and promises move with it.",
        extensions=needs("payment:post"),
    )
    async def post_payment(self, info: Info, input: PostPaymentInput) -> PostPaymentPayload:
        result = await post_payment(info, input)
        return result

    @strawberry.mutation(
        description="Reverses a payment (bounced, mistaken) as if it had never been made: the "
        "payments posted after it on the same debt are applied again in their order (oldest "
        "instalment first, by the waterfall) and the case refreshed; a case whose current "
        "closure its posting made reopens if it is in arrears again.",
        extensions=needs("payment:reverse"),
    )
    async def reverse_payment(
        self, info: Info, input: ReversePaymentInput
    ) -> ReversePaymentPayload:
        return await reverse_payment(info, input)
