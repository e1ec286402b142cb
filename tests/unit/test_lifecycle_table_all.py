"""The whole life-cycle table, row by row, through ``move`` (the only code that changes a case's
status or stage): every start each row allows, with the case's closure bookkeeping and the
recorded transition exact; every start it refuses, and every failing guard at every start it
allows, refused with ILLEGAL_TRANSITION naming the reason and leaving the case untouched; the
return to a hold; the table as the API guide prints it; and a placement's end date on a
portfolio calendar other than Shanghai's.

The rows are written out here from the documented life cycle (docs/API.md, "Case life cycle"),
not read from ``TRANSITIONS``."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from domain.agencies.model import Agency
from domain.cases.errors import PlacementEndInvalid
from domain.cases.events import CasePlaced, CaseTransitioned
from domain.cases.model import Case, CaseStage, CaseStatus
from domain.lifecycle.moves import after_balance_change, move
from domain.lifecycle.table import (
    GUARD_TEXT,
    TRANSITIONS,
    CloseReason,
    Facts,
    Guard,
    IllegalTransition,
    LifecyclePolicy,
    Trigger,
    decide,
)

OPEN, HELD, CLOSED = CaseStatus.OPEN, CaseStatus.ON_HOLD, CaseStatus.CLOSED
EARLY, COLLECTION, LEGAL, WRITTEN_OFF = (
    CaseStage.EARLY,
    CaseStage.COLLECTION,
    CaseStage.LEGAL,
    CaseStage.WRITTEN_OFF,
)
T = Trigger
TODAY = date(2026, 11, 28)
AT = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
CLOSED_AT = datetime(2026, 10, 1, 4, 0, tzinfo=UTC)
ACTOR = 7
POLICY = LifecyclePolicy(watch_days=15)  # a configured window, not the default 60 days
WATCH_END = date(2026, 12, 13)  # TODAY + 15 days

# ---- The table, as documented: every row and every start it allows ----------------------------
#
# trigger → [(from status, from stage)], to status (None: same), to stage (None: same),
#           close reason, guards
ROWS: dict[
    Trigger,
    tuple[
        list[tuple[CaseStatus, CaseStage]],
        CaseStatus | None,
        CaseStage | None,
        CloseReason | None,
        tuple[Guard, ...],
    ],
] = {
    T.ESCALATE: (
        [(OPEN, EARLY)],
        None,
        COLLECTION,
        None,
        (Guard.IN_ARREARS, Guard.NO_PLAN_IN_EFFECT),
    ),
    T.REFER_TO_LEGAL: ([(OPEN, EARLY), (OPEN, COLLECTION)], None, LEGAL, None, (Guard.IN_ARREARS,)),
    T.WRITE_OFF: (
        [
            (OPEN, EARLY),
            (OPEN, COLLECTION),
            (OPEN, LEGAL),
            (HELD, EARLY),
            (HELD, COLLECTION),
            (HELD, LEGAL),
            (CLOSED, EARLY),
            (CLOSED, COLLECTION),
            (CLOSED, LEGAL),
        ],
        None,
        WRITTEN_OFF,
        None,
        (),
    ),
    T.HOLD: ([(OPEN, g) for g in (EARLY, COLLECTION, LEGAL, WRITTEN_OFF)], HELD, None, None, ()),
    T.RESUME: ([(HELD, g) for g in (EARLY, COLLECTION, LEGAL, WRITTEN_OFF)], OPEN, None, None, ()),
    T.CURE: (
        [
            (OPEN, EARLY),
            (OPEN, COLLECTION),
            (OPEN, LEGAL),
            (HELD, EARLY),
            (HELD, COLLECTION),
            (HELD, LEGAL),
        ],
        CLOSED,
        None,
        CloseReason.CURED,
        (Guard.ARREARS_CLEARED, Guard.NOT_ON_PLAN_PROBATION),
    ),
    T.PAY_IN_FULL: (
        [(s, g) for s in (OPEN, HELD) for g in (EARLY, COLLECTION, LEGAL, WRITTEN_OFF)],
        CLOSED,
        None,
        CloseReason.PAID_IN_FULL,
        (Guard.ARREARS_CLEARED, Guard.NOTHING_OWED),
    ),
    T.SETTLE: (
        [(s, g) for s in (OPEN, HELD) for g in (EARLY, COLLECTION, LEGAL, WRITTEN_OFF)],
        CLOSED,
        None,
        CloseReason.SETTLED,
        (),
    ),
    # The reason is given with the trigger (DEBT_SOLD here; UNCOLLECTIBLE below).
    T.CLOSE: (
        [(s, g) for s in (OPEN, HELD) for g in (EARLY, COLLECTION, LEGAL, WRITTEN_OFF)],
        CLOSED,
        None,
        CloseReason.DEBT_SOLD,
        (),
    ),
    T.REOPEN: (
        [(CLOSED, EARLY), (CLOSED, COLLECTION), (CLOSED, LEGAL), (CLOSED, WRITTEN_OFF)],
        OPEN,
        None,
        None,
        (Guard.CLOSED_BY_CURE, Guard.IN_ARREARS, Guard.WITHIN_WATCH_WINDOW),
    ),
    T.NEW_DEFAULT: (
        [(CLOSED, EARLY), (CLOSED, COLLECTION), (CLOSED, LEGAL)],
        OPEN,
        EARLY,
        None,
        (Guard.IN_ARREARS,),
    ),
    T.UNSETTLE: (
        [(CLOSED, EARLY), (CLOSED, COLLECTION), (CLOSED, LEGAL), (CLOSED, WRITTEN_OFF)],
        OPEN,
        None,
        None,
        (Guard.SETTLEMENT_UNPAID,),
    ),
}

STATES = [(status, stage) for status in CaseStatus for stage in CaseStage]
ALLOWED = [(t, s, g) for t, row in ROWS.items() for s, g in row[0]]
REFUSED = [(t, s, g) for t in ROWS for s, g in STATES if (s, g) not in ROWS[t][0]]
GUARD_REFUSALS = [(t, s, g, guard) for t, s, g in ALLOWED for guard in ROWS[t][4]]

# Facts under which a guard holds, and the one change that makes it fail alone.
HOLDING: dict[Guard, dict[str, object]] = {
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
FAILING: dict[Guard, dict[str, object]] = {
    Guard.ARREARS_CLEARED: {"days_past_due": 1},
    Guard.NOTHING_OWED: {"outstanding": Decimal("0.01")},
    Guard.IN_ARREARS: {"days_past_due": 0},
    Guard.WITHIN_WATCH_WINDOW: {"watch_until": TODAY - timedelta(days=1)},
    Guard.CLOSED_BY_CURE: {"close_reason": CloseReason.UNCOLLECTIBLE},
    Guard.NOT_ON_PLAN_PROBATION: {"on_plan_probation": True},
    Guard.NO_PLAN_IN_EFFECT: {"plan_in_effect": True},
    Guard.SETTLEMENT_UNPAID: {"closing_payment_reversed": False},
}


def facts(trigger: Trigger, failing: Guard | None = None, /, **more: object) -> Facts:
    values: dict[str, object] = {"days_past_due": 30, "outstanding": Decimal("500.00")}
    for guard in ROWS[trigger][4]:
        values.update(HOLDING[guard])
    if failing is not None:
        values.update(FAILING[failing])
    values.update(more)
    return Facts(today=TODAY, **values)  # type: ignore[arg-type]


def reason(trigger: Trigger) -> CloseReason | None:
    return CloseReason.DEBT_SOLD if trigger is T.CLOSE else None


def a_case(status: CaseStatus, stage: CaseStage, **overrides: object) -> Case:
    """A case in ``status``/``stage``; a closed one closed as CURED, still watched."""
    case = Case("AR-9", 19, "retail", "CNY", date(2026, 1, 5), status=status, stage=stage, id=9)
    case.days_past_due, case.outstanding_amount = 30, Decimal("900.00")
    if status is CLOSED:
        case.close_reason, case.closed_at, case.watch_until = "CURED", CLOSED_AT, TODAY
    for name, value in overrides.items():
        setattr(case, name, value)
    return case


def closure(case: Case) -> tuple[object, ...]:
    return (case.close_reason, case.closed_at, case.watch_until, case.closed_while_held)


def ids(cases: list[tuple[object, ...]]) -> list[str]:
    return ["-".join(str(part) for part in each) for each in cases]


def test_the_enumeration_is_the_whole_table() -> None:
    """Every trigger has its row; 12 triggers x 12 (status, stage) starts, each either allowed or
    refused; the rows written here are the code's rows."""
    assert set(ROWS) == set(Trigger) and len(ROWS) == len(TRANSITIONS) == 12
    assert len(STATES) == 12
    assert (len(ALLOWED), len(REFUSED), len(GUARD_REFUSALS)) == (61, 83, 51)
    for row in TRANSITIONS:
        starts, to_status, to_stage, close_reason, guards = ROWS[row.trigger]
        assert {(s, g) for s in row.from_status for g in row.from_stage} == set(starts)
        assert (row.to_status, row.to_stage, row.guards) == (to_status, to_stage, guards)
        assert row.close_reason == (None if row.trigger is T.CLOSE else close_reason)


# ---- Allowed: every start of every row, through ``move`` ---------------------------------------


@pytest.mark.parametrize(("trigger", "status", "stage"), ALLOWED, ids=ids(ALLOWED))  # type: ignore[arg-type]
def test_every_allowed_start_moves_the_case_and_records_the_transition(
    trigger: Trigger, status: CaseStatus, stage: CaseStage
) -> None:
    _starts, to_status, to_stage, close_reason, _guards = ROWS[trigger]
    case = a_case(status, stage)
    before = closure(case)
    move(case, trigger, facts(trigger), AT, ACTOR, reason(trigger), policy=POLICY)
    after_status, after_stage = to_status or status, to_stage or stage
    assert (case.status, case.stage) == (after_status, after_stage)
    if status is CLOSED and after_status is CLOSED:  # a charge-off keeps the closure as it was
        assert closure(case) == before == ("CURED", CLOSED_AT, TODAY, False)
        recorded_reason = None
    elif after_status is CLOSED:
        cured = close_reason in (CloseReason.CURED, CloseReason.PAID_IN_FULL)
        assert closure(case) == (
            close_reason,
            AT,
            WATCH_END if cured else None,  # only a cure's closure is watched
            status is HELD,  # remembered, so that a reopening returns to the hold
        )
        recorded_reason = close_reason
    else:
        assert closure(case) == (None, None, None, False)
        recorded_reason = None
    assert case.events == [
        CaseTransitioned(
            9,
            AT,
            ACTOR,
            str(trigger),
            str(status),
            str(after_status),
            str(stage),
            str(after_stage),
            recorded_reason,
        )
    ]


@pytest.mark.parametrize(
    ("status", "stage"),
    ROWS[T.CLOSE][0],
    ids=ids(ROWS[T.CLOSE][0]),  # type: ignore[arg-type]
)
def test_close_as_uncollectible_from_every_start(status: CaseStatus, stage: CaseStage) -> None:
    case = a_case(status, stage)
    move(case, T.CLOSE, facts(T.CLOSE), AT, ACTOR, CloseReason.UNCOLLECTIBLE, policy=POLICY)
    assert (case.status, case.stage) == (CLOSED, stage)
    assert closure(case) == ("UNCOLLECTIBLE", AT, None, status is HELD)


@pytest.mark.parametrize(
    ("status", "stage"),
    ROWS[T.CLOSE][0],
    ids=ids(ROWS[T.CLOSE][0]),  # type: ignore[arg-type]
)
@pytest.mark.parametrize(
    "given", [None, CloseReason.CURED, CloseReason.PAID_IN_FULL, CloseReason.SETTLED]
)
def test_close_without_a_manual_reason_is_refused_from_every_start(
    status: CaseStatus, stage: CaseStage, given: CloseReason | None
) -> None:
    case = a_case(status, stage)
    with pytest.raises(IllegalTransition) as refused:
        move(case, T.CLOSE, facts(T.CLOSE), AT, ACTOR, given, policy=POLICY)
    assert (refused.value.code, refused.value.field, refused.value.message) == (
        "ILLEGAL_TRANSITION",
        "reason",
        "CLOSE needs a reason: DEBT_SOLD or UNCOLLECTIBLE",
    )
    assert (case.status, case.stage, case.events) == (status, stage, [])


# ---- Refused: every start a row does not take, and every failing guard ------------------------


def sorted_names(values: object) -> str:
    return "/".join(sorted(str(v) for v in values))  # type: ignore[attr-defined]


@pytest.mark.parametrize(("trigger", "status", "stage"), REFUSED, ids=ids(REFUSED))  # type: ignore[arg-type]
def test_every_refused_start_is_an_illegal_transition_that_changes_nothing(
    trigger: Trigger, status: CaseStatus, stage: CaseStage
) -> None:
    starts = ROWS[trigger][0]
    case = a_case(status, stage)
    before = dataclasses.asdict(case)
    with pytest.raises(IllegalTransition) as refused:
        move(case, trigger, facts(trigger), AT, ACTOR, reason(trigger), policy=POLICY)
    assert refused.value.code == "ILLEGAL_TRANSITION"
    assert refused.value.message == (
        f"{trigger} is not allowed from {status}/{stage} "
        f"(only from {sorted_names({s for s, _ in starts})} in "
        f"{sorted_names({g for _, g in starts})})"
    )
    assert dataclasses.asdict(case) == before  # no status, stage, closure or event


@pytest.mark.parametrize(("trigger", "status", "stage"), REFUSED, ids=ids(REFUSED))  # type: ignore[arg-type]
def test_a_refused_start_is_named_before_any_failing_guard(
    trigger: Trigger, status: CaseStatus, stage: CaseStage
) -> None:
    failing: dict[str, object] = {}
    for guard in ROWS[trigger][4]:
        failing.update(FAILING[guard])
    with pytest.raises(IllegalTransition) as refused:
        decide(status, stage, trigger, facts(trigger, **failing), reason(trigger))
    assert refused.value.message.startswith(f"{trigger} is not allowed from {status}/{stage} ")


@pytest.mark.parametrize(
    ("trigger", "status", "stage", "guard"),
    GUARD_REFUSALS,
    ids=ids(GUARD_REFUSALS),  # type: ignore[arg-type]
)
def test_every_failing_guard_at_every_allowed_start_is_refused_and_changes_nothing(
    trigger: Trigger, status: CaseStatus, stage: CaseStage, guard: Guard
) -> None:
    case = a_case(status, stage)
    before = dataclasses.asdict(case)
    with pytest.raises(IllegalTransition) as refused:
        move(case, trigger, facts(trigger, guard), AT, ACTOR, reason(trigger), policy=POLICY)
    assert (refused.value.code, refused.value.message) == (
        "ILLEGAL_TRANSITION",
        f"{trigger} needs {guard}: {GUARD_TEXT[guard]}",
    )
    assert dataclasses.asdict(case) == before


@pytest.mark.parametrize(
    ("trigger", "first"),
    [
        (T.ESCALATE, Guard.IN_ARREARS),
        (T.CURE, Guard.ARREARS_CLEARED),
        (T.PAY_IN_FULL, Guard.ARREARS_CLEARED),
        (T.REOPEN, Guard.CLOSED_BY_CURE),
    ],
)
def test_with_every_guard_failing_the_first_in_the_row_is_named(
    trigger: Trigger, first: Guard
) -> None:
    status, stage = ROWS[trigger][0][0]
    failing: dict[str, object] = {}
    for guard in ROWS[trigger][4]:
        failing.update(FAILING[guard])
    with pytest.raises(IllegalTransition) as refused:
        decide(status, stage, trigger, facts(trigger, **failing))
    assert refused.value.message == f"{trigger} needs {first}: {GUARD_TEXT[first]}"


# ---- Back to the hold ------------------------------------------------------------------------

REOPENINGS = [(t, s, g) for t, s, g in ALLOWED if t in (T.REOPEN, T.UNSETTLE, T.NEW_DEFAULT)]


@pytest.mark.parametrize(("trigger", "status", "stage"), REOPENINGS, ids=ids(REOPENINGS))  # type: ignore[arg-type]
def test_a_case_closed_while_on_hold_reopens_on_hold_but_a_new_episode_opens(
    trigger: Trigger, status: CaseStatus, stage: CaseStage
) -> None:
    """REOPEN and UNSETTLE undo the closure, back to the hold it closed from; NEW_DEFAULT starts a
    new episode, OPEN in EARLY."""
    case = a_case(status, stage, closed_while_held=True)
    move(case, trigger, facts(trigger, held_when_closed=True), AT, ACTOR, policy=POLICY)
    expected = (OPEN, EARLY) if trigger is T.NEW_DEFAULT else (HELD, stage)
    assert (case.status, case.stage) == expected
    assert closure(case) == (None, None, None, False)
    assert case.events[0].data()["to_status"] == str(expected[0])


# ---- What a change of the balance does on a written-off case -----------------------------------


def test_a_recovery_that_clears_the_arrears_leaves_a_written_off_case_open() -> None:
    case = a_case(OPEN, WRITTEN_OFF, days_past_due=0, outstanding_amount=Decimal("400.00"))
    assert after_balance_change(case, 200, TODAY, AT, ACTOR, policy=POLICY) is None
    assert (case.status, case.stage, case.close_reason, case.events) == (
        OPEN,
        WRITTEN_OFF,
        None,
        [],
    )


def test_a_recovery_of_everything_closes_a_written_off_case_paid_in_full() -> None:
    case = a_case(HELD, WRITTEN_OFF, days_past_due=0, outstanding_amount=Decimal("0.00"))
    assert after_balance_change(case, 200, TODAY, AT, ACTOR, policy=POLICY) is T.PAY_IN_FULL
    assert (case.status, case.stage) == (CLOSED, WRITTEN_OFF)
    assert closure(case) == ("PAID_IN_FULL", AT, WATCH_END, True)


def test_a_cured_case_charged_off_reopens_in_written_off_inside_the_window() -> None:
    case = a_case(CLOSED, COLLECTION, days_past_due=0)
    move(case, T.WRITE_OFF, facts(T.WRITE_OFF), AT, None, policy=POLICY)
    assert (case.status, case.stage, case.close_reason) == (CLOSED, WRITTEN_OFF, "CURED")
    case.days_past_due = 5  # a new default on the window's last day
    assert after_balance_change(case, 0, TODAY, AT, None, policy=POLICY) is T.REOPEN
    assert (case.status, case.stage, case.close_reason) == (OPEN, WRITTEN_OFF, None)


def test_the_configured_watch_window_decides_the_reopening() -> None:
    case = a_case(OPEN, COLLECTION, days_past_due=0)
    assert after_balance_change(case, 30, TODAY, AT, None, policy=POLICY) is T.CURE
    assert case.watch_until == WATCH_END
    case.days_past_due = 1
    # The day after the configured window: a new default does not reopen this case.
    assert after_balance_change(case, 0, WATCH_END + timedelta(days=1), AT, None) is None
    assert case.status is CLOSED
    # On its last day it does: the same case, where it was.
    assert after_balance_change(case, 0, WATCH_END, AT, None) is T.REOPEN
    assert (case.id, case.status, case.stage) == (9, OPEN, COLLECTION)


# ---- The table as the API guide prints it -----------------------------------------------------

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "API.md"
SECTION = re.compile(r"<!-- lifecycle:start -->\n(.*?)<!-- lifecycle:end -->", re.DOTALL)


def guide_rows() -> dict[str, list[str]]:
    (section,) = SECTION.findall(GUIDE.read_text(encoding="utf-8"))
    found: dict[str, list[str]] = {}
    for line in section.split("\n\n")[0].splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        found[cells[0].strip("`")] = cells[1:]
    return found


def test_the_guide_prints_every_row_as_documented() -> None:
    printed = guide_rows()
    assert list(printed) == [str(t) for t in ROWS]
    every = {CaseStage(g) for g in CaseStage}
    for trigger, (starts, to_status, to_stage, close_reason, guards) in ROWS.items():
        stages = {g for _, g in starts}
        expected_reason = "given" if trigger is T.CLOSE else (close_reason or "")
        assert printed[trigger][:6] == [
            ", ".join(sorted({s for s, _ in starts})),
            "any" if stages == every else ", ".join(sorted(stages)),
            to_status or "(same)",
            to_stage or "(same)",
            expected_reason,
            "; ".join(GUARD_TEXT[g] for g in guards) or "—",
        ], trigger


# ---- A placement's end date on the portfolio's calendar (America/New_York) --------------------

SWIFT = Agency("Swift", Decimal("0.15"), 30, id=3)
# 03:00 UTC on 28 November is still 27 November (22:00 EST) in New York.
NY_EVENING = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def us_case() -> Case:
    return Case("US-1", 5, "us-cards", "USD", date(2026, 1, 5), id=21, assignee_id=4)


def test_a_us_placement_ends_the_contract_period_after_the_new_york_date() -> None:
    case = us_case()
    case.place_with(SWIFT, NY_EVENING, ACTOR)
    assert (case.agency_id, case.assignee_id, case.placed_at) == (3, None, NY_EVENING)
    assert case.placement_ends_on == date(2026, 12, 27)  # 27 Nov + 30 days, not 28 Nov + 30
    assert case.events == [CasePlaced(21, NY_EVENING, ACTOR, 3, date(2026, 12, 27), 4)]


@pytest.mark.parametrize(
    ("until", "accepted"),
    [
        (date(2026, 11, 26), False),  # the day before the New York date
        (date(2026, 11, 27), True),  # the New York date (the UTC date is already the 28th)
        (date(2026, 12, 27), True),  # the last day of the contract's period
        (date(2026, 12, 28), False),  # one day beyond it
    ],
)
def test_a_us_placement_until_is_inclusive_on_the_new_york_calendar(
    until: date, accepted: bool
) -> None:
    case = us_case()
    if accepted:
        case.place_with(SWIFT, NY_EVENING, ACTOR, until)
        assert case.placement_ends_on == until
        return
    with pytest.raises(PlacementEndInvalid) as refused:
        case.place_with(SWIFT, NY_EVENING, ACTOR, until)
    assert (refused.value.code, refused.value.field, refused.value.message) == (
        "PLACEMENT_END_INVALID",
        "until",
        f"the placement must end between 2026-11-27 and 2026-12-27 (the contract's 30 days), "
        f"not on {until}",
    )
    assert (case.agency_id, case.assignee_id, case.placement_ends_on, case.events) == (
        None,
        4,
        None,
        [],
    )
