"""A treatment strategy as data (manual 4.2, 5.2, 5.4): segments of cases, each with a timeline
of steps keyed by days past due or days in the segment; and a challenger that runs another
definition on a reproducible share of some segments' cases.

A strategy version is a rule set (``RuleSetKind.STRATEGY``, named by the strategy) authored and
approved through maker–checker, in effect from its start; a challenger is another
(``RuleSetKind.STRATEGY_CHALLENGER``, same name). ``domain.strategies.definition`` reads and
writes their payloads and holds the default strategy (the manual's table in DOMAIN.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.contacts.model import ContactChannel, ContactParty


class Variant(enum.StrEnum):
    """Which definition treats a case: the strategy's champion, or its challenger."""

    CHAMPION = "CHAMPION"
    CHALLENGER = "CHALLENGER"


class StepClock(enum.StrEnum):
    """What a segment's step days count: the case's days past due, or the days since the case
    entered the segment (day 0: the day it entered)."""

    DPD = "DPD"
    DAYS_IN_SEGMENT = "DAYS_IN_SEGMENT"


class StepAction(enum.StrEnum):
    """What a step does. Messages queue a notice from a template; tasks go to the people
    responsible for the case (the debt-handling operations stay with them); placement and
    recall move the case through the life cycle like ``placeWithAgency`` / ``recallCase``."""

    SMS = "SMS"
    EMAIL = "EMAIL"
    LETTER = "LETTER"
    CALL_TASK = "CALL_TASK"
    PLACE_WITH_AGENCY = "PLACE_WITH_AGENCY"
    RECALL = "RECALL"
    LEGAL_REVIEW_TASK = "LEGAL_REVIEW_TASK"
    SETTLEMENT_OFFER_TASK = "SETTLEMENT_OFFER_TASK"


class TaskKind(enum.StrEnum):
    CALL = "CALL"
    LEGAL_REVIEW = "LEGAL_REVIEW"
    SETTLEMENT_OFFER = "SETTLEMENT_OFFER"


class TaskStatus(enum.StrEnum):
    OPEN = "OPEN"
    DONE = "DONE"
    CANCELLED = "CANCELLED"  # the case closed, or left the segment whose step made it


# The channel of each message step, and the task of each task step.
MESSAGE_CHANNELS: dict[StepAction, ContactChannel] = {
    StepAction.SMS: ContactChannel.SMS,
    StepAction.EMAIL: ContactChannel.EMAIL,
    StepAction.LETTER: ContactChannel.LETTER,
}
TASK_KINDS: dict[StepAction, TaskKind] = {
    StepAction.CALL_TASK: TaskKind.CALL,
    StepAction.LEGAL_REVIEW_TASK: TaskKind.LEGAL_REVIEW,
    StepAction.SETTLEMENT_OFFER_TASK: TaskKind.SETTLEMENT_OFFER,
}


class PlacementMethod(enum.StrEnum):
    """How a placement step chooses the agency: in turn among the active agencies, or the one
    that recovered the most of what was placed with it lately."""

    ROTATION = "ROTATION"
    PERFORMANCE = "PERFORMANCE"


class ActionStatus(enum.StrEnum):
    """What became of a step the daily run took on a case."""

    DONE = "DONE"  # the notice queued, the task created, the case placed or recalled
    SUPPRESSED = "SUPPRESSED"  # a protection or conduct rule (named) stopped it
    REFUSED = "REFUSED"  # the life cycle does not allow it now (e.g. placement in LEGAL)
    SKIPPED = "SKIPPED"  # overtaken: a later step of the segment fell due the same day


@dataclass(frozen=True)
class BalanceBand:
    """Outstanding balance in ``currency`` from ``minimum`` (inclusive) to ``maximum``
    (exclusive); either end open (None)."""

    currency: str
    minimum: Decimal | None = None
    maximum: Decimal | None = None


@dataclass(frozen=True)
class SegmentCondition:
    """Which cases a segment takes: every stated condition holds (an empty set: any).
    ``balance``: any of the bands (a case in another currency matches none);
    ``warning_severity``: an open (raised or acknowledged) warning of at least that severity;
    ``flags_any`` / ``flags_none``: the borrower has one of / none of these active flags."""

    classifications: frozenset[str] = frozenset()
    stages: frozenset[str] = frozenset()
    portfolios: frozenset[str] = frozenset()
    products: frozenset[str] = frozenset()
    balance: tuple[BalanceBand, ...] = ()
    warning_severity: str | None = None
    flags_any: frozenset[str] = frozenset()
    flags_none: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Step:
    """One step of a segment's timeline, due when the segment's clock reaches ``day``.
    ``template`` names the notice template of a message step; ``placement`` and
    ``placement_days`` the choice and period of a placement step; ``reason`` is what the person
    who gets a task (and the timeline) reads; ``always``: never skipped as overtaken."""

    name: str
    day: int
    action: StepAction
    reason: str
    party: ContactParty = ContactParty.BORROWER
    template: str | None = None
    placement: PlacementMethod | None = None
    placement_days: int | None = None
    # Never overtaken: taken even when a later step of the segment is due the same day (a notice
    # the law requires before others, e.g. Reg F's validation notice).
    always: bool = False


@dataclass(frozen=True)
class Segment:
    name: str
    when: SegmentCondition
    clock: StepClock
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Strategy:
    """A strategy version: the cases of ``portfolios`` (empty: every portfolio no other
    strategy names) go to the first segment whose condition they meet, in order."""

    name: str
    version: str  # the version's label (``2026.1``), unique within the strategy
    description: str
    portfolios: frozenset[str]
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Challenger:
    """A challenger of strategy ``name``: ``definition`` treats the cases of the champion's
    ``segments`` (empty: all) whose stable hash falls in ``share`` (0 to 1; 0 ends it)."""

    name: str
    version: str
    share: Decimal
    segments: frozenset[str]
    definition: Strategy


@dataclass(frozen=True)
class InEffect:
    """A strategy as it treats cases at an instant: its champion version, the start of that
    version (None: the checked-in default), and the challenger running against it (None: none;
    a challenger runs only while its start is later than the champion's and its share is above
    zero)."""

    champion: Strategy
    champion_from: datetime | None = None
    challenger: Challenger | None = None
