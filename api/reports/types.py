"""GraphQL types of reports: the portfolio report and its groups, a rate with what it is made of
(Ratio), scorecards with an agency's commission statement, and the champion/challenger
comparison. Plain attributes, no resolvers: a report is a read model computed whole by the
store."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import strawberry

from api.common.types import Money
from domain.reports import model

strawberry.enum(
    model.Grouping,
    name="ReportGrouping",
    description="What a portfolio report's groups are keyed by (always also by currency): "
    "PORTFOLIO; PRODUCT (the debt's product type); CLASSIFICATION (the debt's classification); "
    "TEAM (the team of the case's collector); AGENCY (the name of the agency the case was "
    "placed with); VARIANT (`strategy/variant` of the case's treatment, e.g. "
    "STANDARD/CHALLENGER). Each figure takes the key of the day it is about (the case as that "
    "day's daily run left it), never today's.",
)
strawberry.enum(
    model.ScorecardLevel,
    name="ScorecardLevel",
    description="Whose scorecards: COLLECTOR (per staff login, agency agents included), TEAM "
    "(per team of internal collectors), AGENCY (per agency name, with its commission "
    "statement).",
)


@strawberry.type(
    name="Ratio",
    description="A rate with what it is made of, so that a client can re-aggregate: `value` = "
    "`numerator` / `denominator` (× 1,000 for a figure per 1,000) to four decimals, rounded "
    "half to even (0.0523 is 5.23%); 0 when the denominator is 0. `goal` is the manual's "
    "target for the figures that have one (ARREARS_GOAL_* settings), `meetsGoal` whether the "
    "value meets it (null without a goal, or with a denominator of 0).",
)
class Ratio:
    value: Decimal = strawberry.field(description="numerator / denominator, four decimals.")
    numerator: Decimal = strawberry.field(
        description="What is counted: an amount (two decimals) or a number of cases, debts, "
        "promises or complaints."
    )
    denominator: Decimal = strawberry.field(description="What it is counted against.")
    goal: Decimal | None = strawberry.field(
        description="The target: below it for the overdue rate, the loss rate and the cost "
        "against the loan book; above it for the share resolved within 30 days. Null: none."
    )
    meets_goal: bool | None = strawberry.field(
        description="Whether `value` is on the right side of `goal` (null: no goal, or no "
        "denominator)."
    )

    @classmethod
    def from_domain(cls, ratio: model.Ratio) -> Ratio:
        return cls(
            value=ratio.value,
            numerator=ratio.numerator,
            denominator=ratio.denominator,
            goal=ratio.goal.target if ratio.goal else None,
            meets_goal=ratio.meets_goal,
        )


def _ratio(ratio: model.Ratio | None) -> Ratio | None:
    return Ratio.from_domain(ratio) if ratio is not None else None


@strawberry.type(
    name="AgingBucket",
    description="The cases of a group in collection at the end of the period in one bucket "
    "(each case in the bucket of its most overdue debt) and what they owed then.",
)
class AgingBucket:
    bucket: str = strawberry.field(description="M0 … M7 (M1: 1–30 days past due, …).")
    cases: int = strawberry.field(description="How many cases.")
    outstanding: Money = strawberry.field(description="Their balance at the period's end.")

    @classmethod
    def from_domain(cls, bucket: model.AgingBucket) -> AgingBucket:
        return cls(
            bucket=bucket.bucket,
            cases=bucket.cases,
            outstanding=Money.from_domain(bucket.outstanding),
        )


@strawberry.type(
    name="ThresholdRatio",
    description="The principal of loans at least `minDaysPastDue` days past due at the end of "
    "the period over the loan book's principal.",
)
class ThresholdRatio:
    min_days_past_due: int = strawberry.field(description="1, 30 or 90.")
    ratio: Ratio

    @classmethod
    def from_domain(cls, threshold: model.ThresholdRatio) -> ThresholdRatio:
        return cls(
            min_days_past_due=threshold.min_days_past_due, ratio=Ratio.from_domain(threshold.ratio)
        )


@strawberry.type(
    name="RollRate",
    description="Of the debts in `fromBucket` at the start of a month, the share that were in "
    "`toBucket` at its end (a bucket, or CURED, PAID, WRITTEN_OFF), by count and by their "
    "balance at the start; the months of the period pooled.",
)
class RollRate:
    from_bucket: str
    to_bucket: str
    by_count: Ratio
    by_balance: Ratio

    @classmethod
    def from_domain(cls, roll: model.RollRate) -> RollRate:
        return cls(
            from_bucket=roll.from_bucket,
            to_bucket=roll.to_bucket,
            by_count=Ratio.from_domain(roll.by_count),
            by_balance=Ratio.from_domain(roll.by_balance),
        )


@strawberry.type(
    name="CountBucket",
    description="How many recoveries took a number of days in a range (`label`, e.g. 31-60).",
)
class CountBucket:
    label: str
    cases: int

    @classmethod
    def from_domain(cls, bucket: model.CountBucket) -> CountBucket:
        return cls(label=bucket.label, cases=bucket.cases)


@strawberry.type(
    name="ReportGroup",
    description='Every figure of one group in one currency (see the API guide, "Reports and '
    'KPIs", for what each counts).',
)
class ReportGroup:
    key: str | None = strawberry.field(
        description="The group's key (null in totals, and for cases with no team, agency or "
        "strategy that day)."
    )
    currency: str = strawberry.field(description="Every amount of the group is in it.")
    aging: list[AgingBucket] = strawberry.field(
        description="Cases in collection at the period's end (status not CLOSED, stage not "
        "WRITTEN_OFF) by bucket; buckets without cases left out."
    )
    overdue_rates: list[ThresholdRatio] = strawberry.field(
        description="Overdue principal at DPD ≥ 1, 30 and 90 over the loan book's principal "
        "(DPD ≥ 1 with the overdue-rate goal); empty where no loan book applies: by "
        "classification, team, agency or variant, and in a report of fewer cases than the "
        "whole book."
    )
    cure_rate: Ratio = strawberry.field(
        description="Delinquent debts at a month's start that were current or paid at its end."
    )
    recovery_rate: Ratio = strawberry.field(
        description="Recovered over the balance of the debts delinquent at the period's start."
    )
    resolved_within_30_days: Ratio = strawberry.field(
        description="Delinquent spells of 30 days or more that ended within 30 days of going "
        "overdue."
    )
    loss_rate: Ratio = strawberry.field(
        description="Written off net of recoveries over the balance of the delinquent debts."
    )
    cost_of_collection: Ratio = strawberry.field(
        description="Agency commission (plus the feed's cost records, in totals and by "
        "portfolio) over the amount collected."
    )
    annualised_cost_vs_loan_book: Ratio | None = strawberry.field(
        description="The cost annualised over the loan book's principal (the manual's 1% "
        "goal); null where no loan book applies."
    )
    days_to_recovery: list[CountBucket] = strawberry.field(
        description="Recoveries in the period by the days they took: 0-30, 31-60, 61-90, "
        "91-180, 181+."
    )
    promise_kept_rate: Ratio = strawberry.field(
        description="Promises resolved in the period that were kept in full."
    )
    complaints_per_1000: Ratio = strawberry.field(
        description="Complaints filed in the period per 1,000 cases in collection."
    )
    roll_rates: list[RollRate] = strawberry.field(
        description="Bucket to bucket, by fromBucket then toBucket."
    )
    recovered: Money = strawberry.field(
        description="Payments received in the period and not reversed by its end."
    )

    @classmethod
    def from_domain(cls, group: model.ReportGroup) -> ReportGroup:
        return cls(
            key=group.key,
            currency=group.currency,
            aging=[AgingBucket.from_domain(b) for b in group.aging],
            overdue_rates=[ThresholdRatio.from_domain(t) for t in group.overdue_rates],
            cure_rate=Ratio.from_domain(group.cure_rate),
            recovery_rate=Ratio.from_domain(group.recovery_rate),
            resolved_within_30_days=Ratio.from_domain(group.resolved_within_30_days),
            loss_rate=Ratio.from_domain(group.loss_rate),
            cost_of_collection=Ratio.from_domain(group.cost_of_collection),
            annualised_cost_vs_loan_book=_ratio(group.annualised_cost_vs_loan_book),
            days_to_recovery=[CountBucket.from_domain(b) for b in group.days_to_recovery],
            promise_kept_rate=Ratio.from_domain(group.promise_kept_rate),
            complaints_per_1000=Ratio.from_domain(group.complaints_per_1000),
            roll_rates=[RollRate.from_domain(r) for r in group.roll_rates],
            recovered=Money.from_domain(group.recovered),
        )


@strawberry.type(
    name="PortfolioReport",
    description="The portfolio's health over a period (dates included, each portfolio's own "
    "calendar), counting only the cases you may see: `groups` per key and currency, `totals` "
    "one per currency (never a sum of two currencies).",
)
class PortfolioReport:
    from_: date = strawberry.field(name="from", description="The period's first day.")
    to: date = strawberry.field(description="The period's last day.")
    groups: list[ReportGroup] = strawberry.field(
        description="By key (null last) then currency; empty without `groupBy`."
    )
    totals: list[ReportGroup] = strawberry.field(description="One per currency, key null.")

    @classmethod
    def from_domain(cls, report: model.PortfolioReport) -> PortfolioReport:
        return cls(
            from_=report.period.start,
            to=report.period.end,
            groups=[ReportGroup.from_domain(g) for g in report.groups],
            totals=[ReportGroup.from_domain(g) for g in report.totals],
        )


@strawberry.type(
    name="CommissionStatement",
    description="What an agency earned in the period: its contract's rate on what was "
    "collected on the cases placed with it, and on payments within the contract's tail "
    "period after a recall.",
)
class CommissionStatement:
    rate: Decimal = strawberry.field(description="The contract's commission rate (0.15: 15%).")
    tail_days: int = strawberry.field(
        description="Days after a recall in which the agency still earns on payments."
    )
    collected: Money = strawberry.field(description="Paid while the cases were placed with it.")
    tail_collected: Money = strawberry.field(description="Paid within the tail after a recall.")
    commission: Money = strawberry.field(
        description="(collected + tailCollected) × rate, rounded half to even to the currency's "
        "minor unit."
    )
    payments: int = strawberry.field(description="How many payments it earns on.")

    @classmethod
    def from_domain(cls, statement: model.CommissionStatement) -> CommissionStatement:
        return cls(
            rate=statement.rate,
            tail_days=statement.tail_days,
            collected=Money.from_domain(statement.collected),
            tail_collected=Money.from_domain(statement.tail_collected),
            commission=Money.from_domain(statement.commission),
            payments=statement.payments,
        )


@strawberry.type(
    name="Scorecard",
    description="One collector's, team's or agency's work in the period, in one currency "
    '(see the API guide, "Reports and KPIs").',
)
class Scorecard:
    key: str = strawberry.field(description="The staff login, team or agency name.")
    currency: str
    recovered: Money = strawberry.field(
        description="Payments counted in the period on the cases it owned that day."
    )
    recovery_rate: Ratio = strawberry.field(
        description="Recovered over the balance of the delinquent debts it owned at the "
        "period's start."
    )
    cases_cured: int = strawberry.field(
        description="Its cases that returned to current (M0) in the period."
    )
    cases_closed: int = strawberry.field(
        description="Cases it owned in collection at the period's start that were closed at "
        "its end."
    )
    contacts: int = strawberry.field(description="Contacts it made (refused attempts not).")
    right_party_contact_rate: Ratio = strawberry.field(
        description="Of its contacts with an outcome, those that reached the right party."
    )
    promises_made: int = strawberry.field(description="Promises to pay it took.")
    promise_kept_rate: Ratio = strawberry.field(
        description="Of its promises resolved in the period, those kept in full."
    )
    complaints: int = strawberry.field(description="Complaints filed on its cases.")
    refused_attempts: int = strawberry.field(
        description="Its contact attempts a conduct rule refused."
    )
    breaches: int = strawberry.field(description="Its contacts that broke a conduct rule.")
    average_days_to_recovery: Decimal | None = strawberry.field(
        description="The mean days its cases' recoveries took, one decimal (null: none)."
    )
    commission: CommissionStatement | None = strawberry.field(
        description="An agency's commission statement (AGENCY level; null otherwise)."
    )

    @classmethod
    def from_domain(cls, card: model.Scorecard) -> Scorecard:
        return cls(
            key=card.key,
            currency=card.currency,
            recovered=Money.from_domain(card.recovered),
            recovery_rate=Ratio.from_domain(card.recovery_rate),
            cases_cured=card.cases_cured,
            cases_closed=card.cases_closed,
            contacts=card.contacts,
            right_party_contact_rate=Ratio.from_domain(card.right_party_contact_rate),
            promises_made=card.promises_made,
            promise_kept_rate=Ratio.from_domain(card.promise_kept_rate),
            complaints=card.complaints,
            refused_attempts=card.refused_attempts,
            breaches=card.breaches,
            average_days_to_recovery=card.average_days_to_recovery,
            commission=CommissionStatement.from_domain(card.commission)
            if card.commission
            else None,
        )


@strawberry.type(
    name="VariantComparison",
    description="One metric of a strategy's champion and challenger over the period, their "
    "difference (challenger − champion) and its 95% confidence interval.",
)
class VariantComparison:
    metric: str = strawberry.field(
        description="recoveryRate, cureRate, costOfCollection or complaintsPer1000."
    )
    champion: Decimal = strawberry.field(description="The champion's value, four decimals.")
    challenger: Decimal = strawberry.field(description="The challenger's value.")
    difference: Decimal = strawberry.field(description="challenger − champion.")
    confidence_low: Decimal = strawberry.field(description="The 95% interval's lower end.")
    confidence_high: Decimal = strawberry.field(description="Its upper end.")
    champion_cases: int = strawberry.field(description="The champion's cohort: how many cases.")
    challenger_cases: int = strawberry.field(description="The challenger's cohort.")

    @classmethod
    def from_domain(cls, row: model.VariantComparison) -> VariantComparison:
        return cls(
            metric=row.metric,
            champion=row.champion,
            challenger=row.challenger,
            difference=row.difference,
            confidence_low=row.confidence_low,
            confidence_high=row.confidence_high,
            champion_cases=row.champion_cases,
            challenger_cases=row.challenger_cases,
        )
