"""Applying the life-cycle table to a Case: the only code that changes a case's status or stage."""

from __future__ import annotations

from datetime import date, datetime

from domain.cases.events import CaseTransitioned
from domain.cases.model import Case, CaseStage, CaseStatus
from domain.lifecycle.table import (
    CURE_REASONS,
    DEFAULT_POLICY,
    CloseReason,
    Facts,
    HoldReason,
    LifecyclePolicy,
    Standing,
    Trigger,
    decide,
    fires,
)


def facts_of(
    case: Case,
    today: date,
    closing_payment_reversed: bool = False,
    *,
    on_plan_probation: bool = False,
    plan_in_effect: bool = False,
) -> Facts:
    """Returns the guards' facts about a case as of a local date (``on_plan_probation``: the
    case's instalment plan has fewer than the configured payments in a row; ``plan_in_effect``:
    a plan or settlement ACTIVE and not lapsed — both said by ``domain.restructuring``, from the
    plan repository)."""
    reason = CloseReason(case.close_reason) if case.close_reason else None
    return Facts(
        days_past_due=case.days_past_due,
        outstanding=case.outstanding_amount,
        today=today,
        close_reason=reason,
        watch_until=case.watch_until,
        closing_payment_reversed=closing_payment_reversed,
        held_when_closed=case.closed_while_held,
        on_plan_probation=on_plan_probation,
        plan_in_effect=plan_in_effect,
    )


def standing_of(case: Case) -> Standing:
    """Returns what decides the work allowed on a case (``table.blocked_actions``)."""
    return Standing(
        status=CaseStatus(case.status),
        stage=CaseStage(case.stage),  # the store may hand the stage over as text
        placed=case.agency_id is not None,
        assigned=case.assignee_id is not None,
    )


def move(
    case: Case,
    trigger: Trigger,
    facts: Facts,
    at: datetime,
    actor_id: int | None,
    reason: CloseReason | None = None,
    policy: LifecyclePolicy = DEFAULT_POLICY,
    hold_reason: HoldReason | None = None,
) -> None:
    """Moves a case by the table (or raises IllegalTransition) and records CaseTransitioned
    (with ``hold_reason`` on a HOLD)."""
    result = decide(CaseStatus(case.status), case.stage, trigger, facts, reason)
    before_status, before_stage = CaseStatus(case.status), case.stage
    case.status, case.stage = result.status, result.stage
    if before_status is CaseStatus.CLOSED and result.status is CaseStatus.CLOSED:
        pass  # a move that keeps a case closed (a charge-off) keeps its closure as it was
    elif result.status is CaseStatus.CLOSED:
        case.closed_while_held = before_status is CaseStatus.ON_HOLD
        case.close_reason = result.close_reason
        case.closed_at = at
        cured = result.close_reason in CURE_REASONS
        case.watch_until = policy.watch_until(facts.today) if cured else None
    else:
        case.closed_while_held = False
        case.close_reason = None
        case.closed_at = None
        case.watch_until = None
    case.events.append(
        CaseTransitioned(
            case.id,
            at,
            actor_id,
            str(trigger),
            str(before_status),
            str(result.status),
            str(before_stage),
            str(result.stage),
            str(result.close_reason) if result.close_reason else None,
            str(hold_reason) if hold_reason is not None and trigger is Trigger.HOLD else None,
        )
    )


def after_balance_change(
    case: Case,
    previous_days_past_due: int,
    today: date,
    at: datetime,
    actor_id: int | None,
    *,
    closing_payment_reversed: bool = False,
    on_plan_probation: bool = False,
    cure_held: bool = False,
    plan_in_effect: bool = False,
    policy: LifecyclePolicy = DEFAULT_POLICY,
) -> Trigger | None:
    """Applies what a change of the balance means for the life cycle, after ``reclassify``:
    arrears cleared on an active case cure it (or pay it in full); a default on a case closed
    by a cure reopens the same case inside the watch window (or when the closing payment was
    reversed). A case on a plan's probation is not cured (it may still be paid in full); a case
    whose cure a plan may have held (``cure_held``: a plan or settlement took effect on it) is
    cured at DPD 0 once it is not on probation, even if it stood at DPD 0 before (the daily
    run's SQL says the same). Returns the trigger applied, if any."""
    facts = facts_of(
        case,
        today,
        closing_payment_reversed,
        on_plan_probation=on_plan_probation,
        plan_in_effect=plan_in_effect,
    )
    if CaseStatus(case.status) is CaseStatus.CLOSED:
        candidates: tuple[Trigger, ...] = (Trigger.REOPEN, Trigger.UNSETTLE)
    elif previous_days_past_due > 0 or cure_held:  # a case in arrears, or its cure held
        candidates = (Trigger.PAY_IN_FULL, Trigger.CURE)
    else:
        candidates = ()
    # The table's own guards decide (cleared, nothing owed, a cure's closure, in the window).
    # The table's own rows decide: from where (a written-off case is never cured) and guards.
    status = CaseStatus(case.status)
    trigger = next((t for t in candidates if fires(t, status, case.stage, facts)), None)
    if trigger is not None:
        move(case, trigger, facts, at, actor_id, policy=policy)
    return trigger
