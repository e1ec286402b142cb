"""Segmentation of one case: the strategy of a portfolio, each segment condition at its
boundaries, the variant's stable hash and its share, and the steps due on a clock value."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from decimal import Decimal

import pytest

from domain.strategies.definition import STANDARD
from domain.strategies.model import (
    BalanceBand,
    Challenger,
    InEffect,
    Segment,
    SegmentCondition,
    Step,
    StepAction,
    StepClock,
    Strategy,
    Variant,
)
from domain.strategies.segmentation import (
    CaseFacts,
    meets,
    plan,
    segment_of,
    strategy_for,
    treatment_of,
    variant_bucket,
)

FACTS = CaseFacts(
    classification="MILD",
    stage="EARLY",
    status="OPEN",
    portfolio="retail",
    currency="CNY",
    outstanding=Decimal("5000.00"),
    days_past_due=5,
    products=frozenset({"CONSUMER_LOAN"}),
)


def strategy(name: str, *portfolios: str, segments: tuple[Segment, ...] = ()) -> Strategy:
    return Strategy(name, "1", "", frozenset(portfolios), segments)


def segment(name: str, when: SegmentCondition = SegmentCondition(), *steps: Step) -> Segment:
    return Segment(name, when, StepClock.DPD, steps)


def step(name: str, day: int) -> Step:
    return Step(name, day, StepAction.CALL_TASK, f"{name} reason")


# ---- the strategy of a portfolio ------------------------------------------------------------


def test_a_strategy_naming_the_portfolio_wins_over_the_default_and_ties_go_by_name() -> None:
    named = InEffect(strategy("US_ONLY", "us-cards"))
    also = InEffect(strategy("A_US", "us-cards", "retail"))
    default = InEffect(strategy("STANDARD"))
    other_default = InEffect(strategy("ZED"))
    strategies = {s.champion.name: s for s in (named, also, default, other_default)}
    assert strategy_for(strategies, "us-cards") is also
    assert strategy_for(strategies, "retail") is also
    assert strategy_for(strategies, "unknown") is default
    assert strategy_for({"US_ONLY": named}, "retail") is None
    assert strategy_for({}, "retail") is None


# ---- conditions at their boundaries ---------------------------------------------------------


def band(minimum: str | None, maximum: str | None, currency: str = "CNY") -> SegmentCondition:
    low = None if minimum is None else Decimal(minimum)
    high = None if maximum is None else Decimal(maximum)
    return SegmentCondition(balance=(BalanceBand(currency, low, high),))


@pytest.mark.parametrize(
    ("outstanding", "when", "expected"),
    [
        ("1000.00", band("1000", "2000"), True),  # the minimum is inclusive
        ("999.99", band("1000", "2000"), False),
        ("1999.99", band("1000", "2000"), True),
        ("2000.00", band("1000", "2000"), False),  # the maximum is exclusive
        ("0.00", band(None, "0.01"), True),
        ("99999999.00", band("1000", None), True),
        ("1500.00", band("1000", "2000", "USD"), False),  # another currency matches no band
    ],
)
def test_balance_bands(outstanding: str, when: SegmentCondition, expected: bool) -> None:
    assert meets(when, replace(FACTS, outstanding=Decimal(outstanding))) is expected


def test_any_of_several_bands() -> None:
    when = SegmentCondition(
        balance=(
            BalanceBand("USD", Decimal("0"), Decimal("100")),
            BalanceBand("CNY", Decimal("4000"), None),
        )
    )
    assert meets(when, FACTS)
    assert not meets(when, replace(FACTS, outstanding=Decimal("3999.99")))


@pytest.mark.parametrize(
    ("least", "open_severities", "expected"),
    [
        ("LOW", {"LOW"}, True),
        ("MEDIUM", {"LOW"}, False),
        ("MEDIUM", {"MEDIUM"}, True),
        ("MEDIUM", {"HIGH"}, True),
        ("HIGH", {"LOW", "MEDIUM"}, False),
        ("HIGH", {"HIGH"}, True),
        ("LOW", set(), False),
    ],
)
def test_warning_severity_is_at_least(
    least: str, open_severities: set[str], expected: bool
) -> None:
    when = SegmentCondition(warning_severity=least)
    facts = replace(FACTS, warning_severities=frozenset(open_severities))
    assert meets(when, facts) is expected


def test_flags_any_and_none() -> None:
    any_of = SegmentCondition(flags_any=frozenset({"HARDSHIP", "VULNERABLE"}))
    none_of = SegmentCondition(flags_none=frozenset({"DECEASED"}))
    assert not meets(any_of, FACTS)
    assert meets(any_of, replace(FACTS, flags=frozenset({"VULNERABLE"})))
    assert meets(none_of, FACTS)
    assert meets(none_of, replace(FACTS, flags=frozenset({"HARDSHIP"})))
    assert not meets(none_of, replace(FACTS, flags=frozenset({"HARDSHIP", "DECEASED"})))


def test_classifications_stages_portfolios_and_products() -> None:
    assert meets(SegmentCondition(classifications=frozenset({"MILD", "MODERATE"})), FACTS)
    assert not meets(SegmentCondition(classifications=frozenset({"MODERATE"})), FACTS)
    assert meets(SegmentCondition(stages=frozenset({"EARLY"})), FACTS)
    assert not meets(SegmentCondition(stages=frozenset({"LEGAL"})), FACTS)
    assert meets(SegmentCondition(portfolios=frozenset({"retail"})), FACTS)
    assert not meets(SegmentCondition(portfolios=frozenset({"us-cards"})), FACTS)
    assert meets(SegmentCondition(products=frozenset({"MORTGAGE", "CONSUMER_LOAN"})), FACTS)
    assert not meets(SegmentCondition(products=frozenset({"MORTGAGE"})), FACTS)
    assert meets(SegmentCondition(), FACTS)  # no condition: any case


def test_the_first_segment_that_holds_takes_the_case() -> None:
    s = strategy(
        "S",
        segments=(
            segment("HARDSHIP", SegmentCondition(flags_any=frozenset({"HARDSHIP"}))),
            segment("MILD", SegmentCondition(classifications=frozenset({"MILD"}))),
            segment("ANY"),
        ),
    )
    assert segment_of(s, FACTS).name == "MILD"  # type: ignore[union-attr]
    flagged = replace(FACTS, flags=frozenset({"HARDSHIP"}))
    assert segment_of(s, flagged).name == "HARDSHIP"  # type: ignore[union-attr]
    assert segment_of(s, replace(FACTS, classification="SEVERE")).name == "ANY"  # type: ignore[union-attr]
    assert segment_of(strategy("EMPTY"), FACTS) is None


def test_the_default_strategy_segments_cases_by_the_manual() -> None:
    def name(**changes: object) -> str | None:
        found = segment_of(STANDARD, replace(FACTS, **changes))  # type: ignore[arg-type]
        return None if found is None else found.name

    assert name() == "MILD"
    assert name(portfolio="us-cards", currency="USD") == "MILD_US"
    assert name(classification="MODERATE", days_past_due=45) == "MODERATE"
    assert name(classification="SERIOUS") == "SERIOUS"
    assert name(classification="SEVERE") == "SEVERE"
    assert name(classification="SEVERE", stage="LEGAL") == "LEGAL"
    assert name(flags=frozenset({"HARDSHIP"})) == "HARDSHIP"
    assert name(classification="CURRENT", days_past_due=0) is None
    assert name(classification="CURRENT", warning_severities=frozenset({"LOW"})) == "PRE_DUE"


# ---- the variant ----------------------------------------------------------------------------


def test_the_bucket_is_the_first_32_bits_of_the_md5_modulo_10000() -> None:
    digest = hashlib.md5(b"STANDARD:12345", usedforsecurity=False).hexdigest()
    assert variant_bucket("STANDARD", 12345) == int(digest[:8], 16) % 10000
    assert all(0 <= variant_bucket("STANDARD", n) < 10000 for n in range(1000))
    # Stable across calls, and a different strategy shuffles the cases anew.
    assert [variant_bucket("STANDARD", n) for n in range(50)] == [
        variant_bucket("STANDARD", n) for n in range(50)
    ]
    assert [variant_bucket("OTHER", n) for n in range(50)] != [
        variant_bucket("STANDARD", n) for n in range(50)
    ]


def challenged(share: str, segments: frozenset[str] = frozenset()) -> InEffect:
    champion = strategy("STANDARD", segments=(segment("MILD"),))
    definition = strategy("STANDARD", segments=(segment("MILD_B"),))
    return InEffect(
        champion, None, Challenger("STANDARD", "c1", Decimal(share), segments, definition)
    )


@pytest.mark.parametrize("share", ["0.1", "0.2", "0.5"])
def test_the_challenger_takes_close_to_its_share_of_10000_cases(share: str) -> None:
    in_effect = challenged(share)
    variants = [treatment_of(in_effect, FACTS, n)[0] for n in range(1, 10001)]
    taken = variants.count(Variant.CHALLENGER) / len(variants)
    assert abs(taken - float(share)) <= 0.015, taken
    # The same cases again, the same variants.
    assert variants[:500] == [treatment_of(in_effect, FACTS, n)[0] for n in range(1, 501)]


def test_a_challenger_case_is_segmented_by_the_challenger_s_definition() -> None:
    in_effect = challenged("1")
    variant, definition, seg = treatment_of(in_effect, FACTS, 7)
    assert (variant, definition.name, seg.name) == (  # type: ignore[union-attr]
        Variant.CHALLENGER,
        "STANDARD",
        "MILD_B",
    )
    assert treatment_of(challenged("0"), FACTS, 7)[0] is Variant.CHAMPION


def test_a_challenger_takes_only_cases_of_its_segments() -> None:
    only_moderate = challenged("1", frozenset({"MODERATE"}))
    assert treatment_of(only_moderate, FACTS, 7)[0] is Variant.CHAMPION
    only_mild = challenged("1", frozenset({"MILD"}))
    assert treatment_of(only_mild, FACTS, 7)[0] is Variant.CHALLENGER
    # A case no champion segment takes is in none of the named segments; with none named, the
    # challenger takes every case of the strategy.
    nothing_segmented = InEffect(strategy("STANDARD"), None, only_mild.challenger)
    assert treatment_of(nothing_segmented, FACTS, 7)[0] is Variant.CHAMPION
    every_case = InEffect(strategy("STANDARD"), None, challenged("1").challenger)
    assert treatment_of(every_case, FACTS, 7)[0] is Variant.CHALLENGER


def test_the_bucket_decides_exactly_at_the_threshold() -> None:
    case_id = next(n for n in range(1, 100000) if variant_bucket("STANDARD", n) == 1999)
    assert treatment_of(challenged("0.2"), FACTS, case_id)[0] is Variant.CHALLENGER
    assert treatment_of(challenged("0.1999"), FACTS, case_id)[0] is Variant.CHAMPION


# ---- steps ----------------------------------------------------------------------------------

MILD = segment("MILD", SegmentCondition(), step("SMS_1", 1), step("CALL_1", 3), step("SMS_2", 10))


def names(steps: tuple[Step, ...]) -> list[str]:
    return [s.name for s in steps]


def test_nothing_is_due_before_the_first_step() -> None:
    planned = plan(MILD, 0)
    assert (planned.take, planned.skip) == ((), ())
    assert (planned.next_step.name, planned.next_in_days) == ("SMS_1", 1)  # type: ignore[union-attr]


def test_the_step_of_the_day_is_taken_once() -> None:
    first = plan(MILD, 1)
    assert (names(first.take), names(first.skip)) == (["SMS_1"], [])
    assert (first.next_step.name, first.next_in_days) == ("CALL_1", 2)  # type: ignore[union-attr]
    # The next day the due day is still 1, and its step was taken.
    again = plan(MILD, 2, {"SMS_1"})
    assert (again.take, again.skip) == ((), ())
    assert again.next_in_days == 1


def test_earlier_steps_never_taken_are_skipped() -> None:
    late = plan(MILD, 12)
    assert (names(late.take), names(late.skip)) == (["SMS_2"], ["SMS_1", "CALL_1"])
    assert (late.next_step, late.next_in_days) == (None, None)
    taken_first = plan(MILD, 12, {"SMS_1"})
    assert names(taken_first.skip) == ["CALL_1"]


def test_steps_of_the_same_day_are_all_taken() -> None:
    moderate = segment("M", SegmentCondition(), step("LETTER", 31), step("CALL", 31))
    assert names(plan(moderate, 31).take) == ["LETTER", "CALL"]
    assert names(plan(moderate, 40, {"LETTER"}).take) == ["CALL"]


def test_a_segment_without_steps_plans_nothing() -> None:
    empty = segment("LEGAL")
    assert plan(empty, 100) == plan(empty, 0)
    assert plan(empty, 100).next_step is None


def test_an_always_step_is_taken_with_the_due_day_s_steps_never_skipped() -> None:
    validation = replace(step("VALIDATION", 1), always=True)
    us = segment("MILD_US", SegmentCondition(), validation, step("EMAIL", 5), step("CALL", 10))
    late = plan(us, 12)
    assert (names(late.take), names(late.skip)) == (["VALIDATION", "CALL"], ["EMAIL"])
    # Taken once: the next day nothing is due, and it is never recorded skipped.
    assert plan(us, 13, {"VALIDATION", "CALL", "EMAIL"}).take == ()
    assert (names(plan(us, 1).take), plan(us, 1).skip) == (["VALIDATION"], ())
    assert plan(us, 0).take == ()  # not before its day


def test_the_next_step_is_the_first_not_taken_in_the_entry() -> None:
    """Days past due fell back from 12 to 5 after a payment: SMS_2 (day 10) was taken in this
    entry, so the next step is the one after it."""
    mild = replace(MILD, steps=(*MILD.steps, step("CALL_2", 20)))
    again = plan(mild, 5, {"SMS_1", "CALL_1", "SMS_2"})
    assert (again.take, again.skip) == ((), ())
    assert (again.next_step.name, again.next_in_days) == ("CALL_2", 15)  # type: ignore[union-attr]
    assert plan(mild, 5, {"SMS_1", "CALL_1", "SMS_2", "CALL_2"}).next_step is None
    assert plan(mild, 5).next_step.name == "SMS_2"  # type: ignore[union-attr]
