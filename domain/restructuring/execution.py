"""A plan or settlement in effect, re-evaluated when the case's payments change (a payment posted
or reversed, through the arrangements service; the core's payments and reversals by the daily
run): what counts toward it, its completion — a settlement paid in full settles the debts it
covers, records the concession approved as the discount, and closes the case as SETTLED unless
a debt it does not cover is in arrears — and whether the case is on a plan's probation (no
cure yet) or has a plan in effect (no escalation)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from domain.cases.classification import ClassificationPolicy
from domain.cases.model import Case, CaseStatus
from domain.debts.ageing import debt_days_past_due
from domain.debts.model import DebtStatus
from domain.lifecycle.moves import facts_of, move
from domain.lifecycle.table import CloseReason, Trigger, guards_hold
from domain.money import Money
from domain.portfolios import time_zone_of
from domain.restructuring import plans
from domain.restructuring.plan_events import PlanPaymentCounted, RestructuringCompleted
from domain.restructuring.plans import InEffect, PlanPayment

_ACTIVE_CASE = frozenset({CaseStatus.OPEN, CaseStatus.ON_HOLD})
# Statuses a settlement never takes from a debt (settled already, or the core closed it). A
# WRITTEN_OFF debt is settled too (a recovery settlement), its status kept for a reversal.
_KEPT = frozenset({DebtStatus.SETTLED, DebtStatus.CLOSED})
ZERO = Decimal("0.00")


class PlanRepository(Protocol):
    async def current(self, case_id: int) -> InEffect | None:
        """Returns the case's newest plan or settlement that was approved (ACTIVE, COMPLETED or
        BROKEN), with its instalments, or None; its row is locked until the unit of work ends
        (two evaluations of it never interleave)."""
        ...

    async def payment_facts(self, case_id: int, time_zone: str) -> list[PlanPayment]:
        """Returns the case's payments (reversed ones too) with their local dates in a zone,
        including changes made in this unit of work."""
        ...

    async def payments_in_row_needed(self, at: datetime) -> int:
        """Returns the plan payments in a row a cure needs, by the policy in effect at ``at``."""
        ...

    async def save(self, before: InEffect, after: InEffect, at: datetime) -> None:
        """Writes what an evaluation at ``at`` made of a restructuring (status, paid amount,
        payments in a row, instalments, concession, covered debts and their statuses before;
        ``ended_at`` when it completes, cleared when reinstated; ``evaluated_at``), if it is
        still the version read (else ``domain.errors.ConcurrencyConflict``)."""
        ...


class PlanUnitOfWork(Protocol):
    @property
    def plans(self) -> PlanRepository: ...


@dataclass(frozen=True)
class PlanStanding:
    """What the life cycle must know after the evaluation: the case is on a plan's probation
    (no cure), or the settlement that closed it is no longer paid (a reversal took back one of
    its payments: it reopens as a cure's closure does when its closing payment is reversed);
    ``debts_changed``: the debts' statuses changed (reclassify before the life cycle)."""

    on_probation: bool = False
    settlement_unpaid: bool = False
    debts_changed: bool = False
    closed_as_settled: bool = False  # the case is CLOSED as SETTLED (before the life cycle)
    # A plan or settlement took effect on the case: its cure may have been held, so an OPEN
    # case already at DPD 0 is cured once it is not on probation (``after_balance_change``;
    # the daily run's SQL says the same: ``store.plan_queries.cure_held_cases``).
    cure_held: bool = False
    # An ACTIVE plan or settlement not lapsed today: the case is not escalated.
    plan_in_effect: bool = False

    def closing_undone(self, closing_payment_reversed: bool) -> bool:
        """Whether the case's closure is undone (``Facts.closing_payment_reversed``): a
        settlement's when it is no longer paid (whichever of its payments was reversed, and
        never while the others still pay it), any other's when its closing payment was."""
        if self.closed_as_settled:
            return self.settlement_unpaid
        return closing_payment_reversed


NONE = PlanStanding()


async def reevaluate_in_effect(
    uow: PlanUnitOfWork, case: Case, today: date, at: datetime, actor_id: int | None
) -> PlanStanding:
    """Re-evaluates the case's plan or settlement from its payments (after the case's balance
    changed and it was reclassified) and records what changed on the case. A plan or settlement
    still ACTIVE on a case closed PAID_IN_FULL is completed (it ends; never broken later)."""
    assert case.id is not None
    settled = _closed_as(case, CloseReason.SETTLED)
    current = await uow.plans.current(case.id)
    if current is None:
        return PlanStanding(closed_as_settled=settled)
    payments = await uow.plans.payment_facts(case.id, time_zone_of(case.portfolio))
    evaluation = plans.evaluate(current, payments)
    if evaluation is None:  # broken: nothing a payment does mends it (a person proposes anew)
        return PlanStanding(closed_as_settled=settled, cure_held=True)
    paid_off = _closed_as(case, CloseReason.PAID_IN_FULL)
    if paid_off and evaluation.status == plans.ACTIVE:
        evaluation = replace(evaluation, status=plans.COMPLETED)
    needed = await uow.plans.payments_in_row_needed(at)
    after = evaluation.after
    if current.kind == plans.SETTLEMENT and current.debt_ids is None:
        after = replace(after, debt_ids=_owing(case))
    unpaid = debts_changed = False
    if evaluation.completed:
        after, debts_changed = _complete(case, after, today, at, actor_id, paid_off)
    elif evaluation.reinstated and current.kind == plans.SETTLEMENT:
        after, debts_changed = _unsettle(case, after)
        unpaid = _closed_as(case, CloseReason.SETTLED)
    if evaluation.changed:
        case.events.append(
            PlanPaymentCounted(
                case.id,
                at,
                actor_id,
                current.id,
                current.kind,
                evaluation.status,
                current.status,
                _amount(evaluation.paid_amount, current.currency),
                _amount(current.paid_amount, current.currency),
                current.currency,
                evaluation.payments_in_row,
                current.payments_in_row,
            )
        )
    await uow.plans.save(current, after, at)
    return PlanStanding(
        on_probation=plans.on_probation(
            current.kind, evaluation.status, evaluation.payments_in_row, needed
        ),
        settlement_unpaid=unpaid,
        debts_changed=debts_changed,
        closed_as_settled=_closed_as(case, CloseReason.SETTLED),
        cure_held=True,
        plan_in_effect=plans.in_effect(after, today),
    )


async def reevaluate_for_run(
    uow: PlanUnitOfWork,
    case: Case,
    today: date,
    at: datetime,
    policy: ClassificationPolicy,
) -> PlanStanding:
    """The daily run's re-evaluation of a case whose payments changed since its plan or
    settlement was last evaluated (the core's payments and reversals come by the feed, which
    evaluates nothing), before the run ages the cases: the same evaluation as a payment's; a
    settled case whose settlement is no longer paid reopens (UNSETTLE). The run's own ageing
    then cures, escalates or reopens by the table, as for any case."""
    standing = await reevaluate_in_effect(uow, case, today, at, None)
    if standing.debts_changed:
        case.reclassify(policy, today, at)
    facts = facts_of(case, today, closing_payment_reversed=standing.settlement_unpaid)
    if standing.settlement_unpaid and guards_hold(Trigger.UNSETTLE, facts):
        move(case, Trigger.UNSETTLE, facts, at, None)
    return standing


def _closed_as(case: Case, reason: CloseReason) -> bool:
    return CaseStatus(case.status) is CaseStatus.CLOSED and case.close_reason == reason.value


def _amount(amount: Decimal, currency: str) -> str:
    return str(Money(amount, currency).rounded().amount)


def _owing(case: Case) -> tuple[int, ...]:
    """The debts a settlement covers, recorded at its first evaluation after approval: those
    of the case that owe something and are neither settled nor closed (a WRITTEN_OFF one is
    covered: the borrower may still settle it)."""
    return tuple(
        sorted(
            d.id
            for d in case.debts
            if d.id is not None
            and d.outstanding.amount > 0
            and DebtStatus(d.status) not in (DebtStatus.SETTLED, DebtStatus.CLOSED)
        )
    )


def _complete(
    case: Case,
    after: InEffect,
    today: date,
    at: datetime,
    actor_id: int | None,
    paid_off: bool,
) -> tuple[InEffect, bool]:
    """Records the completion. A settlement SETTLES the debts it covers (not one the core
    closed: it keeps its status), each one's status before kept for a reversal; a WRITTEN_OFF
    one is settled too (a recovery settlement: the write-off, a manager's or the core's charge-
    off, came while the settlement was in effect or before it was proposed), and the event
    counts them (``written_off_debts``) so the core books the discount against the balance it
    already wrote off. Its discount is the concession approved (balance − settlement amount:
    interest accrued since, or a debt it does not cover, stays owed), and its case closes as
    SETTLED (the table's SETTLE) unless a debt it does not cover is in arrears. On a case
    closed PAID_IN_FULL it merely ends (nothing was given up). Returns the restructuring as
    completed and whether a debt's status changed."""
    assert case.id is not None
    discount = after.concession
    settled: dict[str, str] = {}
    if after.kind == plans.SETTLEMENT and paid_off:
        discount = ZERO
    elif after.kind == plans.SETTLEMENT:
        covered = set(after.debt_ids or ())
        for debt in case.debts:
            if debt.id in covered and DebtStatus(debt.status) not in _KEPT:
                settled[str(debt.id)] = str(debt.status)
                debt.status = DebtStatus.SETTLED
        others_in_arrears = any(
            debt_days_past_due(d, today) > 0 for d in case.debts if d.id not in covered
        )
        if CaseStatus(case.status) in _ACTIVE_CASE and not others_in_arrears:
            move(case, Trigger.SETTLE, facts_of(case, today), at, actor_id)
    case.events.append(
        RestructuringCompleted(
            case.id,
            at,
            actor_id,
            after.id,
            after.kind,
            _amount(after.paid_amount, after.currency),
            _amount(discount, after.currency),
            after.currency,
            settled,
            sum(1 for before in settled.values() if before == DebtStatus.WRITTEN_OFF.value),
        )
    )
    statuses = tuple(sorted((int(k), v) for k, v in settled.items()))
    return replace(after, concession=discount, debt_statuses=statuses), bool(settled)


def _unsettle(case: Case, after: InEffect) -> tuple[InEffect, bool]:
    """A settlement no longer paid: the debts it settled get back the status each had before.
    Returns the restructuring (its concession as approved again) and whether a debt changed."""
    before = dict(after.debt_statuses)
    changed = False
    for debt in case.debts:
        if debt.id in before and DebtStatus(debt.status) is DebtStatus.SETTLED:
            debt.status = DebtStatus(before[debt.id])
            changed = True
    return replace(after, debt_statuses=(), concession=plans.proposed_concession(after)), changed
