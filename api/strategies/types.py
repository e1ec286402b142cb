"""GraphQL types of strategies: Strategy (one version of a strategy or of its challenger), its
segments, their conditions and steps, and the enums of a step."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from api.cases.types import CaseStage, Classification, ProductType
from api.common.ids import to_global_id
from api.flags.types import BorrowerFlagKind
from api.warnings.types import Severity
from domain.contacts.model import ContactParty
from domain.strategies.model import (
    BalanceBand,
    PlacementMethod,
    Segment,
    SegmentCondition,
    Step,
    StepAction,
    StepClock,
    Variant,
)
from store.strategy_queries import StrategyVersion

# Named after their type and field (CONTRACT.md: `Strategy.kind: StrategyKind`).
strawberry.enum(
    Variant,
    name="StrategyKind",
    description="Whether a strategy version is a CHAMPION (a version of the strategy itself) "
    "or a CHALLENGER (run against the champion on a share of the cases of some of its "
    "segments). A case's `treatment.variant` names the same values.",
)
strawberry.enum(
    StepClock,
    name="StrategySegmentClock",
    description="What a segment's step days count: DPD (the case's days past due) or "
    "DAYS_IN_SEGMENT (days since the case entered the segment; day 0 is that day).",
)
strawberry.enum(
    StepAction,
    name="StrategyStepAction",
    description="What a step does: SMS, EMAIL, LETTER (queue a notice from its template); "
    "CALL_TASK, LEGAL_REVIEW_TASK, SETTLEMENT_OFFER_TASK (a task for the people responsible "
    "for the case); PLACE_WITH_AGENCY, RECALL (move the case like placeWithAgency and "
    "recallCase).",
)
strawberry.enum(
    PlacementMethod,
    name="StrategyStepPlacement",
    description="How a placement step chooses the agency: ROTATION (in turn among the active "
    "agencies) or PERFORMANCE (the one that recovered most of what was placed with it lately).",
)


@strawberry.type(
    name="StrategyBalanceBand",
    description="Outstanding balance in a currency from `minimum` (inclusive) to `maximum` "
    "(exclusive); a null end is open.",
)
class StrategyBalanceBand:
    currency: str = strawberry.field(
        description="The band's currency (ISO 4217); a case in another currency is outside it."
    )
    minimum: Decimal | None = strawberry.field(
        description="The lowest outstanding balance in the band (inclusive); null: no lower end."
    )
    maximum: Decimal | None = strawberry.field(
        description="The balance the band stops below (exclusive); null: no upper end."
    )

    @classmethod
    def from_domain(cls, band: BalanceBand) -> StrategyBalanceBand:
        return cls(currency=band.currency, minimum=band.minimum, maximum=band.maximum)


@strawberry.type(
    name="StrategySegmentCondition",
    description="Which cases a segment takes: every stated condition holds (an empty list, or "
    "null: any).",
)
class StrategySegmentCondition:
    classifications: list[Classification] = strawberry.field(
        description="The case's classification is one of these."
    )
    stages: list[CaseStage] = strawberry.field(description="The case's stage is one of these.")
    portfolios: list[str] = strawberry.field(
        description="The case's portfolio is one of these (among the strategy's own)."
    )
    products: list[ProductType] = strawberry.field(
        description="Any debt of the case is of one of these products."
    )
    balance: list[StrategyBalanceBand] = strawberry.field(
        description="The case's outstanding balance lies in any of these bands (a case in "
        "another currency matches none)."
    )
    warning_severity: Severity | None = strawberry.field(
        description="An open (raised or acknowledged) warning of at least this severity."
    )
    flags_any: list[BorrowerFlagKind] = strawberry.field(
        description="The borrower has one of these active flags."
    )
    flags_none: list[BorrowerFlagKind] = strawberry.field(
        description="The borrower has none of these active flags."
    )

    @classmethod
    def from_domain(cls, when: SegmentCondition) -> StrategySegmentCondition:
        return cls(
            classifications=[c for c in Classification if c.value in when.classifications],
            stages=[s for s in CaseStage if s.value in when.stages],
            portfolios=sorted(when.portfolios),
            products=[p for p in ProductType if p.value in when.products],
            balance=[StrategyBalanceBand.from_domain(b) for b in when.balance],
            warning_severity=Severity(when.warning_severity) if when.warning_severity else None,
            flags_any=[f for f in BorrowerFlagKind if f.value in when.flags_any],
            flags_none=[f for f in BorrowerFlagKind if f.value in when.flags_none],
        )


@strawberry.type(
    name="StrategyStep",
    description="One step of a segment's timeline, due when the segment's clock reaches `day`.",
)
class StrategyStep:
    name: str = strawberry.field(
        description="The step's name, unique within the strategy (a treatment records it)."
    )
    day: int = strawberry.field(
        description="When it falls due: the value of the segment's clock (days past due, or "
        "days in the segment) from which it is taken."
    )
    action: StepAction = strawberry.field(description="What the step does.")
    party: ContactParty = strawberry.field(
        description="Whom a message is addressed to, or whom a task is about."
    )
    template: str | None = strawberry.field(
        description="The notice template of a message step (SMS, EMAIL, LETTER)."
    )
    placement: PlacementMethod | None = strawberry.field(
        description="How a PLACE_WITH_AGENCY step chooses the agency."
    )
    placement_days: int | None = strawberry.field(
        description="The period of a PLACE_WITH_AGENCY step's placement, in days."
    )
    reason: str = strawberry.field(
        description="Why, in words: what the person who gets the task (and the timeline) reads."
    )
    always: bool = strawberry.field(
        description="Never skipped as overtaken: taken even when the case enters the segment "
        "with a later step due too (a notice the law requires first, like Reg F's validation "
        "notice). Otherwise only the latest steps due are taken, the earlier ones SKIPPED."
    )

    @classmethod
    def from_domain(cls, step: Step) -> StrategyStep:
        return cls(
            name=step.name,
            day=step.day,
            action=step.action,
            party=step.party,
            template=step.template,
            placement=step.placement,
            placement_days=step.placement_days,
            reason=step.reason,
            always=step.always,
        )


@strawberry.type(
    name="StrategySegment",
    description="A segment of a strategy: the cases it takes (the first segment whose "
    "condition a case meets, in order) and its timeline of steps.",
)
class StrategySegment:
    name: str = strawberry.field(
        description="The segment's name, unique within the strategy (a treatment records it)."
    )
    when: StrategySegmentCondition = strawberry.field(
        description="The cases it takes (those the segments before it did not)."
    )
    clock: StepClock = strawberry.field(description="What its steps' days count.")
    steps: list[StrategyStep] = strawberry.field(description="By day; none: no automatic steps.")

    @classmethod
    def from_domain(cls, segment: Segment) -> StrategySegment:
        return cls(
            name=segment.name,
            when=StrategySegmentCondition.from_domain(segment.when),
            clock=segment.clock,
            steps=[StrategyStep.from_domain(step) for step in segment.steps],
        )


@strawberry.type(
    name="Strategy",
    description="One version of a treatment strategy (kind CHAMPION) or of the challenger "
    "running against it (kind CHALLENGER): the checked-in default, an approved version or a "
    "pending proposal. Strategies and challengers are rule sets (kinds STRATEGY and "
    "STRATEGY_CHALLENGER) changed through proposeRuleChange and approveRuleChange.",
)
class StrategyType:
    name: str = strawberry.field(description="The strategy's name (e.g. STANDARD).")
    version: str = strawberry.field(description="The version's label (e.g. 2026.1).")
    status: str = strawberry.field(
        description="DRAFT (a proposal pending approval), APPROVED (approved, its start to "
        "come), ACTIVE (treating cases now: the champion in effect, or a running challenger), "
        "RETIRED (superseded, overtaken before it started, a challenger not running — share 0, "
        "a newer champion started after it, no champion — or a version this release can no "
        "longer read: readError)."
    )
    variants: list[str] = strawberry.field(
        description="The variant this version treats cases as now: [CHAMPION] for the "
        "champion in effect, [CHALLENGER] for a running challenger, empty for a version that "
        "treats no case (each variant of a strategy is one ACTIVE version: the champion in "
        "effect lists only CHAMPION even while a challenger runs against it)."
    )
    kind: Variant = strawberry.field(description="Whether this is a champion or a challenger.")
    description: str = strawberry.field(
        description="What the version does, in words (a challenger's: what it tries)."
    )
    portfolios: list[str] | None = strawberry.field(
        description="A champion's portfolios (empty: every portfolio no other strategy names); "
        "null for a challenger, which treats its champion's cases."
    )
    share: Decimal | None = strawberry.field(
        description="A challenger's share (0 to 1) of the cases of its segments; null for a "
        "champion."
    )
    challenged_segments: list[str] | None = strawberry.field(
        description="The champion's segments whose cases a challenger may take (empty: every "
        "segment; a name the champion lacks matches nothing); null for a champion. A "
        "challenger runs only while its share is above 0, its strategy has a champion and its "
        "start is later than that champion's: one of a strategy without a champion, or "
        "starting with or before the champion, is RETIRED and treats no case (approval cannot "
        "refuse it: the champion it will meet is not known then)."
    )
    segments: list[StrategySegment] = strawberry.field(
        description="The version's segments, in the order they are tried (a challenger's own)."
    )
    effective_from: datetime | None = strawberry.field(
        description="When it takes (or took) effect: an approved version's start, a proposal's "
        "stated start; null for the checked-in default."
    )
    rule_set_version: int | None = strawberry.field(
        description="The approved version's number within its rule set (null for the "
        "checked-in default and for a proposal)."
    )
    change_id: strawberry.ID | None = strawberry.field(
        description="The RuleChange that proposed it: the one to approve or reject while DRAFT, "
        "the approved one otherwise (null for the checked-in default)."
    )
    read_error: str | None = strawberry.field(
        description="Why this release cannot read the stored version (null when it can): a "
        "version stored by an earlier release that no longer passes the checks (e.g. an "
        "action since removed). It treats no case — the daily run uses the strategy's previous "
        "readable version, else the checked-in default — and is listed RETIRED (DRAFT while "
        "proposed: its approval is refused) with no segments."
    )

    @classmethod
    def from_row(cls, row: StrategyVersion) -> StrategyType:
        challenger = row.challenger
        change = to_global_id("RuleChange", row.change_id) if row.change_id else None
        return cls(
            name=row.name,
            version=row.label,
            status=row.status.value,
            variants=[v.value for v in row.variants],
            kind=row.kind,
            description=row.definition.description,
            portfolios=None
            if row.kind is Variant.CHALLENGER
            else sorted(row.definition.portfolios),
            share=challenger.share if challenger else None,
            challenged_segments=sorted(challenger.segments) if challenger else None,
            segments=[StrategySegment.from_domain(s) for s in row.definition.segments],
            effective_from=row.effective_from,
            rule_set_version=row.number,
            change_id=strawberry.ID(change) if change else None,
            read_error=row.read_error,
        )
