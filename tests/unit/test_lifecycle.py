"""The case life cycle: every transition of the table allowed from where it may start and refused
(ILLEGAL_TRANSITION, never a silent no-op) from everywhere else and for each failing guard; the
close reasons; what a change of the balance does (cure, pay in full, reopen inside the watch
window); and what may be done on a case in each standing.

The expectations are written here from the documented life cycle (docs/API.md, "Case life
cycle"), not read from ``TRANSITIONS``."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from domain.cases.classification import DEFAULT_POLICY as CLASSIFICATION
from domain.cases.errors import CaseClosed, CaseNotPlaced, CasePlacedWithAgency
from domain.cases.events import CaseTransitioned
from domain.cases.model import Case, CaseStage, CaseStatus
from domain.debts.model import Debt, Instalment, ProductType
from domain.errors import DomainError, ErrorCode, RuleViolation
from domain.lifecycle.moves import after_balance_change, facts_of, move, standing_of
from domain.lifecycle.table import (
    DEFAULT_POLICY,
    MANUAL_CLOSE_REASONS,
    TRANSITIONS,
    Action,
    ActionNotAllowed,
    CaseOnHold,
    CloseReason,
    Facts,
    Guard,
    IllegalTransition,
    LifecyclePolicy,
    Standing,
    Trigger,
    blocked_actions,
    decide,
    ensure_allowed,
    may,
    render_markdown,
    where_allowed,
)

OPEN, HELD, CLOSED = CaseStatus.OPEN, CaseStatus.ON_HOLD, CaseStatus.CLOSED
EARLY, COLLECTION, LEGAL, WRITTEN_OFF = (
    CaseStage.EARLY,
    CaseStage.COLLECTION,
    CaseStage.LEGAL,
    CaseStage.WRITTEN_OFF,
)
ALL_STAGES = frozenset(CaseStage)
TODAY = date(2026, 11, 28)
AT = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
ACTOR = 7


# ---- The table, as documented -------------------------------------------------------------------

# trigger → (from statuses, from stages, to status (None: same), to stage (None: same),
#            close reason, guards)
EXPECTED: dict[
    Trigger,
    tuple[
        set[CaseStatus],
        set[CaseStage],
        CaseStatus | None,
        CaseStage | None,
        CloseReason | None,
        tuple[Guard, ...],
    ],
] = {
    Trigger.ESCALATE: (
        {OPEN},
        {EARLY},
        None,
        COLLECTION,
        None,
        (Guard.IN_ARREARS, Guard.NO_PLAN_IN_EFFECT),
    ),
    Trigger.REFER_TO_LEGAL: ({OPEN}, {EARLY, COLLECTION}, None, LEGAL, None, (Guard.IN_ARREARS,)),
    # A closed case too (the core's charge-off), keeping its status.
    Trigger.WRITE_OFF: (
        {OPEN, HELD, CLOSED},
        {EARLY, COLLECTION, LEGAL},
        None,
        WRITTEN_OFF,
        None,
        (),
    ),
    Trigger.HOLD: ({OPEN}, set(ALL_STAGES), HELD, None, None, ()),
    Trigger.RESUME: ({HELD}, set(ALL_STAGES), OPEN, None, None, ()),
    # A written-off case is not cured: it stays open for recovery until paid, settled or closed.
    Trigger.CURE: (
        {OPEN, HELD},
        set(ALL_STAGES) - {WRITTEN_OFF},
        CLOSED,
        None,
        CloseReason.CURED,
        (Guard.ARREARS_CLEARED, Guard.NOT_ON_PLAN_PROBATION),
    ),
    Trigger.PAY_IN_FULL: (
        {OPEN, HELD},
        set(ALL_STAGES),
        CLOSED,
        None,
        CloseReason.PAID_IN_FULL,
        (Guard.ARREARS_CLEARED, Guard.NOTHING_OWED),
    ),
    Trigger.SETTLE: ({OPEN, HELD}, set(ALL_STAGES), CLOSED, None, CloseReason.SETTLED, ()),
    Trigger.CLOSE: ({OPEN, HELD}, set(ALL_STAGES), CLOSED, None, CloseReason.DEBT_SOLD, ()),
    Trigger.REOPEN: (
        {CLOSED},
        set(ALL_STAGES),
        OPEN,
        None,
        None,
        (Guard.CLOSED_BY_CURE, Guard.IN_ARREARS, Guard.WITHIN_WATCH_WINDOW),
    ),
    # Never on a written-off case: a recovery does not return to an earlier stage.
    Trigger.NEW_DEFAULT: (
        {CLOSED},
        set(ALL_STAGES) - {WRITTEN_OFF},
        OPEN,
        EARLY,
        None,
        (Guard.IN_ARREARS,),
    ),
    Trigger.UNSETTLE: ({CLOSED}, set(ALL_STAGES), OPEN, None, None, (Guard.SETTLEMENT_UNPAID,)),
}

# Facts under which every guard holds, and for each guard the change that makes it fail alone.
HOLDING = {
    Guard.ARREARS_CLEARED: {"days_past_due": 0},
    Guard.NOTHING_OWED: {"outstanding": Decimal("0.00")},
    Guard.IN_ARREARS: {"days_past_due": 12},
    Guard.WITHIN_WATCH_WINDOW: {"watch_until": TODAY},
    Guard.CLOSED_BY_CURE: {"close_reason": CloseReason.CURED},
    Guard.NOT_ON_PLAN_PROBATION: {"on_plan_probation": False},
    Guard.NO_PLAN_IN_EFFECT: {"plan_in_effect": False},
    Guard.SETTLEMENT_UNPAID: {
        "close_reason": CloseReason.SETTLED,
        "closing_payment_reversed": True,
    },
}
FAILING = {
    Guard.ARREARS_CLEARED: {"days_past_due": 1},
    Guard.NOTHING_OWED: {"outstanding": Decimal("0.01")},
    Guard.IN_ARREARS: {"days_past_due": 0},
    Guard.WITHIN_WATCH_WINDOW: {"watch_until": TODAY - timedelta(days=1)},
    Guard.CLOSED_BY_CURE: {"close_reason": CloseReason.DEBT_SOLD},
    Guard.NOT_ON_PLAN_PROBATION: {"on_plan_probation": True},
    Guard.NO_PLAN_IN_EFFECT: {"plan_in_effect": True},
    Guard.SETTLEMENT_UNPAID: {"closing_payment_reversed": False},
}


def facts_for(guards: tuple[Guard, ...], failing: Guard | None = None) -> Facts:
    values: dict[str, object] = {"days_past_due": 30, "outstanding": Decimal("500.00")}
    for guard in guards:
        values.update(HOLDING[guard])
    if failing is not None:
        values.update(FAILING[failing])
    return Facts(today=TODAY, **values)  # type: ignore[arg-type]


def reason_for(trigger: Trigger) -> CloseReason | None:
    return CloseReason.DEBT_SOLD if trigger is Trigger.CLOSE else None


def test_the_table_has_one_row_per_trigger_as_documented() -> None:
    assert [row.trigger for row in TRANSITIONS] == list(EXPECTED)
    assert set(EXPECTED) == set(Trigger)
    for row in TRANSITIONS:
        statuses, stages, _to_status, _to_stage, _reason, guards = EXPECTED[row.trigger]
        assert (set(row.from_status), set(row.from_stage), row.guards) == (
            statuses,
            stages,
            guards,
        )


STARTS = list(itertools.product(Trigger, CaseStatus, CaseStage))


@pytest.mark.parametrize(
    ("trigger", "status", "stage"), STARTS, ids=[f"{t}-{s}-{g}" for t, s, g in STARTS]
)
def test_each_trigger_from_each_status_and_stage(
    trigger: Trigger, status: CaseStatus, stage: CaseStage
) -> None:
    statuses, stages, to_status, to_stage, close_reason, guards = EXPECTED[trigger]
    facts = facts_for(guards)
    if status in statuses and stage in stages:
        result = decide(status, stage, trigger, facts, reason_for(trigger))
        assert (result.status, result.stage, result.close_reason) == (
            to_status or status,
            to_stage or stage,
            close_reason,
        )
        assert result.transition.trigger is trigger
    else:
        with pytest.raises(IllegalTransition) as refused:
            decide(status, stage, trigger, facts, reason_for(trigger))
        assert refused.value.code == ErrorCode.ILLEGAL_TRANSITION == "ILLEGAL_TRANSITION"
        assert isinstance(refused.value, RuleViolation)
        assert f"{trigger} is not allowed from {status}/{stage}" in refused.value.message


GUARDED = [(t, g) for t, row in EXPECTED.items() for g in row[5]]


@pytest.mark.parametrize(("trigger", "guard"), GUARDED, ids=[f"{t}-{g}" for t, g in GUARDED])
def test_each_failing_guard_refuses_naming_it(trigger: Trigger, guard: Guard) -> None:
    statuses, stages, *_ = EXPECTED[trigger]
    status, stage = sorted(statuses)[0], sorted(stages)[0]
    decide(status, stage, trigger, facts_for(EXPECTED[trigger][5]), reason_for(trigger))
    with pytest.raises(IllegalTransition) as refused:
        decide(status, stage, trigger, facts_for(EXPECTED[trigger][5], guard), reason_for(trigger))
    assert refused.value.code == "ILLEGAL_TRANSITION"
    assert refused.value.message.startswith(f"{trigger} needs {guard}:")


@pytest.mark.parametrize(
    ("watch_until", "today", "reversed_", "holds"),
    [
        (TODAY, TODAY, False, True),  # the last day of the window
        (TODAY - timedelta(days=1), TODAY, False, False),  # the day after
        (None, TODAY, False, False),  # never cured
        (TODAY - timedelta(days=400), TODAY, True, True),  # the closing payment bounced
    ],
)
def test_the_watch_window_is_inclusive(
    watch_until: date | None, today: date, reversed_: bool, holds: bool
) -> None:
    facts = Facts(5, Decimal("1.00"), today, CloseReason.CURED, watch_until, reversed_)
    assert facts.holds(Guard.WITHIN_WATCH_WINDOW) is holds


@pytest.mark.parametrize("reason", sorted(MANUAL_CLOSE_REASONS))
def test_close_with_a_manual_reason(reason: CloseReason) -> None:
    result = decide(OPEN, LEGAL, Trigger.CLOSE, facts_for(()), reason)
    assert (result.status, result.stage, result.close_reason) == (CLOSED, LEGAL, reason)


@pytest.mark.parametrize(
    "reason", [None, CloseReason.CURED, CloseReason.PAID_IN_FULL, CloseReason.SETTLED]
)
def test_close_without_a_valid_reason_is_refused(reason: CloseReason | None) -> None:
    with pytest.raises(IllegalTransition) as refused:
        decide(OPEN, EARLY, Trigger.CLOSE, facts_for(()), reason)
    assert (refused.value.code, refused.value.field) == ("ILLEGAL_TRANSITION", "reason")
    assert "DEBT_SOLD or UNCOLLECTIBLE" in refused.value.message


def test_a_reason_given_to_another_trigger_is_ignored() -> None:
    result = decide(
        OPEN, EARLY, Trigger.CURE, facts_for((Guard.ARREARS_CLEARED,)), CloseReason.DEBT_SOLD
    )
    assert result.close_reason is CloseReason.CURED


def test_moves_that_leave_the_status_open_carry_no_close_reason() -> None:
    result = decide(OPEN, EARLY, Trigger.ESCALATE, facts_for((Guard.IN_ARREARS,)))
    assert (result.status, result.stage, result.close_reason) == (OPEN, COLLECTION, None)


# ---- Moving a case ------------------------------------------------------------------------------


def make_case(**overrides: object) -> Case:
    case = Case("AR-9", 19, "retail", "CNY", date(2026, 1, 5), id=9)
    case.days_past_due, case.outstanding_amount = 30, Decimal("900.00")
    for name, value in overrides.items():
        setattr(case, name, value)
    return case


def test_move_changes_the_case_and_records_the_transition() -> None:
    case = make_case(stage=EARLY)
    move(case, Trigger.ESCALATE, facts_of(case, TODAY), AT, ACTOR)
    assert (case.status, case.stage) == (OPEN, COLLECTION)
    assert case.events == [
        CaseTransitioned(9, AT, ACTOR, "ESCALATE", "OPEN", "OPEN", "EARLY", "COLLECTION", None)
    ]
    assert case.events[0].data() == {
        "trigger": "ESCALATE",
        "from_status": "OPEN",
        "to_status": "OPEN",
        "from_stage": "EARLY",
        "to_stage": "COLLECTION",
        "close_reason": None,
    }


def test_a_refused_move_changes_nothing_and_records_nothing() -> None:
    case = make_case(stage=LEGAL)
    before = (case.status, case.stage, case.close_reason, case.closed_at, case.watch_until)
    with pytest.raises(IllegalTransition):
        move(case, Trigger.ESCALATE, facts_of(case, TODAY), AT, ACTOR)
    assert (case.status, case.stage, case.close_reason, case.closed_at, case.watch_until) == before
    assert case.events == []


def test_closing_by_a_cure_starts_the_watch_window() -> None:
    case = make_case(days_past_due=0, status=HELD)
    move(case, Trigger.CURE, facts_of(case, TODAY), AT, None, policy=LifecyclePolicy(10))
    assert (case.status, case.close_reason, case.closed_at) == (CLOSED, "CURED", AT)
    assert case.watch_until == date(2026, 12, 8)
    assert case.events[0].close_reason == "CURED"


@pytest.mark.parametrize("reason", sorted(MANUAL_CLOSE_REASONS))
def test_a_manual_close_has_no_watch_window(reason: CloseReason) -> None:
    case = make_case()
    move(case, Trigger.CLOSE, facts_of(case, TODAY), AT, ACTOR, reason)
    assert (case.status, case.close_reason, case.watch_until) == (CLOSED, reason, None)


def test_reopening_clears_the_close() -> None:
    case = make_case(
        status=CLOSED, stage=COLLECTION, close_reason="CURED", closed_at=AT, watch_until=TODAY
    )
    move(case, Trigger.REOPEN, facts_of(case, TODAY), AT, None)
    assert (case.status, case.stage) == (OPEN, COLLECTION)
    assert (case.close_reason, case.closed_at, case.watch_until) == (None, None, None)


def test_the_default_watch_window_is_sixty_days() -> None:
    assert DEFAULT_POLICY.watch_days == 60
    assert DEFAULT_POLICY.watch_until(date(2026, 11, 28)) == date(2027, 1, 27)


# ---- After a change of the balance ------------------------------------------------------------


def test_clearing_the_arrears_cures_the_case() -> None:
    case = make_case(days_past_due=0, outstanding_amount=Decimal("800.00"))
    assert after_balance_change(case, 30, TODAY, AT, ACTOR) is Trigger.CURE
    assert (case.status, case.close_reason) == (CLOSED, "CURED")
    assert case.watch_until == TODAY + timedelta(days=60)
    assert [e.trigger for e in case.events] == ["CURE"]  # type: ignore[attr-defined]


def test_paying_everything_closes_it_paid_in_full() -> None:
    case = make_case(days_past_due=0, outstanding_amount=Decimal("0.00"), status=HELD)
    assert after_balance_change(case, 1, TODAY, AT, ACTOR) is Trigger.PAY_IN_FULL
    assert (case.status, case.close_reason) == (CLOSED, "PAID_IN_FULL")
    assert case.watch_until == TODAY + timedelta(days=60)


@pytest.mark.parametrize(("before", "after"), [(30, 10), (0, 0), (0, 5), (10, 30)])
def test_a_change_that_does_not_clear_the_arrears_moves_nothing(before: int, after: int) -> None:
    case = make_case(days_past_due=after)
    assert after_balance_change(case, before, TODAY, AT, ACTOR) is None
    assert case.status is OPEN and case.events == []


def cured_case(watch_until: date, reason: str = "CURED") -> Case:
    return make_case(
        status=CLOSED,
        stage=COLLECTION,
        close_reason=reason,
        closed_at=AT - timedelta(days=60),
        watch_until=watch_until,
        days_past_due=3,
    )


def test_a_default_on_the_last_day_of_the_watch_window_reopens_the_same_case() -> None:
    case = cured_case(watch_until=TODAY)
    assert after_balance_change(case, 0, TODAY, AT, ACTOR) is Trigger.REOPEN
    assert (case.id, case.status, case.stage, case.close_reason) == (9, OPEN, COLLECTION, None)
    assert case.events == [
        CaseTransitioned(9, AT, ACTOR, "REOPEN", "CLOSED", "OPEN", "COLLECTION", "COLLECTION", None)
    ]


def test_a_default_the_day_after_the_watch_window_does_not_reopen() -> None:
    case = cured_case(watch_until=TODAY - timedelta(days=1))
    assert after_balance_change(case, 0, TODAY, AT, ACTOR) is None
    assert (case.status, case.close_reason) == (CLOSED, "CURED") and case.events == []


def test_the_reversal_of_the_closing_payment_reopens_after_the_window() -> None:
    case = cured_case(watch_until=TODAY - timedelta(days=30), reason="PAID_IN_FULL")
    assert after_balance_change(case, 0, TODAY, AT, None) is None
    trigger = after_balance_change(case, 0, TODAY, AT, None, closing_payment_reversed=True)
    assert trigger is Trigger.REOPEN and case.status is OPEN


def test_a_reversal_that_leaves_the_arrears_cleared_does_not_reopen() -> None:
    case = cured_case(watch_until=TODAY)
    case.days_past_due = 0
    assert after_balance_change(case, 0, TODAY, AT, None, closing_payment_reversed=True) is None
    assert case.status is CLOSED


@pytest.mark.parametrize("reason", ["DEBT_SOLD", "UNCOLLECTIBLE"])
def test_a_case_closed_otherwise_is_never_reopened_by_a_default(reason: str) -> None:
    case = cured_case(watch_until=TODAY, reason=reason)
    assert after_balance_change(case, 0, TODAY, AT, None, closing_payment_reversed=True) is None
    assert case.status is CLOSED and case.events == []


def test_a_settled_case_reopens_only_when_a_payment_its_settlement_counted_is_reversed() -> None:
    case = cured_case(watch_until=TODAY, reason="SETTLED")
    assert after_balance_change(case, 0, TODAY, AT, None) is None  # a default: no
    assert case.status is CLOSED and case.events == []
    # In arrears or not (the settlement is in effect again, or lapses and breaks).
    case.days_past_due = 0
    reopened = after_balance_change(case, 0, TODAY, AT, None, closing_payment_reversed=True)
    assert reopened is Trigger.UNSETTLE and case.status is OPEN and case.close_reason is None


def schedule_debt(due: list[date], paid: list[str]) -> Debt:
    return Debt(
        account_number="ACC-1",
        product_type=ProductType.CONSUMER_LOAN,
        currency="CNY",
        principal=Decimal("2000.00"),
        interest=Decimal("0.00"),
        penalty=Decimal("0.00"),
        fee=Decimal("0.00"),
        opened_on=date(2026, 1, 1),
        instalments=[
            Instalment(n + 1, d, Decimal("1000.00"), Decimal(p))
            for n, (d, p) in enumerate(zip(due, paid, strict=True))
        ],
    )


def test_a_payment_then_a_new_default_through_reclassify() -> None:
    """The order the payment services follow: reclassify, then ``after_balance_change``."""
    due = [date(2026, 10, 29), date(2026, 12, 29)]
    case = make_case(debts=[schedule_debt(due, ["0.00", "0.00"])])
    case.reclassify(CLASSIFICATION, TODAY, AT)
    assert case.days_past_due == 30
    case.events.clear()
    # The first instalment is paid: the arrears are cleared, 1,000.00 is still owed.
    case.debts[0].instalments[0].amount_paid = Decimal("1000.00")
    case.debts[0].principal = Decimal("1000.00")
    previous = case.days_past_due
    case.reclassify(CLASSIFICATION, TODAY, AT)
    assert after_balance_change(case, previous, TODAY, AT, ACTOR) is Trigger.CURE
    assert (case.status, case.watch_until) == (CLOSED, date(2027, 1, 27))
    # The second instalment falls due and is not paid: a default inside the window.
    later = date(2027, 1, 5)
    previous = case.days_past_due
    case.reclassify(CLASSIFICATION, later, AT + timedelta(days=38))
    assert case.days_past_due == 7
    assert after_balance_change(case, previous, later, AT, ACTOR) is Trigger.REOPEN
    assert case.status is OPEN
    names = [e.name for e in case.events]
    assert names == ["CaseReclassified", "CaseTransitioned", "CaseReclassified", "CaseTransitioned"]


# ---- What may be done now ---------------------------------------------------------------------

STANDINGS = [
    Standing(status, stage, placed, assigned)
    for status in CaseStatus
    for stage in CaseStage
    for placed in (False, True)
    for assigned in (False, True)
]


def expected_refusal(standing: Standing, action: Action) -> str | None:
    """The documented rules, in their order: closed (recall aside), on hold, placement,
    assignment, stage."""
    if standing.status is CLOSED and action is not Action.RECALL:
        return "CASE_CLOSED"
    held = {Action.CONTACT, Action.PROMISE, Action.ESCALATE, Action.PLACE, Action.ALLOCATE}
    if standing.status is HELD and action in held:
        return "CASE_ON_HOLD"
    if standing.placed and action in (Action.ASSIGN, Action.ALLOCATE, Action.PLACE):
        return "CASE_PLACED_WITH_AGENCY"
    if not standing.placed and action is Action.RECALL:
        return "CASE_NOT_PLACED"
    if standing.assigned and action is Action.ALLOCATE:
        return "ACTION_NOT_ALLOWED"
    if action in (Action.ALLOCATE, Action.PLACE) and standing.stage is LEGAL:  # the legal team's
        return "ACTION_NOT_ALLOWED"
    if action is Action.ESCALATE and standing.stage in (LEGAL, WRITTEN_OFF):
        return "ACTION_NOT_ALLOWED"
    return None


ERRORS: dict[str, type[DomainError]] = {
    "CASE_CLOSED": CaseClosed,
    "CASE_ON_HOLD": CaseOnHold,
    "CASE_PLACED_WITH_AGENCY": CasePlacedWithAgency,
    "CASE_NOT_PLACED": CaseNotPlaced,
    "ACTION_NOT_ALLOWED": ActionNotAllowed,
}


def standing_id(standing: Standing) -> str:
    placed = "placed" if standing.placed else "unplaced"
    assigned = "assigned" if standing.assigned else "unassigned"
    return f"{standing.status}-{standing.stage}-{placed}-{assigned}"


@pytest.mark.parametrize("standing", STANDINGS, ids=standing_id)
def test_every_action_in_every_standing(standing: Standing) -> None:
    blocked = blocked_actions(standing)
    for action in Action:
        code = expected_refusal(standing, action)
        assert may(standing, action) is (code is None), action
        if code is None:
            assert action not in blocked
            ensure_allowed(standing, action, "AR-1")  # does not raise
            continue
        assert blocked[action][0] == code, action
        with pytest.raises(DomainError) as refused:
            ensure_allowed(standing, action, "AR-1")
        assert type(refused.value) is ERRORS[code], action
        assert (refused.value.code, refused.value.field) == (code, "caseId")
        assert "AR-1" in refused.value.message


def test_a_cease_condition_blocks_contact_only_and_names_its_rule() -> None:
    standing = Standing(OPEN, COLLECTION, False, False, blocks=(("OPEN_DISPUTE", "disputed"),))
    assert set(blocked_actions(standing)) == {Action.CONTACT, Action.RECALL}
    with pytest.raises(ActionNotAllowed, match="OPEN_DISPUTE: disputed"):
        ensure_allowed(standing, Action.CONTACT, "AR-1")
    closed = replace(standing, status=CLOSED)
    assert blocked_actions(closed)[Action.CONTACT][0] == "CASE_CLOSED"


def test_a_closed_case_may_be_recalled_from_its_agency_and_nothing_else() -> None:
    for stage in CaseStage:
        placed = Standing(CLOSED, stage, placed=True, assigned=False)
        assert may(placed, Action.RECALL)
        ensure_allowed(placed, Action.RECALL, "AR-1")  # does not raise
        assert set(blocked_actions(placed)) == set(Action) - {Action.RECALL}
        assert {code for code, _ in blocked_actions(placed).values()} == {"CASE_CLOSED"}
        unplaced = replace(placed, placed=False)
        with pytest.raises(CaseNotPlaced):
            ensure_allowed(unplaced, Action.RECALL, "AR-1")


def test_standing_of_a_case() -> None:
    case = make_case(status=HELD, stage=LEGAL, agency_id=3, assignee_id=None)
    assert standing_of(case) == Standing(HELD, LEGAL, placed=True, assigned=False)
    case = make_case(assignee_id=4)
    assert standing_of(case) == Standing(OPEN, CaseStage.EARLY, placed=False, assigned=True)


def test_where_allocation_may_happen_is_the_open_unplaced_unassigned_case_but_legal() -> None:
    assert where_allowed(Action.ALLOCATE, placed=False, assigned=False) == {
        OPEN: ALL_STAGES - {LEGAL}
    }
    assert where_allowed(Action.ALLOCATE, placed=True, assigned=False) == {}
    assert where_allowed(Action.ALLOCATE, placed=False, assigned=True) == {}
    assert where_allowed(Action.ESCALATE, placed=False, assigned=True) == {
        OPEN: frozenset({EARLY, COLLECTION})
    }
    assert where_allowed(Action.ASSIGN, placed=False, assigned=True) == {
        OPEN: ALL_STAGES,
        HELD: ALL_STAGES,
    }


# ---- The API guide embeds the table ------------------------------------------------------------

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "API.md"
EMBEDDED = re.compile(r"<!-- lifecycle:start -->\n(.*?)<!-- lifecycle:end -->", re.DOTALL)


def test_the_api_guide_shows_the_table_as_the_code_renders_it() -> None:
    found = EMBEDDED.findall(GUIDE.read_text(encoding="utf-8"))
    assert len(found) == 1, "docs/API.md needs one <!-- lifecycle:start/end --> section"
    assert found[0] == render_markdown(), (
        "docs/API.md's life-cycle table differs from domain.lifecycle.table.render_markdown(): "
        "paste its output between the markers"
    )


def test_the_rendered_table_names_every_trigger_and_action() -> None:
    text = render_markdown()
    for name in [*Trigger, *Action]:
        assert f"| `{name}` |" in text
