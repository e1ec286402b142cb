"""Use cases on payments: posting one (applied provisionally until the core's feed books it) and
reversing one (the payments posted after it on the debt are applied again, as if it had never
been made). Each moves, in one transaction, the schedule and components of the debt, the
case's DPD, bucket, classification and outstanding, its life cycle (cure, pay in full, reopen)
and the case's promises."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from domain.arrangements.services import reevaluate, reevaluate_plan
from domain.cases.classification import DEFAULT_POLICY, ClassificationPolicy
from domain.cases.model import Case, CaseStatus
from domain.clock import Clock
from domain.debts.ageing import debt_days_past_due
from domain.debts.model import Debt, DebtStatus
from domain.errors import InvalidInput, stated_reason
from domain.lifecycle.moves import after_balance_change
from domain.lifecycle.table import DEFAULT_POLICY as DEFAULT_LIFECYCLE
from domain.lifecycle.table import LifecyclePolicy
from domain.money import Money, exact_amount
from domain.payments import errors
from domain.payments.events import PaymentPosted, PaymentReapplied, PaymentReversed
from domain.payments.model import Payment, PaymentSource
from domain.payments.ports import PaymentUnitOfWork
from domain.payments.waterfall import (
    DEFAULT_WATERFALL,
    Waterfall,
    apply_payment,
    reverse_and_reapply,
)
from domain.portfolios import local_today

MAX_REFERENCE = 64
# A payment may carry an instant this far ahead of ours (the sender's clock may run fast).
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class PaymentRequest:
    """A payment as the sender states it: for a debt (by id or account number), an amount in a
    currency, when it was paid, and the sender's reference of the transaction."""

    debt_id: int | None
    account_number: str | None
    amount: Decimal
    currency: str
    paid_at: datetime
    reference: str
    actor_id: int | None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class PaymentResult:
    payment: Payment
    debt: Debt
    case: Case


def check_request(request: PaymentRequest, now: datetime) -> str:
    """Returns the reference without surrounding blanks, or refuses what needs no lookup."""
    if (request.debt_id is None) == (request.account_number is None):
        raise InvalidInput("give either debtId or accountNumber", field="debtId")
    reference = request.reference.strip()
    if not reference or len(reference) > MAX_REFERENCE:
        raise InvalidInput(
            f"the reference must have 1 to {MAX_REFERENCE} characters", field="reference"
        )
    paid_at = request.paid_at
    if paid_at.tzinfo is None or paid_at.utcoffset() is None:
        raise errors.PaymentDateInvalid("paidAt needs a time zone offset", field="paidAt")
    if paid_at > now + CLOCK_SKEW:
        raise errors.PaymentDateInvalid("a payment cannot be made in the future", field="paidAt")
    return reference


def check_reason(reason: str) -> str:
    """Returns a reversal's reason without surrounding blanks, or refuses an empty or long one."""
    return stated_reason(reason, "reason", "say why the payment is reversed")


async def _settle(
    uow: PaymentUnitOfWork,
    case: Case,
    previous_days_past_due: int,
    policy: ClassificationPolicy,
    now: datetime,
    actor_id: int | None,
    *,
    closing_payment_reversed: bool = False,
    lifecycle: LifecyclePolicy = DEFAULT_LIFECYCLE,
) -> None:
    """What a balance change moves on its case: DPD, bucket, class and outstanding as of the
    portfolio's today, its plan or settlement in effect, the life cycle (a cure watched for
    ``lifecycle.watch_days``), and the promises."""
    today = local_today(case.portfolio, now)
    closed_at = case.closed_at if case.status == CaseStatus.CLOSED else None
    case.reclassify(policy, today, now)
    plan = await reevaluate_plan(uow, case, today, now, actor_id)
    if plan.debts_changed:  # a settlement paid (debts SETTLED) or taken back
        case.reclassify(policy, today, now)
    after_balance_change(
        case,
        previous_days_past_due,
        today,
        now,
        actor_id,
        closing_payment_reversed=plan.closing_undone(closing_payment_reversed),
        on_plan_probation=plan.on_probation,
        cure_held=plan.cure_held,
        plan_in_effect=plan.plan_in_effect,
        policy=lifecycle,
    )
    # Only a reversal that undoes the closing (of the payment that closed the case, or one that
    # leaves a settlement unpaid) brings back the promises it cancelled; a new default that
    # reopens the case does not.
    undone = (
        plan.closing_undone(closing_payment_reversed)
        and closed_at is not None
        and case.status != CaseStatus.CLOSED
    )
    await reevaluate(uow, case, today, now, actor_id, reopened_from=closed_at if undone else None)


async def _is_recovery(uow: PaymentUnitOfWork, debt: Debt, case_id: int, paid_at: datetime) -> bool:
    """Whether a payment on ``debt`` paid at ``paid_at`` is a recovery: the debt is WRITTEN_OFF
    and the payment was made on or after its write-off (any time if none is stored: the core
    sent the debt written off)."""
    if DebtStatus(debt.status) is not DebtStatus.WRITTEN_OFF or debt.id is None:
        return False
    since = await uow.payments.written_off_since(debt.id, case_id)
    return since is None or paid_at >= since


async def post_payment(
    uow_factory: Callable[[], PaymentUnitOfWork],
    clock: Clock,
    request: PaymentRequest,
    *,
    at: datetime | None = None,
    waterfall: Waterfall = DEFAULT_WATERFALL,
    policy: ClassificationPolicy = DEFAULT_POLICY,
    lifecycle: LifecyclePolicy = DEFAULT_LIFECYCLE,
) -> PaymentResult:
    """Posts a payment and applies it: oldest instalment first, components by the waterfall,
    any excess left UNAPPLIED. Money received is never refused for the case's state (a closed
    case takes it too); refused are another currency, a non-positive or sub-cent amount, a
    reference already used, an unknown debt and an instant in the future, changing nothing.

    ``at`` is the instant recorded as the payment's creation (the caller's idempotency claim
    carries the same instant); ``waterfall`` and ``lifecycle`` (the collection policy's watch
    window) are the versions in effect at it."""
    now = at or clock.now()
    reference = check_request(request, now)
    async with uow_factory() as uow:
        located = await uow.payments.locate_debt(request.debt_id, request.account_number)
        field = "debtId" if request.debt_id is not None else "accountNumber"
        if located is None:
            raise errors.DebtNotFound("no such debt", field=field)
        debt_id, case_id = located
        # The case is locked before its debts are read, so concurrent payments queue here.
        case = await uow.cases.get_with_debts(case_id)
        debt = next((d for d in case.debts if d.id == debt_id), None) if case else None
        if case is None or case.id is None or debt is None or debt.id is None:
            raise errors.DebtNotFound("no such debt", field=field)
        money = exact_amount(request.amount, request.currency, debt.currency)
        if await uow.payments.reference_taken(reference):
            raise errors.PaymentReferenceDuplicate(
                f"a payment with reference {reference!r} was already posted", field="reference"
            )
        today = local_today(case.portfolio, now)
        previous = max((debt_days_past_due(d, today) for d in case.debts), default=0)
        application = apply_payment(debt, money, waterfall)
        payment = Payment(
            case_id=case.id,
            debt_id=debt.id,
            amount=money.amount,
            currency=money.currency,
            paid_at=request.paid_at,
            reference=reference,
            source=PaymentSource.API,
            posted_by=request.actor_id,
            created_at=now,
            idempotency_key=request.idempotency_key,
            # Paid on a written-off debt from its write-off on: a recovery (by the debt, not
            # the case's stage; it never reopens earlier stages).
            recovery=await _is_recovery(uow, debt, case.id, request.paid_at),
        )
        await uow.payments.add(payment, application)
        assert payment.id is not None
        case.events.append(
            PaymentPosted(
                case.id,
                now,
                request.actor_id,
                payment.id,
                debt.id,
                reference,
                str(money.amount),
                money.currency,
                request.paid_at,
                {str(a.component): str(a.amount) for a in application.components},
                application.waterfall_version,
            )
        )
        await _settle(uow, case, previous, policy, now, request.actor_id, lifecycle=lifecycle)
        payment.closed_case = case.status == CaseStatus.CLOSED and case.closed_at == now
        await uow.commit()
        return PaymentResult(payment, debt, case)


async def reverse_payment(
    uow_factory: Callable[[], PaymentUnitOfWork],
    clock: Clock,
    payment_id: int,
    reason: str,
    actor_id: int | None,
    *,
    waterfall: Waterfall = DEFAULT_WATERFALL,
    policy: ClassificationPolicy = DEFAULT_POLICY,
    lifecycle: LifecyclePolicy = DEFAULT_LIFECYCLE,
) -> PaymentResult:
    """Reverses a payment as if it had never been made: the payments posted after it on the
    same debt are taken back (newest first), then it, and they are applied again in their order
    (oldest instalment first, components by ``waterfall``), their stored allocations replaced.
    The case is then refreshed as after any balance change; a case whose current closure this
    payment's posting made (cured or paid in full) reopens if it is in arrears again. Reversing
    twice is refused; a refusal changes nothing."""
    text = check_reason(reason)
    now = clock.now()
    async with uow_factory() as uow:
        payment = await uow.payments.get(payment_id)
        if payment is None or payment.id is None:
            raise errors.PaymentNotFound("no such payment", field="paymentId")
        if payment.reversed:
            raise errors.PaymentAlreadyReversed(
                f"payment {payment.reference} was already reversed", field="paymentId"
            )
        case = await uow.cases.get_with_debts(payment.case_id)
        debt = next((d for d in case.debts if d.id == payment.debt_id), None) if case else None
        if case is None or case.id is None or debt is None or debt.id is None:
            raise errors.PaymentNotFound("no such payment", field="paymentId")
        today = local_today(case.portfolio, now)
        previous = max((debt_days_past_due(d, today) for d in case.debts), default=0)
        # Its posting closed the case, and that closure is the current one (a case reopened
        # and closed again since was closed by something else: closed_at is that instant).
        closed_by_it = (
            payment.closed_case
            and case.status == CaseStatus.CLOSED
            and case.closed_at is not None
            and case.closed_at == payment.created_at
        )
        later = await uow.payments.later_on_debt(payment)
        reversed_application, *later_applications = await uow.payments.applications_of(
            [payment, *later]
        )
        reapplied = reverse_and_reapply(debt, reversed_application, later_applications, waterfall)
        await uow.payments.replace_applications(list(zip(later, reapplied, strict=True)))
        payment.reversed = True
        payment.reversed_at = now
        payment.reversed_by = actor_id
        payment.reversal_reason = text
        reapplied_ids = tuple(p.id for p in later if p.id is not None)
        case.events.append(
            PaymentReversed(
                case.id,
                now,
                actor_id,
                payment.id,
                debt.id,
                payment.reference,
                str(Money(payment.amount, payment.currency).rounded().amount),
                payment.currency,
                reapplied_ids,
            )
        )
        for other_id in reapplied_ids:
            case.events.append(
                PaymentReapplied(case.id, now, actor_id, other_id, debt.id, payment.id)
            )
        await _settle(
            uow,
            case,
            previous,
            policy,
            now,
            actor_id,
            closing_payment_reversed=closed_by_it,
            lifecycle=lifecycle,
        )
        await uow.commit()
        return PaymentResult(payment, debt, case)
