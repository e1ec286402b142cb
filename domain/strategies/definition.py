"""Strategies and challengers as payloads (the JSON form maker–checker stores), read back with
every field checked, and the default strategy ``STANDARD`` (the manual's table in DOMAIN.md).

A strategy version (``RuleSetKind.STRATEGY``, named by the strategy):

    {"version": "2026.2", "description": "…", "portfolios": ["us-cards"],
     "segments": [{"name": "MILD", "clock": "DPD",
                   "when": {"classifications": ["MILD"], "stages": [], "portfolios": [],
                            "products": [], "balance": [{"currency": "CNY", "minimum": "0",
                            "maximum": "5000"}], "warningSeverity": null, "flagsAny": [],
                            "flagsNone": []},
                   "steps": [{"name": "MILD_SMS_1", "day": 1, "action": "SMS",
                              "party": "BORROWER", "template": "PAYMENT_REMINDER",
                              "reason": "1 day past due: first SMS reminder"}]}]}

A step may say ``"always": true`` (written only when true): it is never skipped as overtaken by
a later step due the same day (a notice the law requires first); never on a move
(PLACE_WITH_AGENCY, RECALL), of which a segment has at most one a day.

A challenger (``RuleSetKind.STRATEGY_CHALLENGER``, named by the strategy it challenges):

    {"version": "2026.2-c1", "share": "0.2", "segments": ["MILD"],
     "definition": {"description": "…", "segments": [<segments as above>]}}

Its ``segments`` name the champion's segments whose cases it may take (empty: every segment; a
name the champion has not simply matches nothing: the champion in effect when it runs is not
known here — nor, for the same reason, whether the strategy has a champion at all or whether
the challenger's start will be later than the champion's, without which it never runs); its
definition has no portfolios (it treats the champion's cases). A promotion
(``promotion_payload``) keeps the champion's portfolios and the segments the challenger did not
challenge, the challenger's definition taking the place of the challenged ones.

Every refusal is ``ChangeInvalid`` naming the path at fault (``payload.segments[2].steps[0].day``).
``to_payload(from_payload(p))`` is what is stored; reading it back gives the same value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, TypeVar

from domain.cases.classification import Classification
from domain.cases.model import CaseStage
from domain.changes.errors import ChangeInvalid
from domain.changes.rules import MAX_ITEMS, Reader, version_label
from domain.contacts.model import ContactParty
from domain.debts.model import ProductType
from domain.flags.model import BorrowerFlagKind
from domain.money import minor_units
from domain.portfolios import PORTFOLIOS
from domain.strategies.model import (
    MESSAGE_CHANNELS,
    TASK_KINDS,
    BalanceBand,
    Challenger,
    PlacementMethod,
    Segment,
    SegmentCondition,
    Step,
    StepAction,
    StepClock,
    Strategy,
)
from domain.warnings.rules import Severity

E = TypeVar("E", Classification, CaseStage, ProductType, BorrowerFlagKind)

# Segment and step names: capitals, digits and underscores, starting with a capital.
NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
# Template names are rule-set names (``domain.changes.registry.OPEN_NAME``).
TEMPLATE_NAME = re.compile(r"[A-Z][A-Z0-9_]{1,63}")
LABEL = re.compile(r"[A-Za-z0-9_.\-]+")
# A step falls due at most this many days into its clock (ten years).
MAX_DAY = 3650
MAX_PLACEMENT_DAYS = 365
# Amounts of a balance band: plain decimal text, at most 15 digits before the point.
AMOUNT = re.compile(r"\d{1,15}(\.\d{1,6})?")
SHARE = re.compile(r"\d(\.\d{1,15})?")
SHARE_PLACES = 4
# The parties a message may be addressed to: those the debt concerns (never an emergency
# contact or an unrelated third party, to whom a notice would disclose the debt).
MESSAGE_PARTIES = (ContactParty.BORROWER, ContactParty.GUARANTOR, ContactParty.SPOUSE)
PLACEMENTS = (StepAction.PLACE_WITH_AGENCY, StepAction.RECALL)


def _refuse(where: str, message: str) -> ChangeInvalid:
    return ChangeInvalid(f"{where} {message}", field=where)


def _list(reader: Reader, key: str, required: bool = False) -> list[Any]:
    """A list of at most MAX_ITEMS items (absent or null: empty, unless required)."""
    value = reader.raw(key, required)
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise _refuse(reader.at(key), f"must be a list of at most {MAX_ITEMS} items")
    return value


def _name(value: object, where: str) -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise _refuse(
            where, "must be 1 to 64 capitals, digits and underscores, starting with a capital"
        )
    return value


def _members(reader: Reader, key: str, kind: type[E]) -> frozenset[str]:
    """A set of enum values, each listed once."""
    found: list[str] = []
    for i, value in enumerate(_list(reader, key)):
        member = reader.member(key, kind, value, f"{reader.at(key)}[{i}]")
        if member.value in found:
            raise _refuse(f"{reader.at(key)}[{i}]", f"lists {member.value} twice")
        found.append(member.value)
    return frozenset(found)


def _portfolios(reader: Reader, key: str) -> frozenset[str]:
    found: list[str] = []
    for i, value in enumerate(_list(reader, key)):
        where = f"{reader.at(key)}[{i}]"
        if not isinstance(value, str) or value not in PORTFOLIOS:
            raise _refuse(where, f"must be a portfolio ({', '.join(sorted(PORTFOLIOS))})")
        if value in found:
            raise _refuse(where, f"lists {value} twice")
        found.append(value)
    return frozenset(found)


def _amount(reader: Reader, key: str, currency: str) -> Decimal | None:
    """An amount as text (never a number: a float is inexact), to the currency's minor unit."""
    value = reader.raw(key, required=False)
    if value is None:
        return None
    where = reader.at(key)
    places = minor_units(currency)
    if not isinstance(value, str) or not AMOUNT.fullmatch(value):
        raise _refuse(where, 'must be an amount of zero or more as text (e.g. "5000.00")')
    amount = Decimal(value)
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        raise _refuse(where, f"has more than {places} decimal places for {currency}")
    return amount


def _band(reader: Reader) -> BalanceBand:
    currency = reader.text("currency", 3)
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise _refuse(reader.at("currency"), "must be an ISO-4217 currency code (e.g. CNY)")
    band = BalanceBand(
        currency, _amount(reader, "minimum", currency), _amount(reader, "maximum", currency)
    )
    reader.done()
    if band.minimum is not None and band.maximum is not None and band.minimum >= band.maximum:
        raise _refuse(reader.at("maximum"), "must be above the minimum")
    return band


def _condition(
    data: object, where: str, strategy_portfolios: frozenset[str] | None
) -> SegmentCondition:
    """Which cases a segment takes; every key may be left out (null or absent: any)."""
    reader = Reader({} if data is None else data, where)
    bands = tuple(
        _band(Reader(item, f"{reader.at('balance')}[{i}]"))
        for i, item in enumerate(_list(reader, "balance"))
    )
    severity = reader.raw("warningSeverity", required=False)
    condition = SegmentCondition(
        classifications=_members(reader, "classifications", Classification),
        stages=_members(reader, "stages", CaseStage),
        portfolios=_portfolios(reader, "portfolios"),
        products=_members(reader, "products", ProductType),
        balance=bands,
        warning_severity=None
        if severity is None
        else reader.member("warningSeverity", Severity).value,
        flags_any=_members(reader, "flagsAny", BorrowerFlagKind),
        flags_none=_members(reader, "flagsNone", BorrowerFlagKind),
    )
    reader.done()
    both = condition.flags_any & condition.flags_none
    if both:
        raise _refuse(reader.at("flagsNone"), f"also lists {min(both)} of flagsAny: none matches")
    if strategy_portfolios:
        outside = condition.portfolios - strategy_portfolios
        if outside:
            raise _refuse(
                reader.at("portfolios"),
                f"names {min(outside)}, which is not a portfolio of this strategy: none matches",
            )
    return condition


def _step(reader: Reader) -> Step:
    name = _name(reader.raw("name"), reader.at("name"))
    day = reader.integer("day", low=0, high=MAX_DAY)
    action = reader.member("action", StepAction)
    reason = reader.text("reason")
    party = ContactParty.BORROWER
    if reader.raw("party", required=False) is not None:
        party = reader.member("party", ContactParty)
    template = reader.raw("template", required=False)
    placement = reader.raw("placement", required=False)
    days = reader.raw("placementDays", required=False)
    if action in MESSAGE_CHANNELS:
        if template is None:
            raise _refuse(reader.at("template"), f"is required: a {action} step sends a template")
        if not isinstance(template, str) or not TEMPLATE_NAME.fullmatch(template):
            raise _refuse(
                reader.at("template"), "must name a notice template (e.g. PAYMENT_REMINDER)"
            )
        if party not in MESSAGE_PARTIES:
            parties = ", ".join(MESSAGE_PARTIES)
            raise _refuse(
                reader.at("party"), f"of a message must be one the debt concerns ({parties})"
            )
    elif template is not None:
        raise _refuse(reader.at("template"), f"is for message steps only, not {action}")
    if action in PLACEMENTS and party is not ContactParty.BORROWER:
        raise _refuse(reader.at("party"), f"is for message and task steps only, not {action}")
    always = reader.raw("always", required=False)
    if always is not None and not isinstance(always, bool):
        raise _refuse(reader.at("always"), "must be true or false")
    if always and action in PLACEMENTS:
        # Two moves of one day would then both be taken, in no stated order.
        raise _refuse(reader.at("always"), f"is for message and task steps only, not {action}")
    method: PlacementMethod | None = None
    if action is StepAction.PLACE_WITH_AGENCY:
        if placement is None:
            raise _refuse(reader.at("placement"), "is required: how the agency is chosen")
        method = reader.member("placement", PlacementMethod)
        if days is None:
            raise _refuse(reader.at("placementDays"), "is required: the placement's period")
        days = reader.integer("placementDays", low=1, high=MAX_PLACEMENT_DAYS)
    else:
        if placement is not None:
            raise _refuse(reader.at("placement"), f"is for PLACE_WITH_AGENCY only, not {action}")
        if days is not None:
            raise _refuse(
                reader.at("placementDays"), f"is for PLACE_WITH_AGENCY only, not {action}"
            )
    reader.done()
    return Step(
        name=name,
        day=day,
        action=action,
        reason=reason,
        party=party,
        template=template,
        placement=method,
        placement_days=days,
        always=bool(always),
    )


def _segment(reader: Reader, portfolios: frozenset[str] | None) -> Segment:
    name = _name(reader.raw("name"), reader.at("name"))
    clock = reader.member("clock", StepClock)
    when = _condition(reader.raw("when", required=False), reader.at("when"), portfolios)
    steps = tuple(
        _step(Reader(item, f"{reader.at('steps')}[{i}]"))
        for i, item in enumerate(_list(reader, "steps", required=True))
    )
    reader.done()
    for i in range(1, len(steps)):
        if steps[i].day < steps[i - 1].day:
            raise _refuse(
                f"{reader.at('steps')}[{i}].day",
                f"comes before the step above it (day {steps[i - 1].day}): steps are listed by day",
            )
    # One move a day: a placement and a recall (or two placements) due together would leave the
    # case wherever the order of taking them happened to put it.
    moves: dict[int, Step] = {}
    for i, step in enumerate(steps):
        if step.action not in PLACEMENTS:
            continue
        other = moves.setdefault(step.day, step)
        if other is not step:
            raise _refuse(
                f"{reader.at('steps')}[{i}].action",
                f"is a second move on day {step.day} ({other.name} is a {other.action} that "
                "day): at most one PLACE_WITH_AGENCY or RECALL step a day in a segment",
            )
    return Segment(name=name, when=when, clock=clock, steps=steps)


def _segments(reader: Reader, portfolios: frozenset[str] | None) -> tuple[Segment, ...]:
    """The segments in order (a case goes to the first whose condition it meets); segment
    names are unique, and so are step names across the whole strategy."""
    items = reader.items("segments")
    segments = tuple(
        _segment(Reader(item, f"{reader.at('segments')}[{i}]"), portfolios)
        for i, item in enumerate(items)
    )
    seen: set[str] = set()
    steps: set[str] = set()
    for i, segment in enumerate(segments):
        where = f"{reader.at('segments')}[{i}]"
        if segment.name in seen:
            raise _refuse(f"{where}.name", f"{segment.name} names two segments")
        seen.add(segment.name)
        for j, step in enumerate(segment.steps):
            if step.name in steps:
                raise _refuse(f"{where}.steps[{j}].name", f"{step.name} names two steps")
            steps.add(step.name)
    return segments


def strategy_from_payload(name: str, payload: object) -> Strategy:
    """Returns the strategy version a payload describes, or refuses it (CHANGE_INVALID naming
    the field). ``portfolios`` (empty or absent: every portfolio no other strategy names)."""
    reader = Reader(payload)
    version = version_label(reader)
    description = reader.text("description")
    portfolios = _portfolios(reader, "portfolios")
    segments = _segments(reader, portfolios)
    reader.done()
    return Strategy(
        name=name,
        version=version,
        description=description,
        portfolios=portfolios,
        segments=segments,
    )


def _share(reader: Reader) -> Decimal:
    value = reader.raw("share")
    where = reader.at("share")
    message = f'must be a share from 0 to 1 as text, at most {SHARE_PLACES} decimals (e.g. "0.2")'
    if not isinstance(value, str) or not SHARE.fullmatch(value):
        raise _refuse(where, message)
    try:
        share = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits decimals only
        raise _refuse(where, message) from None
    if not 0 <= share <= 1 or share != share.quantize(Decimal(1).scaleb(-SHARE_PLACES)):
        raise _refuse(where, message)
    return share


def challenger_from_payload(name: str, payload: object) -> Challenger:
    """Returns the challenger a payload describes, or refuses it (CHANGE_INVALID naming the
    field). ``segments``: the champion's segments whose cases it may take (empty: all)."""
    reader = Reader(payload)
    version = version_label(reader)
    share = _share(reader)
    challenged: list[str] = []
    for i, value in enumerate(_list(reader, "segments", required=True)):
        where = f"{reader.at('segments')}[{i}]"
        segment = _name(value, where)
        if segment in challenged:
            raise _refuse(where, f"lists {segment} twice")
        challenged.append(segment)
    body = Reader(reader.raw("definition"), reader.at("definition"))
    description = body.text("description")
    segments = _segments(body, None)
    body.done()
    reader.done()
    definition = Strategy(
        name=name,
        version=version,
        description=description,
        portfolios=frozenset(),
        segments=segments,
    )
    return Challenger(
        name=name,
        version=version,
        share=share,
        segments=frozenset(challenged),
        definition=definition,
    )


# ---- Writing ------------------------------------------------------------------------------------


def _ordered(values: frozenset[str], kind: type[E]) -> list[str]:
    return [m.value for m in kind if m.value in values]


def _condition_to_payload(when: SegmentCondition) -> dict[str, Any]:
    return {
        "classifications": _ordered(when.classifications, Classification),
        "stages": _ordered(when.stages, CaseStage),
        "portfolios": sorted(when.portfolios),
        "products": _ordered(when.products, ProductType),
        "balance": [
            {
                "currency": band.currency,
                "minimum": None if band.minimum is None else str(band.minimum),
                "maximum": None if band.maximum is None else str(band.maximum),
            }
            for band in when.balance
        ],
        "warningSeverity": when.warning_severity,
        "flagsAny": _ordered(when.flags_any, BorrowerFlagKind),
        "flagsNone": _ordered(when.flags_none, BorrowerFlagKind),
    }


def _step_to_payload(step: Step) -> dict[str, Any]:
    data: dict[str, Any] = {"name": step.name, "day": step.day, "action": step.action.value}
    if step.action not in PLACEMENTS:
        data["party"] = step.party.value
    if step.template is not None:
        data["template"] = step.template
    if step.placement is not None:
        data["placement"] = step.placement.value
        data["placementDays"] = step.placement_days
    if step.always:  # written only when true: a payload without it reads back the same
        data["always"] = True
    data["reason"] = step.reason
    return data


def _segments_to_payload(segments: tuple[Segment, ...]) -> list[dict[str, Any]]:
    return [
        {
            "name": segment.name,
            "when": _condition_to_payload(segment.when),
            "clock": segment.clock.value,
            "steps": [_step_to_payload(step) for step in segment.steps],
        }
        for segment in segments
    ]


def strategy_to_payload(strategy: Strategy) -> dict[str, Any]:
    """Returns a strategy version's payload (every key written, in canonical order)."""
    return {
        "version": strategy.version,
        "description": strategy.description,
        "portfolios": sorted(strategy.portfolios),
        "segments": _segments_to_payload(strategy.segments),
    }


def challenger_to_payload(challenger: Challenger) -> dict[str, Any]:
    """Returns a challenger's payload (every key written, in canonical order)."""
    return {
        "version": challenger.version,
        "share": str(challenger.share),
        "segments": sorted(challenger.segments),
        "definition": {
            "description": challenger.definition.description,
            "segments": _segments_to_payload(challenger.definition.segments),
        },
    }


def promoted_segments(challenger: Challenger, champion: Strategy) -> tuple[Segment, ...]:
    """The segments of the champion a promotion makes of a challenger. A challenger of every
    segment (``segments`` empty) replaces them all with its definition's; one of some segments
    replaces just those: its definition's segments, in their order, take the place of the first
    challenged segment, the challenged ones leave, and every other segment of the champion stays
    where it is (the cases the challenger never treated keep their treatment).

    Refused CHANGE_INVALID on ``strategy`` when the champion has none of the challenged segments
    (the challenger treated no case: there is nothing to promote), or when the result would name
    a segment, or a step, twice (the challenger's definition has a segment or step of the same
    name as one the champion keeps)."""
    if not challenger.segments:
        return challenger.definition.segments
    challenged = [s for s in champion.segments if s.name in challenger.segments]
    if not challenged:
        raise ChangeInvalid(
            f"the challenger {challenger.version} of {champion.name} challenges "
            f"{', '.join(sorted(challenger.segments))}, none of which is a segment of the "
            f"champion {champion.version}: it treated no case, there is nothing to promote",
            field="strategy",
        )
    merged: list[Segment] = []
    for segment in champion.segments:
        if segment is challenged[0]:
            merged.extend(challenger.definition.segments)
        elif segment.name not in challenger.segments:
            merged.append(segment)
    seen: dict[str, str] = {}  # a step's name → its segment's
    segments: set[str] = set()
    for segment in merged:
        if segment.name in segments:
            raise ChangeInvalid(
                f"promoting the challenger {challenger.version} would give {champion.name} two "
                f"segments named {segment.name} (the challenger's and one of the champion's it "
                "does not challenge): challenge that segment too, or rename it in a new "
                "challenger",
                field="strategy",
            )
        segments.add(segment.name)
        for step in segment.steps:
            if step.name in seen:
                raise ChangeInvalid(
                    f"promoting the challenger {challenger.version} would give {champion.name} "
                    f"two steps named {step.name} (in segments {seen[step.name]} and "
                    f"{segment.name}): step names are unique across a strategy",
                    field="strategy",
                )
            seen[step.name] = segment.name
    return tuple(merged)


def promotion_payload(challenger: Challenger, champion: Strategy, version: str) -> dict[str, Any]:
    """The payload of the new champion version a promotion proposes, labelled ``version``: the
    champion's portfolios and its segments with the challenged ones replaced by the challenger's
    definition (``promoted_segments``, which may refuse). Its description is the challenger's
    when the challenger took every segment, the champion's otherwise (the strategy stays the
    champion's, some segments changed: the change's reason says which)."""
    segments = promoted_segments(challenger, champion)
    whole = not challenger.segments
    return {
        "version": version,
        "description": challenger.definition.description if whole else champion.description,
        "portfolios": sorted(champion.portfolios),
        "segments": _segments_to_payload(segments),
    }


# ---- The default strategy -----------------------------------------------------------------------


def _message(
    name: str, day: int, action: StepAction, template: str, reason: str, always: bool = False
) -> Step:
    return Step(name=name, day=day, action=action, reason=reason, template=template, always=always)


def _task(
    name: str,
    day: int,
    action: StepAction,
    reason: str,
    party: ContactParty = ContactParty.BORROWER,
) -> Step:
    assert action in TASK_KINDS
    return Step(name=name, day=day, action=action, reason=reason, party=party)


def _classes(*names: Classification) -> frozenset[str]:
    return frozenset(n.value for n in names)


SMS, EMAIL, LETTER = StepAction.SMS, StepAction.EMAIL, StepAction.LETTER
CALL, LEGAL_REVIEW = StepAction.CALL_TASK, StepAction.LEGAL_REVIEW_TASK
SETTLEMENT = StepAction.SETTLEMENT_OFFER_TASK

# The manual's table (DOMAIN.md "Classification and buckets"), in the order segments are tried:
# legal work, written-off debts and special groups first (they change the strategy, manual 5.3),
# then by class.
STANDARD = Strategy(
    name="STANDARD",
    version="2026.1",
    description="The manual's strategy per classification: pre-due reminders for customers "
    "with warning signals, SMS and phone reminders when mild, intensive phone collection, "
    "letters and agency placement when moderate, legal review when serious, the guarantor and "
    "legal action when severe.",
    portfolios=frozenset(),
    segments=(
        Segment(
            "LEGAL",
            SegmentCondition(stages=frozenset({CaseStage.LEGAL.value})),
            StepClock.DAYS_IN_SEGMENT,
            (),  # legal work stays with the legal team: no automatic steps
        ),
        Segment(
            "WRITTEN_OFF",
            SegmentCondition(stages=frozenset({CaseStage.WRITTEN_OFF.value})),
            StepClock.DAYS_IN_SEGMENT,
            (),  # recovery after write-off is worked by people and agencies: no automatic steps
        ),
        Segment(
            "HARDSHIP",
            SegmentCondition(flags_any=frozenset({BorrowerFlagKind.HARDSHIP.value})),
            StepClock.DAYS_IN_SEGMENT,
            (
                _task(
                    "HARDSHIP_OFFER",
                    0,
                    SETTLEMENT,
                    "Hardship flag: offer a plan or settlement that fits the borrower's "
                    "situation instead of the standard reminders",
                ),
            ),
        ),
        Segment(
            "PRE_DUE",
            SegmentCondition(
                classifications=_classes(Classification.CURRENT),
                warning_severity=Severity.LOW.value,
            ),
            StepClock.DAYS_IN_SEGMENT,
            (
                _message(
                    "PRE_DUE_SMS",
                    0,
                    SMS,
                    "PRE_DUE_REMINDER",
                    "Not yet overdue but a warning signal is open: friendly pre-due reminder",
                ),
            ),
        ),
        Segment(
            "MILD_US",
            SegmentCondition(
                classifications=_classes(Classification.MILD), portfolios=frozenset({"us-cards"})
            ),
            StepClock.DPD,
            (
                _message(
                    "MILD_US_VALIDATION",
                    1,
                    LETTER,
                    "VALIDATION_NOTICE",
                    "1 day past due: Reg F validation notice by letter, before any other "
                    "collection message",
                    # Never overtaken: a case entering the segment at 5 days past due or later
                    # still gets the notice the law requires first.
                    always=True,
                ),
                _message(
                    "MILD_US_EMAIL",
                    5,
                    EMAIL,
                    "PAYMENT_REMINDER_EMAIL",
                    "5 days past due: payment reminder by e-mail",
                ),
                _task(
                    "MILD_US_CALL_1", 10, CALL, "10 days past due: call about the missed payment"
                ),
                _task(
                    "MILD_US_CALL_2",
                    20,
                    CALL,
                    "20 days past due: call to agree a promise to pay before 30 days",
                ),
            ),
        ),
        Segment(
            "MILD",
            SegmentCondition(classifications=_classes(Classification.MILD)),
            StepClock.DPD,
            (
                _message(
                    "MILD_SMS_1", 1, SMS, "PAYMENT_REMINDER", "1 day past due: first SMS reminder"
                ),
                _task("MILD_CALL_1", 3, CALL, "3 days past due: reminder call"),
                _message(
                    "MILD_SMS_2",
                    10,
                    SMS,
                    "PAYMENT_REMINDER",
                    "10 days past due: second SMS reminder",
                ),
                _task(
                    "MILD_CALL_2",
                    20,
                    CALL,
                    "20 days past due: call to agree a promise to pay before 30 days",
                ),
            ),
        ),
        Segment(
            "MODERATE",
            SegmentCondition(classifications=_classes(Classification.MODERATE)),
            StepClock.DPD,
            (
                _message(
                    "MODERATE_LETTER",
                    31,
                    LETTER,
                    "DEMAND_LETTER",
                    "31 days past due: demand letter",
                ),
                _task(
                    "MODERATE_CALL", 31, CALL, "31 days past due: intensive phone collection starts"
                ),
                Step(
                    name="MODERATE_PLACE",
                    day=45,
                    action=StepAction.PLACE_WITH_AGENCY,
                    reason="45 days past due: place with a partner agency, in rotation, "
                    "for 60 days",
                    placement=PlacementMethod.ROTATION,
                    placement_days=60,
                ),
            ),
        ),
        Segment(
            "SERIOUS",
            SegmentCondition(classifications=_classes(Classification.SERIOUS)),
            StepClock.DPD,
            (
                Step(
                    name="SERIOUS_RECALL",
                    day=91,
                    action=StepAction.RECALL,
                    reason="91 days past due: recall from the agency for legal review",
                ),
                _task(
                    "SERIOUS_LEGAL_REVIEW",
                    91,
                    LEGAL_REVIEW,
                    "91 days past due: review the case for legal action (the referral's "
                    "conditions)",
                ),
                _message(
                    "SERIOUS_LETTER",
                    91,
                    LETTER,
                    "DEMAND_LETTER",
                    "91 days past due: formal demand letter before legal action",
                ),
                _task(
                    "SERIOUS_SETTLEMENT",
                    120,
                    SETTLEMENT,
                    "120 days past due: consider a settlement offer",
                ),
            ),
        ),
        Segment(
            "SEVERE",
            SegmentCondition(classifications=_classes(Classification.SEVERE)),
            StepClock.DPD,
            (
                _task(
                    "SEVERE_GUARANTOR_CALL",
                    181,
                    CALL,
                    "181 days past due: call the guarantor",
                    ContactParty.GUARANTOR,
                ),
                _task(
                    "SEVERE_LEGAL_REVIEW",
                    181,
                    LEGAL_REVIEW,
                    "181 days past due: review for legal action or write-off",
                ),
                _task(
                    "SEVERE_SETTLEMENT",
                    210,
                    SETTLEMENT,
                    "210 days past due: final settlement offer before write-off",
                ),
            ),
        ),
    ),
)

DEFAULT_STRATEGIES: Mapping[str, Strategy] = MappingProxyType({STANDARD.name: STANDARD})
DEFAULT_CHALLENGERS: Mapping[str, Challenger] = MappingProxyType({})
