"""postPayment and reversePayment: parse input → call the domain service → map the result."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, TypeVar

import strawberry

from api.cases.types import Case, Debt
from api.common.idempotency import UnitsOfWork, exactly_once
from api.common.ids import pk_of
from api.common.inputs import check_text, utc_instant
from api.common.types import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    refused,
    user_error,
)
from api.context import Context, Info
from api.payments.types import Payment
from api.permissions import needs
from domain.errors import MAX_REASON, ConcurrencyConflict, DomainError, IdempotencyKeyReused
from domain.payments import errors, services
from store import changes_queries, collection_policy_queries, payment_queries
from store.audit import AuditAction


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
        description=f"Why (a bounced transfer, a mistake); 1 to {MAX_REASON} characters."
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


def _request(
    data: PostPaymentInput, debt_pk: int | None, actor_id: int | None
) -> services.PaymentRequest:
    if data.debt_id is not None and debt_pk is None:
        raise errors.DebtNotFound("no such debt", field="debtId")
    # An instant without an offset is left to the service, which refuses it as
    # PAYMENT_DATE_INVALID; one with an offset is taken in UTC (or refused out of range).
    paid_at = data.paid_at
    if paid_at.tzinfo is not None:
        paid_at = utc_instant("input.paidAt", paid_at) or paid_at
    return services.PaymentRequest(
        debt_id=debt_pk,
        account_number=data.account_number,
        amount=data.amount,
        currency=data.currency,
        paid_at=paid_at,
        reference=data.reference,
        actor_id=actor_id,
        idempotency_key=data.idempotency_key or None,
    )


Success = TypeVar("Success", PostPaymentSuccess, ReversePaymentSuccess)


def _success(kind: type[Success], result: services.PaymentResult) -> Success:
    """The payment, its debt and its case as a mutation answers with them."""
    return kind(
        payment=Payment.from_domain(result.payment),
        debt=Debt.from_domain(result.debt),
        case=Case.from_domain(result.case),
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
    debt = await ctx.debts.load(payment.debt_id) if same and payment is not None else None
    if request.debt_id is not None:
        same = same and payment is not None and payment.debt_id == request.debt_id
    else:
        same = same and debt is not None and debt.account_number == request.account_number
    if not same or payment is None:
        raise IdempotencyKeyReused(
            f"this idempotency key was already used for another {operation}",
            field="idempotencyKey",
        )
    case = await ctx.cases.load(payment.case_id)
    if debt is None or case is None:
        raise errors.DebtNotFound("no such debt", field="debtId")
    return _success(PostPaymentSuccess, services.PaymentResult(payment, debt, case))


async def post_payment(info: Info, data: PostPaymentInput) -> PostPaymentSuccess | UserErrors:
    """Posts once per idempotency key, also when retries race: the loser of a race answers
    with the winner's result (a duplicate reference or a lost claim)."""
    ctx = info.context
    for name, text in (
        ("input.reference", data.reference),
        ("input.accountNumber", data.account_number),
        ("input.idempotencyKey", data.idempotency_key),
    ):
        check_text(name, text)
    now = ctx.clock.now()
    debt_pk = pk_of(data.debt_id, "Debt") if data.debt_id is not None else None
    try:
        request = _request(data, debt_pk, ctx.viewer.id)
        # The waterfall and the collection policy (its watch window after a cure) in effect at
        # the request's instant (maker–checker versions them).
        waterfall = await ctx.read(lambda s: changes_queries.waterfall_in_effect(s, now))
        collection = await ctx.read(lambda s: collection_policy_queries.policy_in_effect(s, now))

        async def work(units: UnitsOfWork) -> PostPaymentSuccess:
            result = await services.post_payment(
                units,
                ctx.clock,
                request,
                at=now,
                waterfall=waterfall,
                lifecycle=collection.lifecycle,
            )
            return _success(PostPaymentSuccess, result)

        return await exactly_once(
            ctx,
            data.idempotency_key,
            AuditAction.PAYMENT_POST,
            lambda key: _replay(ctx, key, request),
            work,
            retry_on=(errors.PaymentReferenceDuplicate, ConcurrencyConflict),
            at=now,
        )
    except DomainError as error:
        return await refused(ctx, AuditAction.PAYMENT_POST, error, "Debt", debt_pk)


async def reverse_payment(
    info: Info, data: ReversePaymentInput
) -> ReversePaymentSuccess | UserErrors:
    ctx = info.context
    check_text("input.reason", data.reason)
    pk = pk_of(data.payment_id, "Payment")
    now = ctx.clock.now()
    waterfall = await ctx.read(lambda s: changes_queries.waterfall_in_effect(s, now))
    collection = await ctx.read(lambda s: collection_policy_queries.policy_in_effect(s, now))
    await ctx.release()
    try:
        if pk is None:
            raise errors.PaymentNotFound("no such payment", field="paymentId")
        result = await services.reverse_payment(
            ctx.unit_of_work,
            ctx.clock,
            pk,
            data.reason,
            ctx.viewer.id,
            waterfall=waterfall,
            lifecycle=collection.lifecycle,
        )
    except DomainError as error:
        await ctx.audit.refused(
            AuditAction.PAYMENT_REVERSE, error, resource_type="Payment", resource_id=pk
        )
        return user_error(error)
    return _success(ReversePaymentSuccess, result)


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
