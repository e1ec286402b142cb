"""Use cases on arrangements: recording a promise to pay, and re-evaluating a case's promises
(after a payment, a reversal, or — in the daily cycle — the passing of a due date)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from domain.arrangements import errors
from domain.arrangements.events import PromiseEvaluated, PromiseRecorded, PromiseSuperseded
from domain.arrangements.ports import PromiseUnitOfWork
from domain.arrangements.promises import (
    DEFAULT_PROMISE_POLICY,
    Promise,
    PromiseChange,
    PromisePolicy,
    PromiseStatus,
    evaluate,
    new_promise,
    supersede_open,
)
from domain.cases.errors import CaseNotFound
from domain.cases.model import Case, CaseStatus
from domain.clock import Clock
from domain.lifecycle.moves import standing_of
from domain.lifecycle.table import Action, ensure_allowed
from domain.portfolios import local_date, local_today, time_zone_of
from domain.restructuring.execution import PlanStanding, reevaluate_in_effect


@dataclass(frozen=True)
class PromiseRequest:
    """A promise as a caller states it; ``contact_id``: the contact it came from, if any."""

    case_id: int
    amount: Decimal
    currency: str
    due_date: date
    contact_id: int | None
    actor_id: int | None
    actor_agency_id: int | None
    idempotency_key: str | None = None


async def reevaluate(
    uow: PromiseUnitOfWork,
    case: Case,
    today: date | None,
    at: datetime,
    actor_id: int | None = None,
    *,
    reopened_from: datetime | None = None,
) -> list[PromiseChange]:
    """Re-evaluates a case's promises against its payments (as this unit of work has them) and
    records each change on the case. ``today`` (the portfolio's local date) lets promises whose
    window has passed turn BROKEN or PARTIALLY_KEPT; None judges payments only.

    On a closed case a promise still open at the closing is CANCELLED as of the closing (one
    whose window had ended before is judged); ``reopened_from``: the closing at that instant
    was undone, and the promises it cancelled are judged again."""
    assert case.id is not None
    promises = await uow.promises.for_case(case.id)
    if not promises:
        return []
    zone = time_zone_of(case.portfolio)
    facts = await uow.promises.payment_facts(case.id, zone)
    closed_at = case.closed_at if case.status == CaseStatus.CLOSED else None
    closed_on = local_date(zone, closed_at) if closed_at is not None else None
    changes = evaluate(promises, facts, today, closed_on=closed_on, reopened_from=reopened_from)
    for change in changes:
        # A cancelled promise ends when its case closed, whenever that is noticed.
        change.apply(closed_at if change.status == PromiseStatus.CANCELLED else at)
        assert change.promise.id is not None
        case.events.append(
            PromiseEvaluated(
                case.id,
                at,
                actor_id,
                change.promise.id,
                str(change.status),
                str(change.previous_status),
                str(change.paid_amount),
                str(change.previous_paid_amount),
            )
        )
    return changes


async def reevaluate_plan(
    uow: PromiseUnitOfWork,
    case: Case,
    today: date,
    at: datetime,
    actor_id: int | None = None,
) -> PlanStanding:
    """Counts the case's payments against its plan or settlement in effect (after a payment or
    a reversal, once the case is reclassified and before its life cycle moves): instalments
    covered, payments in a row, a plan completed, a settlement paid in full closing the case.
    Returns what the life cycle must know (a plan's probation: no cure yet)."""
    return await reevaluate_in_effect(uow, case, today, at, actor_id)


async def record_promise(
    uow_factory: Callable[[], PromiseUnitOfWork],
    clock: Clock,
    request: PromiseRequest,
    *,
    at: datetime | None = None,
    policy: PromisePolicy = DEFAULT_PROMISE_POLICY,
) -> Promise:
    """Records a promise on a case the caller can see and may work now, superseding the open
    one. It is credited to whoever made the contact it came from — a contact on this case that
    took place (not refused by a conduct rule, not still in progress) — else to the caller (and
    the caller's agency). Payments already made today count toward it at once."""
    now = at or clock.now()
    async with uow_factory() as uow:
        case = await uow.cases.get(request.case_id)
        if case is None or case.id is None:
            raise CaseNotFound("no such case", field="caseId")
        ensure_allowed(standing_of(case), Action.PROMISE, case.reference)
        staff_id, agency_id = request.actor_id, request.actor_agency_id
        if request.contact_id is not None:
            credit = await uow.promises.contact_credit(request.contact_id)
            if credit is None or credit.case_id != case.id:
                raise errors.PromiseContactInvalid(
                    "no such contact on this case", field="contactId"
                )
            if credit.blocked:
                raise errors.PromiseContactBlocked(
                    "a conduct rule refused this contact: it never took place", field="contactId"
                )
            if not credit.completed:
                raise errors.PromiseContactNotCompleted(
                    "this contact is still in progress: record its outcome first",
                    field="contactId",
                )
            staff_id, agency_id = credit.staff_id, credit.agency_id
        today = local_today(case.portfolio, now)
        promise = new_promise(
            case_id=case.id,
            case_currency=case.currency,
            amount=request.amount,
            currency=request.currency,
            due_date=request.due_date,
            today=today,
            at=now,
            policy=policy,
            contact_id=request.contact_id,
            staff_id=staff_id,
            agency_id=agency_id,
        )
        # Judge the promises whose window has passed first: they are broken, not replaced.
        await reevaluate(uow, case, today, now, request.actor_id)
        promise.recorded_by = request.actor_id
        promise.idempotency_key = request.idempotency_key
        replaced = supersede_open(await uow.promises.for_case(case.id), now)
        await uow.promises.add(promise)
        assert promise.id is not None
        case.events.append(
            PromiseRecorded(
                case.id,
                now,
                request.actor_id,
                promise.id,
                str(promise.amount),
                promise.currency,
                promise.due_date,
                promise.contact_id,
                promise.staff_id,
                promise.agency_id,
            )
        )
        for old in replaced:
            assert old.id is not None
            case.events.append(
                PromiseSuperseded(case.id, now, request.actor_id, old.id, promise.id)
            )
        await reevaluate(uow, case, today, now, request.actor_id)
        await uow.commit()
        return promise
