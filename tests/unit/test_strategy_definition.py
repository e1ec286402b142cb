"""Strategies as data: the default strategy reproduces the manual's table (DOMAIN.md
"Classification and buckets"), payloads round-trip, every check of a payload is driven to its
boundary (refused naming the field), and the loader's rule (which champion and which challenger
treat cases, and each version's status) holds on plain values."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.cases.classification import DEFAULT_POLICY
from domain.changes import registry
from domain.changes.errors import ChangeInvalid
from domain.errors import ErrorCode
from domain.rulesets import RuleSetKind
from domain.strategies.definition import (
    DEFAULT_CHALLENGERS,
    DEFAULT_STRATEGIES,
    PLACEMENTS,
    STANDARD,
    challenger_from_payload,
    challenger_to_payload,
    promotion_payload,
    strategy_from_payload,
    strategy_to_payload,
)
from domain.strategies.model import (
    MESSAGE_CHANNELS,
    BalanceBand,
    PlacementMethod,
    StepAction,
    StepClock,
    Variant,
)
from domain.strategies.segmentation import CaseFacts, segment_of
from store.rule_sets import StoredVersion
from store.strategy_queries import Pending, Stored, catalogue, treating


def through_json(payload: dict[str, Any]) -> Any:
    """What the database gives back."""
    return json.loads(json.dumps(payload))


def base() -> dict[str, Any]:
    """A small valid strategy payload: one segment with one SMS step."""
    return {
        "version": "t-1",
        "description": "a test strategy",
        "portfolios": [],
        "segments": [
            {
                "name": "MILD",
                "clock": "DPD",
                "when": {"classifications": ["MILD"]},
                "steps": [
                    {
                        "name": "SMS_1",
                        "day": 1,
                        "action": "SMS",
                        "template": "PAYMENT_REMINDER",
                        "reason": "1 day past due: first SMS reminder",
                    }
                ],
            }
        ],
    }


def challenger(share: Any = "0.2", segments: Any = ("MILD",)) -> dict[str, Any]:
    definition = {k: v for k, v in base().items() if k not in ("version", "portfolios")}
    return {
        "version": "t-c1",
        "share": share,
        "segments": list(segments),
        "definition": definition,
    }


def refused(payload: Any, field: str, kind: str = "STRATEGY", name: str = "STANDARD") -> str:
    with pytest.raises(ChangeInvalid) as caught:
        registry.validate(RuleSetKind(kind), name, payload)
    assert caught.value.code == ErrorCode.CHANGE_INVALID
    assert caught.value.field == field, caught.value.message
    return caught.value.message


def step(**changes: Any) -> dict[str, Any]:
    """The base payload with its one step changed (a value None removes the key)."""
    payload = base()
    target = payload["segments"][0]["steps"][0]
    for key, value in changes.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return payload


def when(**changes: Any) -> dict[str, Any]:
    payload = base()
    payload["segments"][0]["when"] = changes
    return payload


STEP = "payload.segments[0].steps[0]"
WHEN = "payload.segments[0].when"

# ---- The default strategy -----------------------------------------------------------------------


def test_the_defaults_are_standard_and_no_challenger() -> None:
    assert dict(DEFAULT_STRATEGIES) == {"STANDARD": STANDARD}
    assert dict(DEFAULT_CHALLENGERS) == {}
    assert (STANDARD.version, STANDARD.portfolios) == ("2026.1", frozenset())
    assert [s.name for s in STANDARD.segments] == [
        "LEGAL",
        "WRITTEN_OFF",
        "HARDSHIP",
        "PRE_DUE",
        "MILD_US",
        "MILD",
        "MODERATE",
        "SERIOUS",
        "SEVERE",
    ]


def test_the_default_round_trips_exactly_and_is_what_the_registry_offers() -> None:
    payload = through_json(strategy_to_payload(STANDARD))
    assert strategy_from_payload("STANDARD", payload) == STANDARD
    assert strategy_to_payload(strategy_from_payload("STANDARD", payload)) == payload
    entry = registry.entry(RuleSetKind.STRATEGY)
    assert entry is not None and entry.open and entry.names == ("STANDARD",)
    assert entry.default("STANDARD") == payload
    assert entry.normalise("STANDARD", payload) == payload
    challengers = registry.entry(RuleSetKind.STRATEGY_CHALLENGER)
    assert challengers is not None and challengers.names == ()


def facts(
    dpd: int,
    stage: str = "COLLECTION",
    portfolio: str = "retail",
    warnings: frozenset[str] = frozenset(),
    flags: frozenset[str] = frozenset(),
) -> CaseFacts:
    return CaseFacts(
        classification=DEFAULT_POLICY.classify(dpd).classification.value,
        stage=stage,
        status="OPEN",
        portfolio=portfolio,
        currency="USD" if portfolio == "us-cards" else "CNY",
        outstanding=Decimal("1000.00"),
        days_past_due=dpd,
        warning_severities=warnings,
        flags=flags,
    )


# DOMAIN.md "Classification and buckets": DPD → class → the manual's default strategy.
@pytest.mark.parametrize(
    ("dpd", "segment", "actions"),
    [
        (1, "MILD", {"SMS", "CALL_TASK"}),  # SMS and phone reminders
        (30, "MILD", {"SMS", "CALL_TASK"}),
        (31, "MODERATE", {"LETTER", "CALL_TASK", "PLACE_WITH_AGENCY"}),  # calls, letters, agency
        (90, "MODERATE", {"LETTER", "CALL_TASK", "PLACE_WITH_AGENCY"}),
        (91, "SERIOUS", {"RECALL", "LEGAL_REVIEW_TASK", "LETTER", "SETTLEMENT_OFFER_TASK"}),
        (180, "SERIOUS", {"RECALL", "LEGAL_REVIEW_TASK", "LETTER", "SETTLEMENT_OFFER_TASK"}),
        (181, "SEVERE", {"CALL_TASK", "LEGAL_REVIEW_TASK", "SETTLEMENT_OFFER_TASK"}),
        (900, "SEVERE", {"CALL_TASK", "LEGAL_REVIEW_TASK", "SETTLEMENT_OFFER_TASK"}),
    ],
)
def test_the_default_follows_the_manuals_table(dpd: int, segment: str, actions: set[str]) -> None:
    found = segment_of(STANDARD, facts(dpd))
    assert found is not None and found.name == segment
    assert {s.action.value for s in found.steps} == actions
    assert found.clock is StepClock.DPD
    # The first step falls due on the class's first day past due.
    assert found.steps[0].day == {"MILD": 1, "MODERATE": 31, "SERIOUS": 91, "SEVERE": 181}[segment]


def test_pre_due_reminders_only_for_current_customers_with_a_warning() -> None:
    assert segment_of(STANDARD, facts(0)) is None
    for severity in ("LOW", "MEDIUM", "HIGH"):
        found = segment_of(STANDARD, facts(0, warnings=frozenset({severity})))
        assert found is not None and found.name == "PRE_DUE"
    pre_due = next(s for s in STANDARD.segments if s.name == "PRE_DUE")
    assert pre_due.clock is StepClock.DAYS_IN_SEGMENT
    assert [(s.day, s.action, s.template) for s in pre_due.steps] == [
        (0, StepAction.SMS, "PRE_DUE_REMINDER")
    ]


def test_legal_work_and_hardship_come_before_the_classes() -> None:
    legal = segment_of(STANDARD, facts(200, stage="LEGAL", flags=frozenset({"HARDSHIP"})))
    assert legal is not None and (legal.name, legal.steps) == ("LEGAL", ())
    hardship = segment_of(STANDARD, facts(45, flags=frozenset({"HARDSHIP"})))
    assert hardship is not None and hardship.name == "HARDSHIP"
    assert hardship.clock is StepClock.DAYS_IN_SEGMENT
    assert [(s.day, s.action.value) for s in hardship.steps] == [(0, "SETTLEMENT_OFFER_TASK")]
    # Another flag does not change the strategy: the protections suppress what it stops.
    other = segment_of(STANDARD, facts(5, flags=frozenset({"CEASE_COMMUNICATION"})))
    assert other is not None and other.name == "MILD"


def test_written_off_cases_get_nothing_from_the_strategy() -> None:
    # Recovery after write-off is worked by people and agencies: no calls, reviews or letters,
    # whatever the class, the portfolio or the flags.
    for portfolio in ("retail", "us-cards"):
        for dpd in (0, 5, 45, 200, 900):
            found = segment_of(
                STANDARD,
                facts(dpd, stage="WRITTEN_OFF", portfolio=portfolio, flags=frozenset({"HARDSHIP"})),
            )
            assert found is not None and (found.name, found.steps) == ("WRITTEN_OFF", ())
    written_off = next(s for s in STANDARD.segments if s.name == "WRITTEN_OFF")
    assert written_off.when.stages == frozenset({"WRITTEN_OFF"})
    assert written_off.when.classifications == frozenset() and written_off.when.flags_any == set()


def test_us_cards_start_with_the_validation_notice_by_letter_never_an_sms() -> None:
    found = segment_of(STANDARD, facts(3, portfolio="us-cards"))
    assert found is not None and found.name == "MILD_US"
    assert [(s.day, s.action.value, s.template, s.always) for s in found.steps] == [
        # Never overtaken: a case entering at 5 days past due or later still gets it first.
        (1, "LETTER", "VALIDATION_NOTICE", True),
        (5, "EMAIL", "PAYMENT_REMINDER_EMAIL", False),
        (10, "CALL_TASK", None, False),
        (20, "CALL_TASK", None, False),
    ]
    # The one step of the default that is never overtaken.
    always = [s.name for segment in STANDARD.segments for s in segment.steps if s.always]
    assert always == ["MILD_US_VALIDATION"]
    written = strategy_to_payload(STANDARD)
    mild_us = next(s for s in written["segments"] if s["name"] == "MILD_US")
    assert [s.get("always") for s in mild_us["steps"]] == [True, None, None, None]
    mild = segment_of(STANDARD, facts(3))
    assert mild is not None and [(s.day, s.action.value, s.template) for s in mild.steps] == [
        (1, "SMS", "PAYMENT_REMINDER"),
        (3, "CALL_TASK", None),
        (10, "SMS", "PAYMENT_REMINDER"),
        (20, "CALL_TASK", None),
    ]


def test_the_default_places_for_60_days_in_rotation_and_calls_the_guarantor_when_severe() -> None:
    by_name = {s.name: s for segment in STANDARD.segments for s in segment.steps}
    place = by_name["MODERATE_PLACE"]
    assert (place.day, place.placement, place.placement_days, place.template) == (
        45,
        PlacementMethod.ROTATION,
        60,
        None,
    )
    assert by_name["SEVERE_GUARANTOR_CALL"].party.value == "GUARANTOR"
    assert all(step.reason.strip() for step in by_name.values())


# The templates fixed with the notices' slice, each on its one channel.
TEMPLATES = {
    "PRE_DUE_REMINDER": "SMS",
    "PAYMENT_REMINDER": "SMS",
    "PAYMENT_REMINDER_EMAIL": "EMAIL",
    "DEMAND_LETTER": "LETTER",
    "VALIDATION_NOTICE": "LETTER",
}


def test_every_message_of_the_default_names_a_template_of_its_channel() -> None:
    messages = [
        (segment.name, step)
        for segment in STANDARD.segments
        for step in segment.steps
        if step.action in MESSAGE_CHANNELS
    ]
    assert {step.template for _, step in messages} == set(TEMPLATES)
    for segment, step in messages:
        assert step.template is not None
        assert TEMPLATES[step.template] == MESSAGE_CHANNELS[step.action].value
        if step.template == "VALIDATION_NOTICE":
            assert segment == "MILD_US"  # Reg F's notice: the US portfolio only


def test_the_checked_in_templates_hold_every_template_the_default_sends() -> None:
    templates = pytest.importorskip("domain.notices.templates")
    defaults = getattr(templates, "DEFAULT_TEMPLATES", None)
    if not defaults:
        pytest.skip("no checked-in templates yet")
    for name, channel in TEMPLATES.items():
        assert name in defaults, name
        assert str(defaults[name].channel) == channel


# ---- A payload's checks, to their boundaries ----------------------------------------------------


def test_a_small_payload_reads_with_its_defaults_and_round_trips() -> None:
    strategy = strategy_from_payload("MINE", base())
    only = strategy.segments[0]
    assert only.when.classifications == frozenset({"MILD"})
    assert only.when.stages == frozenset() and only.when.warning_severity is None
    assert only.steps[0].party.value == "BORROWER"
    written = strategy_to_payload(strategy)
    assert written["segments"][0]["when"] == {
        "classifications": ["MILD"],
        "stages": [],
        "portfolios": [],
        "products": [],
        "balance": [],
        "warningSeverity": None,
        "flagsAny": [],
        "flagsNone": [],
    }
    assert written["segments"][0]["steps"][0] == {
        "name": "SMS_1",
        "day": 1,
        "action": "SMS",
        "party": "BORROWER",
        "template": "PAYMENT_REMINDER",
        "reason": "1 day past due: first SMS reminder",
    }
    again = through_json(written)
    assert strategy_to_payload(strategy_from_payload("MINE", again)) == again


def test_strategy_names_are_checked_by_the_registry() -> None:
    refused(base(), "name", name="standard")
    refused(base(), "name", name="S")
    refused(base(), "name", name="S" * 65)
    registry.validate(RuleSetKind.STRATEGY, "S" * 64, base())


@pytest.mark.parametrize(
    ("label", "ok"),
    [("2026.2", True), ("a" * 32, True), ("a" * 33, False), ("", False), ("2026 2", False)],
)
def test_the_version_label(label: str, ok: bool) -> None:
    payload = {**base(), "version": label}
    if ok:
        assert strategy_from_payload("MINE", payload).version == label
    else:
        refused(payload, "payload.version")


def test_top_level_fields() -> None:
    refused({k: v for k, v in base().items() if k != "description"}, "payload.description")
    refused({**base(), "description": "x" * 501}, "payload.description")
    assert strategy_from_payload("MINE", {**base(), "description": "x" * 500})
    refused({**base(), "colour": "red"}, "payload.colour")
    refused([], "payload")
    refused({**base(), "segments": []}, "payload.segments")
    many = [{**base()["segments"][0], "name": f"S{i}", "steps": []} for i in range(51)]
    refused({**base(), "segments": many}, "payload.segments")
    assert len(strategy_from_payload("MINE", {**base(), "segments": many[:50]}).segments) == 50


def test_portfolios_are_known_and_listed_once() -> None:
    assert strategy_from_payload("MINE", {**base(), "portfolios": ["us-cards"]}).portfolios == {
        "us-cards"
    }
    refused({**base(), "portfolios": ["nowhere"]}, "payload.portfolios[0]")
    refused({**base(), "portfolios": ["retail", "retail"]}, "payload.portfolios[1]")
    refused({**base(), "portfolios": "retail"}, "payload.portfolios")
    # A segment of a strategy of some portfolios may name only those (else it matches nothing).
    payload = {**when(portfolios=["us-cards"]), "portfolios": ["retail"]}
    refused(payload, f"{WHEN}.portfolios")
    assert strategy_from_payload("MINE", {**payload, "portfolios": ["retail", "us-cards"]})


def test_segment_names_and_clock() -> None:
    for bad in ("mild", "1MILD", "MILD-1", "M" * 65, 7):
        payload = base()
        payload["segments"][0]["name"] = bad
        refused(payload, "payload.segments[0].name")
    payload = base()
    payload["segments"][0]["name"] = "M" * 64
    assert strategy_from_payload("MINE", payload).segments[0].name == "M" * 64
    twice = base()
    twice["segments"].append({**copy.deepcopy(twice["segments"][0]), "steps": []})
    assert "names two segments" in refused(twice, "payload.segments[1].name")
    payload = base()
    payload["segments"][0]["clock"] = "WEEKS"
    refused(payload, "payload.segments[0].clock")
    payload = base()
    del payload["segments"][0]["steps"]
    refused(payload, "payload.segments[0].steps")
    payload = base()
    payload["segments"][0]["steps"] = []  # a segment without automatic steps (legal work)
    assert strategy_from_payload("MINE", payload).segments[0].steps == ()
    payload = base()
    del payload["segments"][0]["when"]  # every case
    assert strategy_from_payload("MINE", payload).segments[0].when.classifications == frozenset()


@pytest.mark.parametrize(
    ("day", "ok"), [(0, True), (3650, True), (-1, False), (3651, False), ("1", False), (1.0, False)]
)
def test_a_steps_day(day: Any, ok: bool) -> None:
    if ok:
        assert strategy_from_payload("MINE", step(day=day)).segments[0].steps[0].day == day
    else:
        refused(step(day=day), f"{STEP}.day")


def test_a_boolean_is_no_day() -> None:
    refused(step(day=True), f"{STEP}.day")


def test_step_names_are_unique_across_the_strategy_and_well_formed() -> None:
    refused(step(name="sms_1"), f"{STEP}.name")
    refused(step(name=None), f"{STEP}.name")
    payload = base()
    other = copy.deepcopy(payload["segments"][0])
    other["name"] = "OTHER"
    payload["segments"].append(other)
    assert "names two steps" in refused(payload, "payload.segments[1].steps[0].name")


def test_steps_are_listed_by_day() -> None:
    payload = base()
    first = payload["segments"][0]["steps"][0]
    payload["segments"][0]["steps"] = [
        {**first, "name": "LATER", "day": 5},
        {**first, "name": "SAME", "day": 5},
        {**first, "name": "EARLIER", "day": 4},
    ]
    refused(payload, "payload.segments[0].steps[2].day")
    payload["segments"][0]["steps"][2]["day"] = 5
    assert [s.day for s in strategy_from_payload("MINE", payload).segments[0].steps] == [5, 5, 5]


def test_actions_and_what_each_carries() -> None:
    refused(step(action="FAX"), f"{STEP}.action")
    # A message needs a template name; a task or a move carries none.
    refused(step(template=None), f"{STEP}.template")
    refused(step(template="payment reminder"), f"{STEP}.template")
    refused(step(action="CALL_TASK"), f"{STEP}.template")
    refused(step(action="RECALL"), f"{STEP}.template")
    call = strategy_from_payload("MINE", step(action="CALL_TASK", template=None))
    assert call.segments[0].steps[0].template is None
    for action in ("EMAIL", "LETTER"):
        assert strategy_from_payload("MINE", step(action=action)).segments[0].steps[0].template


def test_parties() -> None:
    refused(step(party="NEIGHBOUR"), f"{STEP}.party")
    for party in ("BORROWER", "GUARANTOR", "SPOUSE"):
        assert strategy_from_payload("MINE", step(party=party)).segments[0].steps[0].party == party
    # A message never goes to someone the debt does not concern.
    for party in ("EMERGENCY_CONTACT", "UNRELATED_THIRD_PARTY"):
        refused(step(party=party), f"{STEP}.party")
        task = step(action="CALL_TASK", template=None, party=party)
        assert strategy_from_payload("MINE", task).segments[0].steps[0].party == party
    refused(step(action="RECALL", template=None, party="GUARANTOR"), f"{STEP}.party")
    recall = strategy_from_payload("MINE", step(action="RECALL", template=None, party="BORROWER"))
    assert "party" not in strategy_to_payload(recall)["segments"][0]["steps"][0]


@pytest.mark.parametrize(
    ("days", "ok"), [(1, True), (365, True), (0, False), (366, False), ("60", False)]
)
def test_a_placements_period(days: Any, ok: bool) -> None:
    payload = step(action="PLACE_WITH_AGENCY", template=None, placement="ROTATION")
    payload["segments"][0]["steps"][0]["placementDays"] = days
    if ok:
        found = strategy_from_payload("MINE", payload).segments[0].steps[0]
        assert (found.placement, found.placement_days) == (PlacementMethod.ROTATION, days)
    else:
        refused(payload, f"{STEP}.placementDays")


def test_a_placement_needs_its_method_and_period_and_nothing_else_carries_them() -> None:
    place = {"action": "PLACE_WITH_AGENCY", "template": None}
    refused(step(**place, placementDays=60), f"{STEP}.placement")
    refused(step(**place, placement="AUCTION", placementDays=60), f"{STEP}.placement")
    refused(step(**place, placement="PERFORMANCE"), f"{STEP}.placementDays")
    refused(step(placement="ROTATION"), f"{STEP}.placement")
    refused(step(placementDays=60), f"{STEP}.placementDays")
    refused(step(action="RECALL", template=None, placementDays=60), f"{STEP}.placementDays")


def test_a_steps_reason_and_unknown_keys() -> None:
    refused(step(reason=None), f"{STEP}.reason")
    refused(step(reason="  "), f"{STEP}.reason")
    refused(step(reason="x" * 501), f"{STEP}.reason")
    assert strategy_from_payload("MINE", step(reason="x" * 500))
    refused(step(colour="red"), f"{STEP}.colour")


@pytest.mark.parametrize("action", ["SMS", "CALL_TASK"])
def test_a_step_may_always_be_taken(action: str) -> None:
    template = "PAYMENT_REMINDER" if action == "SMS" else None
    found = strategy_from_payload("MINE", step(action=action, template=template, always=True))
    assert found.segments[0].steps[0].always is True
    written = strategy_to_payload(found)
    assert written["segments"][0]["steps"][0]["always"] is True
    assert strategy_to_payload(strategy_from_payload("MINE", through_json(written))) == written
    # False or absent: the default, never written (a payload without it reads back the same).
    for value in (False, None):
        plain = strategy_from_payload("MINE", step(action=action, template=template, always=value))
        assert plain.segments[0].steps[0].always is False
        assert "always" not in strategy_to_payload(plain)["segments"][0]["steps"][0]


@pytest.mark.parametrize("value", ["true", 1, 0, [], {}])
def test_always_is_true_or_false(value: Any) -> None:
    assert "true or false" in refused(step(always=value), f"{STEP}.always")


def test_a_move_is_never_always_taken() -> None:
    recall = step(action="RECALL", template=None, always=True)
    refused(recall, f"{STEP}.always")
    place = step(
        action="PLACE_WITH_AGENCY",
        template=None,
        placement="ROTATION",
        placementDays=60,
        always=True,
    )
    refused(place, f"{STEP}.always")
    # False is what a move is anyway.
    recall["segments"][0]["steps"][0]["always"] = False
    assert strategy_from_payload("MINE", recall).segments[0].steps[0].always is False


def moves(*steps: tuple[str, int]) -> dict[str, Any]:
    """The base payload whose segment holds these moves (action, day), in order."""
    payload = base()
    shapes = {
        "RECALL": {"action": "RECALL"},
        "PLACE_WITH_AGENCY": {
            "action": "PLACE_WITH_AGENCY",
            "placement": "ROTATION",
            "placementDays": 30,
        },
        "CALL_TASK": {"action": "CALL_TASK"},
    }
    payload["segments"][0]["steps"] = [
        {"name": f"STEP_{i}", "day": day, "reason": "move", **shapes[action]}
        for i, (action, day) in enumerate(steps)
    ]
    return payload


def test_at_most_one_move_a_day_in_a_segment() -> None:
    # Two moves due the same day would leave the case wherever the order put it.
    message = refused(
        moves(("RECALL", 5), ("PLACE_WITH_AGENCY", 5)), "payload.segments[0].steps[1].action"
    )
    assert "second move on day 5" in message and "STEP_0" in message
    refused(
        moves(("PLACE_WITH_AGENCY", 5), ("PLACE_WITH_AGENCY", 5)),
        "payload.segments[0].steps[1].action",
    )
    refused(
        moves(("RECALL", 4), ("CALL_TASK", 5), ("RECALL", 5), ("PLACE_WITH_AGENCY", 5)),
        "payload.segments[0].steps[3].action",
    )
    # A day apart, or a move and a task the same day, or moves in different segments: fine.
    assert strategy_from_payload("MINE", moves(("RECALL", 5), ("PLACE_WITH_AGENCY", 6)))
    assert strategy_from_payload("MINE", moves(("CALL_TASK", 5), ("PLACE_WITH_AGENCY", 5)))
    two = moves(("RECALL", 5))
    other = {**copy.deepcopy(two["segments"][0]), "name": "OTHER"}
    other["steps"][0]["name"] = "OTHER_RECALL"
    two["segments"].append(other)
    assert len(strategy_from_payload("MINE", two).segments) == 2
    # In a challenger's definition too.
    bad = challenger()
    bad["definition"] = {
        "description": "two moves",
        "segments": moves(("RECALL", 5), ("RECALL", 5))["segments"],
    }
    refused(bad, "payload.definition.segments[0].steps[1].action", kind="STRATEGY_CHALLENGER")


def test_the_default_has_one_move_a_day_at_most() -> None:
    for segment in STANDARD.segments:
        days = [s.day for s in segment.steps if s.action in PLACEMENTS]
        assert len(days) == len(set(days)), segment.name
    # And the registry accepts it as a proposal (every check of a payload).
    registry.validate(RuleSetKind.STRATEGY, "STANDARD", strategy_to_payload(STANDARD))


def test_conditions_name_known_values_once() -> None:
    for key, good, bad in (
        ("classifications", "SEVERE", "TERRIBLE"),
        ("stages", "WRITTEN_OFF", "SOLD"),
        ("products", "MORTGAGE", "BOAT_LOAN"),
        ("flagsAny", "DECEASED", "HAPPY"),
        ("flagsNone", "BANKRUPTCY", "HAPPY"),
    ):
        assert strategy_from_payload("MINE", when(**{key: [good]}))
        refused(when(**{key: [bad]}), f"{WHEN}.{key}[0]")
        refused(when(**{key: [good, good]}), f"{WHEN}.{key}[1]")
        refused(when(**{key: good}), f"{WHEN}.{key}")
    refused(when(portfolios=["nowhere"]), f"{WHEN}.portfolios[0]")
    refused(when(warningSeverity="DIRE"), f"{WHEN}.warningSeverity")
    found = strategy_from_payload("MINE", when(warningSeverity="MEDIUM"))
    assert found.segments[0].when.warning_severity == "MEDIUM"
    refused(when(flagsAny=["HARDSHIP"], flagsNone=["HARDSHIP"]), f"{WHEN}.flagsNone")
    refused(when(colour=["red"]), f"{WHEN}.colour")
    payload = base()
    payload["segments"][0]["when"] = ["MILD"]
    refused(payload, WHEN)


def band(**values: Any) -> dict[str, Any]:
    return when(balance=[{"currency": "CNY", **values}])


BAND = f"{WHEN}.balance[0]"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"minimum": 5000}, "minimum"),  # a number: JSON numbers may be floats
        ({"minimum": 5000.5}, "minimum"),
        ({"minimum": "-1"}, "minimum"),
        ({"minimum": "NaN"}, "minimum"),
        ({"maximum": "Infinity"}, "maximum"),
        ({"maximum": "1e3"}, "maximum"),
        ({"minimum": "0.001"}, "minimum"),  # CNY has two decimal places
        ({"minimum": "5000", "maximum": "5000"}, "maximum"),
        ({"minimum": "5000.01", "maximum": "5000"}, "maximum"),
        ({"currency": "cny"}, "currency"),
        ({"currency": "YUAN"}, "currency"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_balance_bands_refused(values: dict[str, Any], field: str) -> None:
    refused(band(**values), f"{BAND}.{field}")


def test_balance_bands_accepted_as_exact_decimals() -> None:
    found = strategy_from_payload("MINE", band(minimum="0", maximum="5000.01"))
    assert found.segments[0].when.balance == (BalanceBand("CNY", Decimal("0"), Decimal("5000.01")),)
    assert strategy_from_payload("MINE", band()).segments[0].when.balance == (BalanceBand("CNY"),)
    jpy = when(balance=[{"currency": "JPY", "minimum": "1"}])
    assert strategy_from_payload("MINE", jpy)
    refused(when(balance=[{"currency": "JPY", "minimum": "1.5"}]), f"{BAND}.minimum")
    written = strategy_to_payload(strategy_from_payload("MINE", band(maximum="5000.10")))
    assert written["segments"][0]["when"]["balance"] == [
        {"currency": "CNY", "minimum": None, "maximum": "5000.10"}
    ]


# ---- Challengers --------------------------------------------------------------------------------


def test_a_challenger_round_trips_and_carries_its_own_definition() -> None:
    found = challenger_from_payload("STANDARD", challenger())
    assert (found.name, found.version, found.share, found.segments) == (
        "STANDARD",
        "t-c1",
        Decimal("0.2"),
        frozenset({"MILD"}),
    )
    assert found.definition.name == "STANDARD" and found.definition.version == "t-c1"
    assert found.definition.portfolios == frozenset()
    assert [s.name for s in found.definition.segments] == ["MILD"]
    payload = through_json(challenger_to_payload(found))
    assert payload == {**challenger(), "definition": payload["definition"]}
    assert challenger_from_payload("STANDARD", payload) == found
    assert challenger_to_payload(challenger_from_payload("STANDARD", payload)) == payload


@pytest.mark.parametrize(
    ("share", "ok"),
    [
        ("0", True),
        ("1", True),
        ("0.0001", True),
        ("0.9999", True),
        ("1.0000", True),
        ("1.0001", False),
        ("0.00001", False),
        ("-0.1", False),
        ("2", False),
        (0.2, False),
        (0, False),
        ("NaN", False),
        ("Infinity", False),
        ("2e-1", False),
        ("", False),
    ],
)
def test_a_challengers_share(share: Any, ok: bool) -> None:
    if ok:
        found = challenger_from_payload("STANDARD", challenger(share=share))
        assert found.share == Decimal(share)
    else:
        refused(challenger(share=share), "payload.share", kind="STRATEGY_CHALLENGER")


def test_a_challengers_segments_and_definition() -> None:
    everyone = challenger_from_payload("STANDARD", challenger(segments=()))
    assert everyone.segments == frozenset()  # every segment of the champion
    # A name the champion lacks is accepted (it matches nothing): the champion it will run
    # against is not known here.
    assert challenger_from_payload("STANDARD", challenger(segments=("NO_SUCH",)))
    kind = "STRATEGY_CHALLENGER"
    refused(challenger(segments=("mild",)), "payload.segments[0]", kind)
    refused(challenger(segments=("MILD", "MILD")), "payload.segments[1]", kind)
    refused({**challenger(), "segments": "MILD"}, "payload.segments", kind)
    refused({k: v for k, v in challenger().items() if k != "segments"}, "payload.segments", kind)
    refused(
        {k: v for k, v in challenger().items() if k != "definition"}, "payload.definition", kind
    )
    with_portfolios = challenger()
    with_portfolios["definition"]["portfolios"] = ["retail"]
    refused(with_portfolios, "payload.definition.portfolios", kind)
    bad_day = challenger()
    bad_day["definition"]["segments"][0]["steps"][0]["day"] = -1
    refused(bad_day, "payload.definition.segments[0].steps[0].day", kind)
    refused(challenger(), "name", kind, name="lower")


def segment(name: str, *steps: str, classification: str = "MILD") -> dict[str, Any]:
    """A segment payload of call tasks named ``steps`` (days 1, 2, …)."""
    return {
        "name": name,
        "clock": "DPD",
        "when": {"classifications": [classification]},
        "steps": [
            {"name": step, "day": i + 1, "action": "CALL_TASK", "reason": f"{step} reason"}
            for i, step in enumerate(steps)
        ],
    }


CHAMPION_SEGMENTS = [
    segment("LEGAL"),
    segment("EARLY", "EARLY_CALL"),
    segment("MILD", "MILD_CALL"),
    segment("MODERATE", "MODERATE_CALL", classification="MODERATE"),
    segment("SEVERE", "SEVERE_CALL", classification="SEVERE"),
]


def promote(challenged: list[str], definition: list[dict[str, Any]]) -> Any:
    champion = strategy_from_payload(
        "MINE",
        {
            "version": "t-1",
            "description": "the champion",
            "portfolios": ["retail"],
            "segments": copy.deepcopy(CHAMPION_SEGMENTS),
        },
    )
    running = challenger_from_payload(
        "MINE",
        {
            "version": "t-c1",
            "share": "0.5",
            "segments": challenged,
            "definition": {"description": "the challenger", "segments": definition},
        },
    )
    return promotion_payload(running, champion, "t-2")


def promoted(challenged: list[str], definition: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """The promoted champion's segments, each as (name, its steps' names…), read back."""
    payload = through_json(promote(challenged, definition))
    strategy = strategy_from_payload("MINE", payload)
    assert (strategy.version, strategy.portfolios) == ("t-2", frozenset({"retail"}))
    return [(s.name, *(step.name for step in s.steps)) for s in strategy.segments]


def test_a_promotion_of_a_challenger_of_every_segment_is_its_definition() -> None:
    definition = [segment("ALL", "ALL_CALL", classification="MODERATE")]
    assert promoted([], definition) == [("ALL", "ALL_CALL")]
    assert promote([], definition)["description"] == "the challenger"


def test_a_promotion_replaces_the_challenged_segments_and_keeps_the_others() -> None:
    # One segment: replaced in place, the others kept in order.
    assert promoted(["MILD"], [segment("MILD", "MILD_CALL_FIRST", "MILD_SMS")]) == [
        ("LEGAL",),
        ("EARLY", "EARLY_CALL"),
        ("MILD", "MILD_CALL_FIRST", "MILD_SMS"),
        ("MODERATE", "MODERATE_CALL"),
        ("SEVERE", "SEVERE_CALL"),
    ]
    # The strategy stays the champion's: its description too.
    assert promote(["MILD"], [segment("MILD", "X")])["description"] == "the champion"
    # Several, not adjacent: the definition's segments (in their order, any names) take the
    # place of the first challenged one; the other challenged ones leave.
    definition = [segment("NEW_B", "NEW_B_CALL"), segment("NEW_A", "NEW_A_CALL")]
    assert promoted(["SEVERE", "EARLY"], definition) == [
        ("LEGAL",),
        ("NEW_B", "NEW_B_CALL"),
        ("NEW_A", "NEW_A_CALL"),
        ("MILD", "MILD_CALL"),
        ("MODERATE", "MODERATE_CALL"),
    ]
    # The first segment, and the last.
    assert [s[0] for s in promoted(["LEGAL"], [segment("LEGAL", "LEGAL_CALL")])] == [
        "LEGAL",
        "EARLY",
        "MILD",
        "MODERATE",
        "SEVERE",
    ]
    assert [s[0] for s in promoted(["SEVERE"], [segment("LAST", "LAST_CALL")])] == [
        "LEGAL",
        "EARLY",
        "MILD",
        "MODERATE",
        "LAST",
    ]
    # A challenged name the champion lacks is ignored beside one it has.
    assert [s[0] for s in promoted(["NO_SUCH", "MILD"], [segment("M2", "M2_CALL")])] == [
        "LEGAL",
        "EARLY",
        "M2",
        "MODERATE",
        "SEVERE",
    ]
    # A step's name freed by the challenged segment may be used again.
    assert promoted(["MILD"], [segment("MILD", "MILD_CALL")])[2] == ("MILD", "MILD_CALL")


def refused_promotion(challenged: list[str], definition: list[dict[str, Any]]) -> str:
    with pytest.raises(ChangeInvalid) as caught:
        promote(challenged, definition)
    assert (caught.value.code, caught.value.field) == (ErrorCode.CHANGE_INVALID, "strategy")
    return caught.value.message


def test_a_promotion_naming_a_segment_or_step_twice_is_refused() -> None:
    # The challenger's definition has a segment of the name of one the champion keeps.
    message = refused_promotion(["MILD"], [segment("MILD", "A"), segment("MODERATE", "B")])
    assert "two segments named MODERATE" in message
    # Or a step of the name of one in a segment the champion keeps.
    message = refused_promotion(["MILD"], [segment("MILD", "SEVERE_CALL")])
    assert "two steps named SEVERE_CALL" in message and "SEVERE" in message
    # Challenging that segment too makes it fine.
    assert promoted(["MILD", "MODERATE"], [segment("MILD", "A"), segment("MODERATE", "B")])


def test_a_promotion_of_a_challenger_of_none_of_the_champions_segments_is_refused() -> None:
    assert "nothing to promote" in refused_promotion(["NO_SUCH"], [segment("X", "X_CALL")])


# ---- Which champion and challenger treat cases, and each version's status -----------------------

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def stored_challenger(start: datetime, share: str = "0.2", name: str = "STANDARD") -> StoredVersion:
    return StoredVersion(RuleSetKind.STRATEGY_CHALLENGER, name, 1, challenger(share=share), start)


def stored_champion(start: datetime, label: str = "t-1", number: int = 1) -> StoredVersion:
    return StoredVersion(
        RuleSetKind.STRATEGY, "STANDARD", number, {**base(), "version": label}, start
    )


def test_without_stored_versions_the_default_treats_cases_alone() -> None:
    found = treating([], [])
    assert list(found) == ["STANDARD"]
    assert (found["STANDARD"].champion, found["STANDARD"].champion_from) == (STANDARD, None)
    assert found["STANDARD"].challenger is None


def test_a_challenger_runs_against_an_older_champion_only() -> None:
    # Against the checked-in champion (the beginning of time): it runs.
    running = treating([], [stored_challenger(T0)])["STANDARD"]
    assert running.challenger is not None and running.challenger.share == Decimal("0.2")
    # Against a champion that started before it: it runs.
    before = treating([stored_champion(T0 - timedelta(days=1))], [stored_challenger(T0)])
    assert before["STANDARD"].challenger is not None
    assert before["STANDARD"].champion_from == T0 - timedelta(days=1)
    # A champion that started at the same instant or later (its promotion) retires it.
    for start in (T0, T0 + timedelta(seconds=1)):
        after = treating([stored_champion(start)], [stored_challenger(T0)])["STANDARD"]
        assert after.challenger is None and after.champion.version == "t-1"
    # Share 0 ends it.
    assert treating([], [stored_challenger(T0, share="0")])["STANDARD"].challenger is None
    # A challenger of a strategy without a champion is ignored.
    assert list(treating([], [stored_challenger(T0, name="OTHER")])) == ["STANDARD"]


def row(version: StoredVersion, change_id: int | None = None) -> Stored:
    return Stored(
        version.kind,
        version.name,
        version.version,
        version.payload,
        version.effective_from,
        change_id,
    )


def listed(stored: list[Stored], pending: list[Pending], at: datetime) -> list[tuple[Any, ...]]:
    return [
        (v.name, v.kind.value, v.label, v.status.value, tuple(x.value for x in v.variants))
        for v in catalogue(stored, pending, at)
    ]


def test_statuses_of_champion_versions() -> None:
    assert listed([], [], T0) == [("STANDARD", "CHAMPION", "2026.1", "ACTIVE", ("CHAMPION",))]
    future = row(stored_champion(T0 + timedelta(days=1), "t-1", 1), change_id=7)
    assert listed([future], [], T0) == [
        ("STANDARD", "CHAMPION", "t-1", "APPROVED", ()),
        ("STANDARD", "CHAMPION", "2026.1", "ACTIVE", ("CHAMPION",)),
    ]
    assert listed([future], [], T0 + timedelta(days=1)) == [
        ("STANDARD", "CHAMPION", "t-1", "ACTIVE", ("CHAMPION",)),
        ("STANDARD", "CHAMPION", "2026.1", "RETIRED", ()),
    ]
    # A later approval starting earlier overtakes an earlier-approved one: that one never starts.
    sooner = row(stored_champion(T0 + timedelta(hours=1), "t-2", 2))
    assert listed([future, sooner], [], T0) == [
        ("STANDARD", "CHAMPION", "t-2", "APPROVED", ()),
        ("STANDARD", "CHAMPION", "t-1", "RETIRED", ()),
        ("STANDARD", "CHAMPION", "2026.1", "ACTIVE", ("CHAMPION",)),
    ]
    proposal = Pending(9, RuleSetKind.STRATEGY, "STANDARD", {**base(), "version": "t-3"}, T0)
    versions = catalogue([future, sooner], [proposal], T0 + timedelta(days=2))
    assert [(v.label, v.status.value, v.number, v.change_id) for v in versions] == [
        ("t-3", "DRAFT", None, 9),
        ("t-2", "ACTIVE", 2, None),
        ("t-1", "RETIRED", 1, 7),
        ("2026.1", "RETIRED", None, None),
    ]


def test_statuses_of_challengers() -> None:
    c = row(stored_challenger(T0))
    at = T0 + timedelta(minutes=1)
    assert listed([c], [], at) == [
        ("STANDARD", "CHAMPION", "2026.1", "ACTIVE", ("CHAMPION",)),
        ("STANDARD", "CHALLENGER", "t-c1", "ACTIVE", ("CHALLENGER",)),
    ]
    found = catalogue([c], [], at)[1]
    assert found.challenger is not None and found.definition == found.challenger.definition
    assert found.kind is Variant.CHALLENGER
    # Promoted: the new champion starts later than the challenger, which stops running.
    promoted = row(stored_champion(T0 + timedelta(hours=1), "t-2"))
    assert listed([c, promoted], [], at) == [
        ("STANDARD", "CHAMPION", "t-2", "APPROVED", ()),
        ("STANDARD", "CHAMPION", "2026.1", "ACTIVE", ("CHAMPION",)),
        ("STANDARD", "CHALLENGER", "t-c1", "ACTIVE", ("CHALLENGER",)),
    ]
    assert listed([c, promoted], [], T0 + timedelta(hours=1)) == [
        ("STANDARD", "CHAMPION", "t-2", "ACTIVE", ("CHAMPION",)),
        ("STANDARD", "CHAMPION", "2026.1", "RETIRED", ()),
        ("STANDARD", "CHALLENGER", "t-c1", "RETIRED", ()),
    ]
    # A newer challenger version of share 0 stops it.
    payload = {**challenger(share="0"), "version": "t-c2"}
    stopped = Stored(RuleSetKind.STRATEGY_CHALLENGER, "STANDARD", 2, payload, at, None)
    assert listed([c, stopped], [], at)[1:] == [
        ("STANDARD", "CHALLENGER", "t-c2", "RETIRED", ()),
        ("STANDARD", "CHALLENGER", "t-c1", "RETIRED", ()),
    ]


# ---- A stored version this release no longer reads ----------------------------------------------


def unreadable(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with its first step's action one this release does not know (as if removed
    since the version was stored)."""
    payload = copy.deepcopy(payload)
    segments = payload["definition" if "definition" in payload else "segments"]
    if isinstance(segments, dict):
        segments = segments["segments"]
    segments[0]["steps"][0]["action"] = "FAX"
    return payload


def test_the_loader_skips_a_version_it_no_longer_reads() -> None:
    older = stored_champion(T0, "t-1", 1)
    broken = StoredVersion(
        RuleSetKind.STRATEGY, "STANDARD", 2, unreadable({**base(), "version": "t-2"}), T0
    )
    # The version before it treats cases (in any order the versions come).
    for versions in ([older, broken], [broken, older]):
        found = treating(versions, [])["STANDARD"]
        assert (found.champion.version, found.champion_from) == ("t-1", T0)
    # None before it: the checked-in default.
    alone = treating([broken], [])["STANDARD"]
    assert (alone.champion, alone.champion_from) == (STANDARD, None)
    # A newer readable one wins as always.
    newer = stored_champion(T0, "t-3", 3)
    assert treating([older, broken, newer], [])["STANDARD"].champion.version == "t-3"
    # A challenger it no longer reads does not run (the one before it does, if any).
    bad = StoredVersion(
        RuleSetKind.STRATEGY_CHALLENGER, "STANDARD", 2, unreadable(challenger()), T0
    )
    assert treating([], [bad])["STANDARD"].challenger is None
    good = stored_challenger(T0 - timedelta(days=1))
    running = treating([], [good, bad])["STANDARD"].challenger
    assert running is not None and running.version == "t-c1"
    # A strategy of which no version reads has none (the default treats its portfolios).
    lost = StoredVersion(RuleSetKind.STRATEGY, "LOST", 1, unreadable(base()), T0)
    assert list(treating([lost], [])) == ["STANDARD"]


def test_the_listing_shows_a_version_it_no_longer_reads_retired_with_the_reason() -> None:
    older = row(stored_champion(T0, "t-1", 1), change_id=3)
    broken = Stored(
        RuleSetKind.STRATEGY,
        "STANDARD",
        2,
        unreadable({**base(), "version": "t-2"}),
        T0 + timedelta(hours=1),
        4,
    )
    at = T0 + timedelta(days=1)
    # The loader's choice: the newest it reads is ACTIVE, the one it cannot read RETIRED.
    assert listed([older, broken], [], at) == [
        ("STANDARD", "CHAMPION", "t-2", "RETIRED", ()),
        ("STANDARD", "CHAMPION", "t-1", "ACTIVE", ("CHAMPION",)),
        ("STANDARD", "CHAMPION", "2026.1", "RETIRED", ()),
    ]
    shown = catalogue([older, broken], [], at)[0]
    assert shown.read_error is not None
    assert "payload.segments[0].steps[0].action" in shown.read_error
    assert (shown.definition.description, shown.definition.segments) == ("a test strategy", ())
    assert (shown.number, shown.change_id, shown.effective_from) == (2, 4, broken.effective_from)
    assert all(v.read_error is None for v in catalogue([older, broken], [], at)[1:])
    # Its start to come: it will not take effect either.
    assert listed([older, broken], [], T0 + timedelta(minutes=1))[0][3] == "RETIRED"
    # Nor does it overtake a version it would have (a later approval starting earlier).
    later = Stored(
        RuleSetKind.STRATEGY,
        "STANDARD",
        1,
        {**base(), "version": "t-1"},
        T0 + timedelta(days=2),
        3,
    )
    early = Stored(RuleSetKind.STRATEGY, "STANDARD", 2, broken.payload, T0, 4)
    assert listed([later, early], [], T0 + timedelta(hours=1)) == [
        ("STANDARD", "CHAMPION", "t-2", "RETIRED", ()),
        ("STANDARD", "CHAMPION", "t-1", "APPROVED", ()),
        ("STANDARD", "CHAMPION", "2026.1", "ACTIVE", ("CHAMPION",)),
    ]
    # Without a label: its number stands for it. A challenger and a proposal alike.
    nameless = {k: v for k, v in broken.payload.items() if k != "version"}
    bad_challenger = Stored(
        RuleSetKind.STRATEGY_CHALLENGER, "STANDARD", 1, unreadable(challenger()), T0, None
    )
    proposal = Pending(9, RuleSetKind.STRATEGY, "STANDARD", nameless, T0)
    versions = catalogue(
        [Stored(RuleSetKind.STRATEGY, "STANDARD", 5, nameless, T0, None), bad_challenger],
        [proposal],
        at,
    )
    assert [(v.kind.value, v.label, v.status.value, v.read_error is None) for v in versions] == [
        ("CHAMPION", "?", "DRAFT", False),
        ("CHAMPION", "#5", "RETIRED", False),
        ("CHAMPION", "2026.1", "ACTIVE", True),
        ("CHALLENGER", "t-c1", "RETIRED", False),
    ]
    assert versions[-1].challenger is None and versions[-1].definition.segments == ()
    assert versions[-1].definition.description == "a test strategy"
