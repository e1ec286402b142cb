"""What a report holds: ratios with their numerator, denominator and goal, grouped by a key and
always by currency (never a sum of CNY and USD)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from domain.errors import ErrorCode, InvalidInput
from domain.money import Money

# Every rate is shown to the fourth decimal (0.0523 = 5.23%), rounded half to even.
RATE_PLACES = Decimal("0.0001")

# The longest period a report covers (a year and a day: a leap year's January to January).
MAX_PERIOD_DAYS = 367


class Grouping(enum.StrEnum):
    """What a portfolio report's groups are keyed by (always also by currency)."""

    PORTFOLIO = "PORTFOLIO"
    PRODUCT = "PRODUCT"
    CLASSIFICATION = "CLASSIFICATION"
    TEAM = "TEAM"
    AGENCY = "AGENCY"
    VARIANT = "VARIANT"


class ScorecardLevel(enum.StrEnum):
    COLLECTOR = "COLLECTOR"
    TEAM = "TEAM"
    AGENCY = "AGENCY"


class ReportPeriodInvalid(InvalidInput):
    code = ErrorCode.REPORT_PERIOD_INVALID


@dataclass(frozen=True, slots=True)
class Period:
    """The calendar dates a report covers, both included, in each portfolio's own time zone."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ReportPeriodInvalid("to is before from", field="to")
        if self.days > MAX_PERIOD_DAYS:
            raise ReportPeriodInvalid(f"a report covers at most {MAX_PERIOD_DAYS} days", field="to")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def opening(self) -> date:
        """The day before the period: the state it opens with is that day's close."""
        return self.start - timedelta(days=1)


class GoalDirection(enum.StrEnum):
    BELOW = "BELOW"  # met when the value is under the goal (overdue rate under 5%)
    ABOVE = "ABOVE"  # met when the value is over the goal (most collection within 30 days)


@dataclass(frozen=True, slots=True)
class Goal:
    target: Decimal
    direction: GoalDirection

    def met_by(self, value: Decimal) -> bool:
        if self.direction is GoalDirection.BELOW:
            return value < self.target
        return value > self.target


@dataclass(frozen=True, slots=True)
class Ratio:
    """A rate with what it is made of, so that a client can re-aggregate: ``value`` =
    ``numerator`` × ``scale`` / ``denominator`` to four decimals (0 with a zero denominator, and
    then no verdict on the goal). ``scale`` is 1 for a rate, 1000 for a figure per 1,000."""

    numerator: Decimal
    denominator: Decimal
    goal: Goal | None = None
    scale: int = 1

    @property
    def value(self) -> Decimal:
        if not self.denominator:
            return Decimal(0).quantize(RATE_PLACES)
        exact = Decimal(self.numerator) * self.scale / Decimal(self.denominator)
        return exact.quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN)

    @property
    def meets_goal(self) -> bool | None:
        if self.goal is None or not self.denominator:
            return None
        return self.goal.met_by(self.value)


@dataclass(frozen=True, slots=True)
class AgingBucket:
    bucket: str
    cases: int
    outstanding: Money


@dataclass(frozen=True, slots=True)
class ThresholdRatio:
    min_days_past_due: int
    ratio: Ratio


@dataclass(frozen=True, slots=True)
class RollRate:
    """Debts in ``from_bucket`` at the start of a month and where they were at its end (a bucket,
    or CURED, PAID, WRITTEN_OFF), by count and by their balance at the start."""

    from_bucket: str
    to_bucket: str
    by_count: Ratio
    by_balance: Ratio


@dataclass(frozen=True, slots=True)
class CountBucket:
    label: str
    cases: int


@dataclass(frozen=True, slots=True)
class ReportGroup:
    """The figures of one group (``key`` None in totals, or where a case has no team, agency or
    variant) in one currency."""

    key: str | None
    currency: str
    recovered: Money
    aging: list[AgingBucket]
    overdue_rates: list[ThresholdRatio]
    cure_rate: Ratio
    recovery_rate: Ratio
    resolved_within_30_days: Ratio
    loss_rate: Ratio
    cost_of_collection: Ratio
    annualised_cost_vs_loan_book: Ratio | None
    days_to_recovery: list[CountBucket]
    promise_kept_rate: Ratio
    complaints_per_1000: Ratio
    roll_rates: list[RollRate]


@dataclass(frozen=True, slots=True)
class PortfolioReport:
    period: Period
    grouping: Grouping | None
    groups: list[ReportGroup]
    totals: list[ReportGroup]


@dataclass(frozen=True, slots=True)
class CommissionStatement:
    """What an agency earned in the period: the commission rate of its contract on what was
    collected on its placed cases, and on payments within the contract's tail period after a
    recall."""

    rate: Decimal
    tail_days: int
    collected: Money
    tail_collected: Money
    commission: Money
    payments: int


@dataclass(frozen=True, slots=True)
class Scorecard:
    key: str
    currency: str
    recovered: Money
    recovery_rate: Ratio
    cases_cured: int
    cases_closed: int
    contacts: int
    right_party_contact_rate: Ratio
    promises_made: int
    promise_kept_rate: Ratio
    complaints: int
    refused_attempts: int
    breaches: int
    average_days_to_recovery: Decimal | None
    commission: CommissionStatement | None = None


@dataclass(frozen=True, slots=True)
class VariantComparison:
    """A metric for the champion and the challenger, their difference (challenger − champion)
    and its 95% confidence interval."""

    metric: str
    champion: Decimal
    challenger: Decimal
    difference: Decimal
    confidence_low: Decimal
    confidence_high: Decimal
    champion_cases: int = 0
    challenger_cases: int = 0
