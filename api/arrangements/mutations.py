"""recordPromise: parse input → call the arrangements service → map the result."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import strawberry

from api.arrangements.types import PromiseToPay
from api.common.idempotency import UnitsOfWork, exactly_once
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
from domain.arrangements import errors, services
from domain.cases.errors import CaseNotFound
from domain.collection_policy import DEFAULT as DEFAULT_COLLECTION_POLICY
from domain.errors import DomainError, IdempotencyKeyReused
from store import collection_policy_queries, promise_queries
from store.audit import AuditAction


@strawberry.input
class RecordPromiseInput:
    case_id: strawberry.ID
    amount: Decimal = strawberry.field(
        description="Above zero, with at most the currency's decimal places (cents)."
    )
    currency: str = strawberry.field(description="The case's currency (ISO 4217).")
    due_date: date = strawberry.field(
        description="The portfolio's local date: from today up to the collection policy's "
        "promiseMaxHorizonDays ahead (default "
        f"{DEFAULT_COLLECTION_POLICY.promises.max_horizon_days}); payments up to its "
        f"promiseGraceDays (default {DEFAULT_COLLECTION_POLICY.promises.grace_days}) after it "
        "still count."
    )
    contact_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The contact the promise was made in: one on this case that took place "
        "(CONTACT_BLOCKED: a conduct rule refused it; CONTACT_NOT_COMPLETED: it has no outcome "
        "yet). The promise is credited to that contact's collector or agency (by default, to "
        "you).",
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Any unique string (e.g. a UUID): a retry with the same key and the same "
        "input returns the first result; other input under a used key is refused.",
    )


@strawberry.type
class RecordPromiseSuccess:
    promise: PromiseToPay


UserErrors = ValidationError | NotFoundError | RuleViolationError | ConflictError
RecordPromisePayload = Annotated[
    RecordPromiseSuccess | UserErrors, strawberry.union("RecordPromisePayload")
]


async def _replay(
    ctx: Context, key: str, request: services.PromiseRequest
) -> RecordPromiseSuccess | None:
    """Returns the promise this key recorded (None if unused); refuses the key if it was used
    for anything else, this input included."""
    assert ctx.viewer.id is not None
    viewer_id = ctx.viewer.id
    prior = await ctx.read(lambda s: promise_queries.claimed_promise(s, viewer_id, key))
    if prior is None:
        return None
    operation, promise = prior
    if promise is None or (
        promise.case_id,
        promise.amount,
        promise.currency,
        promise.due_date,
        promise.contact_id,
    ) != (request.case_id, request.amount, request.currency, request.due_date, request.contact_id):
        raise IdempotencyKeyReused(
            f"this idempotency key was already used for another {operation}",
            field="idempotencyKey",
        )
    # The caller must still reach the case (the claimed promise was read without the scope).
    if await ctx.cases.load(promise.case_id) is None:
        raise CaseNotFound("no such case", field="caseId")
    return RecordPromiseSuccess(promise=PromiseToPay.from_domain(promise))


async def record_promise(info: Info, data: RecordPromiseInput) -> RecordPromiseSuccess | UserErrors:
    ctx = info.context
    now = ctx.clock.now()
    case_pk = pk_of(data.case_id, "Case")
    try:
        if case_pk is None:
            raise CaseNotFound("no such case", field="caseId")
        contact_pk = None
        if data.contact_id is not None:
            contact_pk = pk_of(data.contact_id, "Contact")
            if contact_pk is None:
                raise errors.PromiseContactInvalid("no such contact", field="contactId")
        request = services.PromiseRequest(
            case_id=case_pk,
            amount=data.amount,
            currency=data.currency,
            due_date=data.due_date,
            contact_id=contact_pk,
            actor_id=ctx.viewer.id,
            actor_agency_id=ctx.viewer.agency_id,
            idempotency_key=data.idempotency_key or None,
        )
        # The collection policy in effect at the request's instant (maker–checker versions it):
        # the promise's horizon and the grace days it keeps.
        collection = await ctx.read(lambda s: collection_policy_queries.policy_in_effect(s, now))

        async def work(units: UnitsOfWork) -> RecordPromiseSuccess:
            promise = await services.record_promise(
                units, ctx.clock, request, at=now, policy=collection.promises
            )
            return RecordPromiseSuccess(promise=PromiseToPay.from_domain(promise))

        return await exactly_once(
            ctx,
            data.idempotency_key,
            AuditAction.PROMISE_RECORD,
            lambda key: _replay(ctx, key, request),
            work,
            at=now,
        )
    except DomainError as error:
        return await refused(ctx, AuditAction.PROMISE_RECORD, error, "Case", case_pk)


@strawberry.type
class ArrangementMutation:
    @strawberry.mutation(
        description="Records a borrower's promise to pay on a case you can see and may work "
        "now; it supersedes the case's open promise. Payments already made today count.",
        extensions=needs("promise:record"),
    )
    async def record_promise(self, info: Info, input: RecordPromiseInput) -> RecordPromisePayload:
        return await record_promise(info, input)
