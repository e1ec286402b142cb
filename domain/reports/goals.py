"""The manual's goals (ch. 1.1) as configuration: each figure that has one says whether it meets
it. The defaults are the manual's numbers; ``ARREARS_GOAL_*`` settings override them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.reports.model import Goal, GoalDirection

# Overdue rate (DPD ≥ 1 over the loan book) below 5% of the portfolio.
OVERDUE_RATE = Goal(Decimal("0.05"), GoalDirection.BELOW)
# Most collection finished within 30 days of going overdue (more than half).
RESOLVED_WITHIN_30_DAYS = Goal(Decimal("0.5"), GoalDirection.ABOVE)
# Collection cost under 1% of the loan amount (annualised, over the loan book).
COST_VS_LOAN_BOOK = Goal(Decimal("0.01"), GoalDirection.BELOW)
# Managed overdue loans lose under 20% (written off net of recoveries).
LOSS_RATE = Goal(Decimal("0.20"), GoalDirection.BELOW)


@dataclass(frozen=True, slots=True)
class Goals:
    overdue_rate: Goal = OVERDUE_RATE
    resolved_within_30_days: Goal = RESOLVED_WITHIN_30_DAYS
    cost_vs_loan_book: Goal = COST_VS_LOAN_BOOK
    loss_rate: Goal = LOSS_RATE


DEFAULT_GOALS = Goals()


def goals_from(
    overdue_rate: Decimal | None = None,
    resolved_within_30_days: Decimal | None = None,
    cost_vs_loan_book: Decimal | None = None,
    loss_rate: Decimal | None = None,
) -> Goals:
    """Returns the goals with the given targets in place of the manual's (None: the manual's)."""
    d = DEFAULT_GOALS

    def target(default: Goal, value: Decimal | None) -> Goal:
        return default if value is None else Goal(Decimal(value), default.direction)

    return Goals(
        overdue_rate=target(d.overdue_rate, overdue_rate),
        resolved_within_30_days=target(d.resolved_within_30_days, resolved_within_30_days),
        cost_vs_loan_book=target(d.cost_vs_loan_book, cost_vs_loan_book),
        loss_rate=target(d.loss_rate, loss_rate),
    )
