"""The case life cycle as data: one transition table, its guards, close reasons, and the one
function that says what may be done on a case now.

Stages (EARLY → COLLECTION → LEGAL → WRITTEN_OFF) say how far collection has gone; the status
(OPEN / ON_HOLD / CLOSED) says whether anyone works the case now. A closed case keeps its stage,
so that reopening it (a new default inside the watch window, or the reversal of the payment that
closed it) returns it exactly to where it was. Later issues add triggers and guards to this
table, not new tables; flags and complaints extend ``blocked_actions`` in one place.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from types import MappingProxyType

from domain.cases.errors import CaseClosed, CaseNotPlaced, CasePlacedWithAgency
from domain.cases.model import CaseStage, CaseStatus
from domain.errors import ErrorCode, RuleViolation


class CloseReason(enum.StrEnum):
    """Why a case is CLOSED."""

    CURED = "CURED"  # the arrears were cleared; a balance may remain, not yet due
    PAID_IN_FULL = "PAID_IN_FULL"  # nothing is owed any more
    SETTLED = "SETTLED"  # a settlement was paid in full (debt handling)
    DEBT_SOLD = "DEBT_SOLD"
    UNCOLLECTIBLE = "UNCOLLECTIBLE"


class HoldReason(enum.StrEnum):
    """Why a person paused collection on a case (``holdCase``): a code, never free text."""

    HOSPITALISATION = "HOSPITALISATION"  # the borrower is in hospital
    BEREAVEMENT = "BEREAVEMENT"  # a death in the borrower's family
    DISASTER = "DISASTER"  # a natural disaster or emergency where the borrower lives
    INVESTIGATION = "INVESTIGATION"  # suspected fraud or identity theft under investigation
    LENDER_DECISION = "LENDER_DECISION"  # any other pause the lender decided


# The closures a cure makes: they are watched for a new default, and a reopening undoes them.
CURE_REASONS = frozenset({CloseReason.CURED, CloseReason.PAID_IN_FULL})


class Trigger(enum.StrEnum):
    """What moves a case: an operation or a fact observed by the system."""

    ESCALATE = "ESCALATE"
    REFER_TO_LEGAL = "REFER_TO_LEGAL"
    WRITE_OFF = "WRITE_OFF"
    HOLD = "HOLD"
    RESUME = "RESUME"
    CURE = "CURE"
    PAY_IN_FULL = "PAY_IN_FULL"
    SETTLE = "SETTLE"
    CLOSE = "CLOSE"
    REOPEN = "REOPEN"
    NEW_DEFAULT = "NEW_DEFAULT"
    UNSETTLE = "UNSETTLE"  # a payment a settlement counted was reversed (debt handling)


class Guard(enum.StrEnum):
    """A named condition a transition needs; ``Facts`` answers each."""

    ARREARS_CLEARED = "ARREARS_CLEARED"
    NOTHING_OWED = "NOTHING_OWED"
    IN_ARREARS = "IN_ARREARS"
    WITHIN_WATCH_WINDOW = "WITHIN_WATCH_WINDOW"
    CLOSED_BY_CURE = "CLOSED_BY_CURE"
    # Debt handling: plans and settlements in effect (domain.restructuring.plans).
    NOT_ON_PLAN_PROBATION = "NOT_ON_PLAN_PROBATION"
    NO_PLAN_IN_EFFECT = "NO_PLAN_IN_EFFECT"
    SETTLEMENT_UNPAID = "SETTLEMENT_UNPAID"


@dataclass(frozen=True)
class Facts:
    """What the guards look at, as of the local date ``today``."""

    days_past_due: int
    outstanding: Decimal
    today: date
    close_reason: CloseReason | None = None
    watch_until: date | None = None
    # The payment that closed the case was reversed: its reopening is not a new default.
    closing_payment_reversed: bool = False
    # The case was ON_HOLD when it closed: reopening returns it to the hold, not to work.
    held_when_closed: bool = False
    # An ACTIVE instalment plan with fewer than the configured plan payments in a row, or an
    # ACTIVE settlement: no cure (``domain.restructuring.plans.on_probation``).
    on_plan_probation: bool = False
    # An ACTIVE plan or settlement, not yet broken: the case is not escalated.
    plan_in_effect: bool = False

    def holds(self, guard: Guard) -> bool:
        if guard is Guard.ARREARS_CLEARED:
            return self.days_past_due == 0
        if guard is Guard.NOTHING_OWED:
            return self.outstanding <= 0
        if guard is Guard.IN_ARREARS:
            return self.days_past_due > 0
        if guard is Guard.WITHIN_WATCH_WINDOW:
            return self.closing_payment_reversed or (
                self.watch_until is not None and self.today <= self.watch_until
            )
        if guard is Guard.NOT_ON_PLAN_PROBATION:
            return not self.on_plan_probation
        if guard is Guard.NO_PLAN_IN_EFFECT:
            return not self.plan_in_effect
        if guard is Guard.SETTLEMENT_UNPAID:
            return self.close_reason is CloseReason.SETTLED and self.closing_payment_reversed
        return self.close_reason in CURE_REASONS


GUARD_TEXT: Mapping[Guard, str] = MappingProxyType(
    {
        Guard.ARREARS_CLEARED: "no instalment is past due (DPD 0)",
        Guard.NOTHING_OWED: "the outstanding balance is zero",
        Guard.IN_ARREARS: "an instalment is past due (DPD ≥ 1)",
        Guard.WITHIN_WATCH_WINDOW: "inside the watch window after the cure, or the payment "
        "that closed the case was reversed",
        Guard.CLOSED_BY_CURE: "the case was closed as CURED or PAID_IN_FULL",
        Guard.NOT_ON_PLAN_PROBATION: "no instalment plan in effect with fewer than the "
        "configured plan payments in a row, nor a settlement in effect not yet paid",
        Guard.NO_PLAN_IN_EFFECT: "no instalment plan or settlement in effect (ACTIVE and not "
        "yet missed beyond its grace days)",
        Guard.SETTLEMENT_UNPAID: "the case was closed as SETTLED and a payment the settlement "
        "counted was reversed",
    }
)

_OPEN = frozenset({CaseStatus.OPEN})
_ACTIVE = frozenset({CaseStatus.OPEN, CaseStatus.ON_HOLD})
_ANY_STAGE = frozenset(CaseStage)
_NOT_WRITTEN_OFF = _ANY_STAGE - {CaseStage.WRITTEN_OFF}


@dataclass(frozen=True)
class Transition:
    """One row of the table: from which statuses and stages a trigger moves a case, where to,
    under which guards, and who may cause it."""

    trigger: Trigger
    from_status: frozenset[CaseStatus]
    from_stage: frozenset[CaseStage]
    to_status: CaseStatus | None  # None: the status stays
    to_stage: CaseStage | None  # None: the stage stays
    close_reason: CloseReason | None
    guards: tuple[Guard, ...]
    caused_by: str


TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        Trigger.ESCALATE,
        _OPEN,
        frozenset({CaseStage.EARLY}),
        None,
        CaseStage.COLLECTION,
        None,
        (Guard.IN_ARREARS, Guard.NO_PLAN_IN_EFFECT),
        "the daily cycle or a strategy step",
    ),
    Transition(
        Trigger.REFER_TO_LEGAL,
        _OPEN,
        frozenset({CaseStage.EARLY, CaseStage.COLLECTION}),
        None,
        CaseStage.LEGAL,
        None,
        (Guard.IN_ARREARS,),
        "referToLegal, approved (debt handling)",
    ),
    # A closed case is written off too (the core's charge-off of its debt), keeping its status
    # and close reason: REOPEN then brings it back in WRITTEN_OFF, and NEW_DEFAULT leaves it. A
    # manager writes off only an open or on-hold case (``domain.writeoff.services``).
    Transition(
        Trigger.WRITE_OFF,
        frozenset(CaseStatus),
        _NOT_WRITTEN_OFF,
        None,
        CaseStage.WRITTEN_OFF,
        None,
        (),
        "a charge-off from the core's feed (a closed case too, which stays closed), or a "
        "manager's write-off (open or on hold)",
    ),
    Transition(
        Trigger.HOLD,
        _OPEN,
        _ANY_STAGE,
        CaseStatus.ON_HOLD,
        None,
        None,
        (),
        "holdCase: a manager pauses collection, with a reason code. Complaints, disputes and "
        "flags do not hold a case: each refuses the work it forbids by its own rule",
    ),
    Transition(
        Trigger.RESUME,
        frozenset({CaseStatus.ON_HOLD}),
        _ANY_STAGE,
        CaseStatus.OPEN,
        None,
        None,
        (),
        "resumeCase: the pause is lifted",
    ),
    Transition(
        Trigger.CURE,
        _ACTIVE,
        # A written-off case leaves collection only paid in full, settled or closed by hand: a
        # recovery that clears the arrears leaves it open.
        _NOT_WRITTEN_OFF,
        CaseStatus.CLOSED,
        None,
        CloseReason.CURED,
        (Guard.ARREARS_CLEARED, Guard.NOT_ON_PLAN_PROBATION),
        "a payment (postPayment, the feed) that clears the arrears",
    ),
    Transition(
        Trigger.PAY_IN_FULL,
        _ACTIVE,
        _ANY_STAGE,
        CaseStatus.CLOSED,
        None,
        CloseReason.PAID_IN_FULL,
        (Guard.ARREARS_CLEARED, Guard.NOTHING_OWED),
        "a payment that leaves nothing owed",
    ),
    Transition(
        Trigger.SETTLE,
        _ACTIVE,
        _ANY_STAGE,
        CaseStatus.CLOSED,
        None,
        CloseReason.SETTLED,
        (),
        "a settlement paid in full (debt handling)",
    ),
    Transition(
        Trigger.CLOSE,
        _ACTIVE,
        _ANY_STAGE,
        CaseStatus.CLOSED,
        None,
        None,  # the reason is given with the trigger: DEBT_SOLD or UNCOLLECTIBLE
        (),
        "a manager's decision (debt sold, uncollectible)",
    ),
    Transition(
        Trigger.REOPEN,
        frozenset({CaseStatus.CLOSED}),
        _ANY_STAGE,
        CaseStatus.OPEN,
        None,
        None,
        (Guard.CLOSED_BY_CURE, Guard.IN_ARREARS, Guard.WITHIN_WATCH_WINDOW),
        "a new default inside the watch window, or the reversal of the closing payment "
        "(back ON_HOLD if the case was on hold when it closed)",
    ),
    # A new episode of the same case (one case per borrower and portfolio): opened anew, from
    # the first stage. The feed fires it for a debt of a case closed by a cure that defaults
    # after the watch window, and for a new loan in arrears on a case closed for any reason (a
    # case closed DEBT_SOLD or UNCOLLECTIBLE is not reopened by its own debts). Never on a
    # written-off case: a recovery does not return to an earlier stage (the feed leaves it).
    Transition(
        Trigger.NEW_DEFAULT,
        frozenset({CaseStatus.CLOSED}),
        _NOT_WRITTEN_OFF,
        CaseStatus.OPEN,
        CaseStage.EARLY,
        None,
        (Guard.IN_ARREARS,),
        "the feed: a debt in arrears again after the watch window, or a new loan in arrears "
        "on a closed case (a new episode, opened on the feed's date)",
    ),
    # The settlement that closed a case is no longer paid in full: the case reopens whether or
    # not it is in arrears (the settlement is in effect again, or lapses and breaks).
    Transition(
        Trigger.UNSETTLE,
        frozenset({CaseStatus.CLOSED}),
        _ANY_STAGE,
        CaseStatus.OPEN,
        None,
        None,
        (Guard.SETTLEMENT_UNPAID,),
        "the reversal of a payment a settlement counted (debt handling; back ON_HOLD if the "
        "case was on hold when it closed)",
    ),
)

_BY_TRIGGER: Mapping[Trigger, Transition] = MappingProxyType({t.trigger: t for t in TRANSITIONS})
assert set(_BY_TRIGGER) == set(Trigger), "every trigger has exactly one row"
# Reasons a manager may give to CLOSE (the others come from their own triggers).
MANUAL_CLOSE_REASONS = frozenset({CloseReason.DEBT_SOLD, CloseReason.UNCOLLECTIBLE})


@dataclass(frozen=True)
class LifecyclePolicy:
    """Configuration of the life cycle: how long a cured case is watched for a new default, and
    the days past due above which the daily cycle escalates an open case from EARLY to
    COLLECTION (the end of M1: early reminders give way to collection work)."""

    watch_days: int = 60
    escalate_after_days: int = 30

    def watch_until(self, cured_on: date) -> date:
        return cured_on + timedelta(days=self.watch_days)


DEFAULT_POLICY = LifecyclePolicy()


class IllegalTransition(RuleViolation):
    """The case cannot make this move from where it is, or a guard does not hold."""

    code = ErrorCode.ILLEGAL_TRANSITION


@dataclass(frozen=True)
class Move:
    """The result of a legal transition."""

    transition: Transition
    status: CaseStatus
    stage: CaseStage
    close_reason: CloseReason | None


def transition_for(trigger: Trigger) -> Transition:
    return _BY_TRIGGER[trigger]


def guards_hold(trigger: Trigger, facts: Facts) -> bool:
    """Returns whether every guard of the trigger's row holds (``decide`` checks the same)."""
    return all(facts.holds(guard) for guard in transition_for(trigger).guards)


def fires(trigger: Trigger, status: CaseStatus, stage: CaseStage, facts: Facts) -> bool:
    """Returns whether the trigger's row takes a case from ``status``/``stage`` and every guard
    holds (``decide`` would move it, not refuse)."""
    row = transition_for(trigger)
    return status in row.from_status and stage in row.from_stage and guards_hold(trigger, facts)


def decide(
    status: CaseStatus,
    stage: CaseStage,
    trigger: Trigger,
    facts: Facts,
    reason: CloseReason | None = None,
) -> Move:
    """Returns where ``trigger`` moves a case, or raises IllegalTransition naming what is
    wrong (never a silent no-op)."""
    row = _BY_TRIGGER[trigger]
    if status not in row.from_status or stage not in row.from_stage:
        raise IllegalTransition(
            f"{trigger} is not allowed from {status}/{stage} "
            f"(only from {'/'.join(sorted(row.from_status))} in "
            f"{'/'.join(sorted(row.from_stage))})"
        )
    for guard in row.guards:
        if not facts.holds(guard):
            raise IllegalTransition(f"{trigger} needs {guard}: {GUARD_TEXT[guard]}")
    close_reason = row.close_reason
    if trigger is Trigger.CLOSE:
        if reason not in MANUAL_CLOSE_REASONS:
            raise IllegalTransition(
                f"CLOSE needs a reason: {' or '.join(sorted(MANUAL_CLOSE_REASONS))}",
                field="reason",
            )
        close_reason = reason
    to_status = row.to_status or status
    if trigger in (Trigger.REOPEN, Trigger.UNSETTLE) and facts.held_when_closed:
        to_status = CaseStatus.ON_HOLD
    return Move(
        row,
        to_status,
        row.to_stage or stage,
        close_reason if to_status is CaseStatus.CLOSED else None,
    )


# ---- What may be done on a case now -------------------------------------------------------------


class Action(enum.StrEnum):
    """Work on a case that the life cycle (and later, flags and complaints) may forbid."""

    CONTACT = "CONTACT"
    PROMISE = "PROMISE"
    ASSIGN = "ASSIGN"
    ALLOCATE = "ALLOCATE"
    PLACE = "PLACE"
    RECALL = "RECALL"
    ESCALATE = "ESCALATE"


class CaseOnHold(RuleViolation):
    code = ErrorCode.CASE_ON_HOLD


class ActionNotAllowed(RuleViolation):
    code = ErrorCode.ACTION_NOT_ALLOWED


@dataclass(frozen=True)
class Standing:
    """The facts about a case that decide what may be done on it."""

    status: CaseStatus
    stage: CaseStage
    placed: bool
    assigned: bool
    # Cease conditions (open complaints and disputes, protecting flags): (rule, explanation);
    # each stops outbound contact on the case.
    blocks: tuple[tuple[str, str], ...] = ()
    # Other work the same protections forbid: (action, rule, explanation), refused with
    # ACTION_NOT_ALLOWED naming the rule (``domain.flags.effects`` derives them from its table).
    forbidden: tuple[tuple[Action, str, str], ...] = ()


# Work that stops while collection on a case is on hold (a complaint, a dispute, a flag).
HELD_ACTIONS = frozenset(
    {Action.CONTACT, Action.PROMISE, Action.ESCALATE, Action.PLACE, Action.ALLOCATE}
)


def blocked_actions(standing: Standing) -> dict[Action, tuple[ErrorCode, str]]:
    """Returns every action that may not be done now, with its (code, explanation): the first
    reason that applies, in this order: closed, on hold, placement, assignment, stage, the
    cease conditions of ``standing.blocks`` and the protections' ``standing.forbidden``. A
    closed case may still be recalled from its agency: recall is housekeeping, not collection
    work (a cured case leaves the agency at once, not at the placement's end)."""
    refused: dict[Action, tuple[ErrorCode, str]] = {}
    closed = standing.status is CaseStatus.CLOSED
    held = standing.status is CaseStatus.ON_HOLD
    for action in Action:
        if closed and action is not Action.RECALL:
            refused[action] = (ErrorCode.CASE_CLOSED, "the case is closed")
        elif held and action in HELD_ACTIONS:
            refused[action] = (ErrorCode.CASE_ON_HOLD, "collection on the case is on hold")
    for action, code, why in _standing_rules(standing):
        refused.setdefault(action, (code, why))
    if standing.blocks and Action.CONTACT not in refused:
        rule, why = standing.blocks[0]
        refused[Action.CONTACT] = (ErrorCode.ACTION_NOT_ALLOWED, f"{rule}: {why}")
    for action, rule, why in standing.forbidden:
        refused.setdefault(action, (ErrorCode.ACTION_NOT_ALLOWED, f"{rule}: {why}"))
    return refused


def _standing_rules(standing: Standing) -> Iterable[tuple[Action, ErrorCode, str]]:
    placed = ErrorCode.CASE_PLACED_WITH_AGENCY
    if standing.placed:
        yield Action.ASSIGN, placed, "the case is placed with an agency; recall it first"
        yield Action.ALLOCATE, placed, "the case is placed with an agency"
        yield Action.PLACE, placed, "the case is already placed with an agency"
    else:
        yield Action.RECALL, ErrorCode.CASE_NOT_PLACED, "the case is not placed with an agency"
    if standing.assigned:
        yield Action.ALLOCATE, ErrorCode.ACTION_NOT_ALLOWED, "the case is already assigned"
    if standing.stage is CaseStage.LEGAL:
        # Approving a referral takes the case from its collector: the legal team works it.
        yield (
            Action.ALLOCATE,
            ErrorCode.ACTION_NOT_ALLOWED,
            "a case in stage LEGAL is worked by the legal team, not allocated to collectors",
        )
        # Approving a referral recalls the case from its agency: it stays with the legal team.
        yield (
            Action.PLACE,
            ErrorCode.ACTION_NOT_ALLOWED,
            "a case in stage LEGAL is worked by the legal team, not placed with an agency",
        )
    if standing.stage not in (CaseStage.EARLY, CaseStage.COLLECTION):
        yield (
            Action.ESCALATE,
            ErrorCode.ACTION_NOT_ALLOWED,
            f"a case in stage {standing.stage} is escalated by its own process",
        )


def may(standing: Standing, action: Action) -> bool:
    return action not in blocked_actions(standing)


def where_allowed(
    action: Action, *, placed: bool, assigned: bool
) -> dict[CaseStatus, frozenset[CaseStage]]:
    """Returns, per status, the stages in which ``action`` may be done on a case so placed and
    assigned (without cease conditions): the SQL twin of ``may`` for work over many rows, such
    as allocation, which selects its cases by these statuses and stages."""
    allowed: dict[CaseStatus, frozenset[CaseStage]] = {}
    for status in CaseStatus:
        stages = frozenset(
            stage
            for stage in CaseStage
            if may(Standing(status, stage, placed=placed, assigned=assigned), action)
        )
        if stages:
            allowed[status] = stages
    return allowed


def ensure_allowed(standing: Standing, action: Action, reference: str) -> None:
    """Raises the typed refusal if ``action`` may not be done on the case now (field
    ``caseId``): CaseClosed, CasePlacedWithAgency, CaseNotPlaced, CaseOnHold or
    ActionNotAllowed."""
    refused = blocked_actions(standing).get(action)
    if refused is None:
        return
    code, why = refused
    if code is ErrorCode.CASE_CLOSED:
        raise CaseClosed(f"case {reference} is closed", field="caseId")
    if code is ErrorCode.CASE_PLACED_WITH_AGENCY:
        raise CasePlacedWithAgency(f"case {reference}: {why}", field="caseId")
    if code is ErrorCode.CASE_NOT_PLACED:
        raise CaseNotPlaced(f"case {reference} is not placed with an agency", field="caseId")
    error = CaseOnHold if code is ErrorCode.CASE_ON_HOLD else ActionNotAllowed
    raise error(f"{action} is not allowed on case {reference}: {why}", field="caseId")


def render_markdown() -> str:
    """Returns the transition table and the actions it forbids as Markdown (the API guide
    embeds it between markers; a test compares)."""
    lines = [
        "| trigger | from status | from stage | to status | to stage | close reason | guards "
        "| caused by |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in TRANSITIONS:
        stages = "any" if row.from_stage == _ANY_STAGE else ", ".join(sorted(row.from_stage))
        lines.append(
            f"| `{row.trigger}` | {', '.join(sorted(row.from_status))} | {stages} "
            f"| {row.to_status or '(same)'} | {row.to_stage or '(same)'} "
            f"| {row.close_reason or ('given' if row.trigger is Trigger.CLOSE else '')} "
            f"| {'; '.join(GUARD_TEXT[g] for g in row.guards) or '—'} | {row.caused_by} |"
        )
    lines += ["", "| action | refused when (code) |", "|---|---|"]
    for action, reasons in _refusals_by_action().items():
        text = "; ".join(f"{why} (`{code}`)" for code, why in reasons)
        lines.append(f"| `{action}` | {text} |")
    return "\n".join(lines) + "\n"


def _refusals_by_action() -> dict[Action, list[tuple[ErrorCode, str]]]:
    """Every distinct refusal of each action over every status, stage, placement and
    assignment (cease conditions aside), in the order ``blocked_actions`` checks them."""
    found: dict[Action, list[tuple[ErrorCode, str]]] = {action: [] for action in Action}
    for status in (CaseStatus.CLOSED, CaseStatus.ON_HOLD, CaseStatus.OPEN):
        for placed in (True, False):
            for assigned in (True, False):
                for stage in CaseStage:
                    refused = blocked_actions(Standing(status, stage, placed, assigned))
                    for action, reason in refused.items():
                        if reason not in found[action]:
                            found[action].append(reason)
    return found
