"""Access-matrix declarations of reports (tests/operations.py joins them to OPERATIONS):
portfolioReport (report:read: admin, manager, team lead, auditor, agency manager), scorecards
(scorecard:read: those and collectors and agency agents) and variantComparison (strategy:read).
None is scoped by one object: one cell per login, whose answer must equal the store's figures
over exactly the cases the login may see by the documented rules (tests/access.py, never
authz/), and whose scorecards are exactly the rows the documented rules give it.

Also the GraphQL documents selecting every field of a report, a scorecard and a comparison, and
the domain's figures as the API writes them (``*_json``), for tests/e2e/test_reports_api.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.money import Money
from domain.reports.goals import Goals
from domain.reports.model import (
    CommissionStatement,
    Grouping,
    Period,
    PortfolioReport,
    Ratio,
    ReportGroup,
    Scorecard,
    ScorecardLevel,
    VariantComparison,
)
from store import report_queries, scorecard_queries, variant_queries
from store.report_basis import observe
from store.scorecard_queries import ScorecardRows
from tests.access import LOGINS, case_rule, staff_row
from tests.factories import today
from tests.matrix import Cell, Forbidden, Operation, Target, roles_holding

# ---- The documents and the figures as the API writes them ---------------------------------------

RATIO = "value numerator denominator goal meetsGoal"
MONEY = "amount currency"
GROUP = f"""
key currency recovered {{ {MONEY} }}
aging {{ bucket cases outstanding {{ {MONEY} }} }}
overdueRates {{ minDaysPastDue ratio {{ {RATIO} }} }}
cureRate {{ {RATIO} }} recoveryRate {{ {RATIO} }} resolvedWithin30Days {{ {RATIO} }}
lossRate {{ {RATIO} }} costOfCollection {{ {RATIO} }} annualisedCostVsLoanBook {{ {RATIO} }}
daysToRecovery {{ label cases }} promiseKeptRate {{ {RATIO} }} complaintsPer1000 {{ {RATIO} }}
rollRates {{ fromBucket toBucket byCount {{ {RATIO} }} byBalance {{ {RATIO} }} }}
"""
REPORT = f"""
query($from: Date!, $to: Date!, $groupBy: ReportGrouping) {{
  r: portfolioReport(from: $from, to: $to, groupBy: $groupBy) {{
    from to groups {{ {GROUP} }} totals {{ {GROUP} }}
  }}
}}
"""
COMMISSION = f"""
rate tailDays collected {{ {MONEY} }} tailCollected {{ {MONEY} }} commission {{ {MONEY} }}
payments
"""
SCORECARDS = f"""
query($from: Date!, $to: Date!, $level: ScorecardLevel!) {{
  r: scorecards(from: $from, to: $to, level: $level) {{
    key currency recovered {{ {MONEY} }} recoveryRate {{ {RATIO} }} casesCured casesClosed
    contacts rightPartyContactRate {{ {RATIO} }} promisesMade promiseKeptRate {{ {RATIO} }}
    complaints refusedAttempts breaches averageDaysToRecovery commission {{ {COMMISSION} }}
  }}
}}
"""
COMPARISON = """
query($strategy: String!, $from: Date!, $to: Date!) {
  r: variantComparison(strategy: $strategy, from: $from, to: $to) {
    metric champion challenger difference confidenceLow confidenceHigh
    championCases challengerCases
  }
}
"""


def money_json(money: Money) -> dict[str, str]:
    return {"amount": str(money.rounded().amount), "currency": money.currency}


def ratio_json(ratio: Ratio | None) -> dict[str, Any] | None:
    if ratio is None:
        return None
    return {
        "value": str(ratio.value),
        "numerator": str(ratio.numerator),
        "denominator": str(ratio.denominator),
        "goal": str(ratio.goal.target) if ratio.goal else None,
        "meetsGoal": ratio.meets_goal,
    }


def group_json(group: ReportGroup) -> dict[str, Any]:
    return {
        "key": group.key,
        "currency": group.currency,
        "recovered": money_json(group.recovered),
        "aging": [
            {"bucket": b.bucket, "cases": b.cases, "outstanding": money_json(b.outstanding)}
            for b in group.aging
        ],
        "overdueRates": [
            {"minDaysPastDue": t.min_days_past_due, "ratio": ratio_json(t.ratio)}
            for t in group.overdue_rates
        ],
        "cureRate": ratio_json(group.cure_rate),
        "recoveryRate": ratio_json(group.recovery_rate),
        "resolvedWithin30Days": ratio_json(group.resolved_within_30_days),
        "lossRate": ratio_json(group.loss_rate),
        "costOfCollection": ratio_json(group.cost_of_collection),
        "annualisedCostVsLoanBook": ratio_json(group.annualised_cost_vs_loan_book),
        "daysToRecovery": [{"label": b.label, "cases": b.cases} for b in group.days_to_recovery],
        "promiseKeptRate": ratio_json(group.promise_kept_rate),
        "complaintsPer1000": ratio_json(group.complaints_per_1000),
        "rollRates": [
            {
                "fromBucket": r.from_bucket,
                "toBucket": r.to_bucket,
                "byCount": ratio_json(r.by_count),
                "byBalance": ratio_json(r.by_balance),
            }
            for r in group.roll_rates
        ],
    }


def report_json(report: PortfolioReport) -> dict[str, Any]:
    return {
        "from": report.period.start.isoformat(),
        "to": report.period.end.isoformat(),
        "groups": [group_json(g) for g in report.groups],
        "totals": [group_json(g) for g in report.totals],
    }


def commission_json(statement: CommissionStatement | None) -> dict[str, Any] | None:
    if statement is None:
        return None
    return {
        "rate": str(statement.rate),
        "tailDays": statement.tail_days,
        "collected": money_json(statement.collected),
        "tailCollected": money_json(statement.tail_collected),
        "commission": money_json(statement.commission),
        "payments": statement.payments,
    }


def scorecard_json(card: Scorecard) -> dict[str, Any]:
    average = card.average_days_to_recovery
    return {
        "key": card.key,
        "currency": card.currency,
        "recovered": money_json(card.recovered),
        "recoveryRate": ratio_json(card.recovery_rate),
        "casesCured": card.cases_cured,
        "casesClosed": card.cases_closed,
        "contacts": card.contacts,
        "rightPartyContactRate": ratio_json(card.right_party_contact_rate),
        "promisesMade": card.promises_made,
        "promiseKeptRate": ratio_json(card.promise_kept_rate),
        "complaints": card.complaints,
        "refusedAttempts": card.refused_attempts,
        "breaches": card.breaches,
        "averageDaysToRecovery": str(average) if average is not None else None,
        "commission": commission_json(card.commission),
    }


def comparison_json(row: VariantComparison) -> dict[str, Any]:
    return {
        "metric": row.metric,
        "champion": str(row.champion),
        "challenger": str(row.challenger),
        "difference": str(row.difference),
        "confidenceLow": str(row.confidence_low),
        "confidenceHigh": str(row.confidence_high),
        "championCases": row.champion_cases,
        "challengerCases": row.challenger_cases,
    }


async def documented_rows(
    conn: AsyncConnection, login: str, level: ScorecardLevel
) -> ScorecardRows | None:
    """Whose scorecards a login sees by the documented rules (docs/API.md, "Reports and
    KPIs"), None for none: everyone's for the roles that see every case; a team lead's team
    (collectors and team); an agency manager's agency (agency and staff); a collector's or an
    agent's own collector row."""
    role, me = LOGINS[login], await staff_row(conn, login)
    if role.sees_all_cases:
        return ScorecardRows()
    if role.cases == "team":
        team_levels = (ScorecardLevel.COLLECTOR, ScorecardLevel.TEAM)
        return ScorecardRows(team=role.team) if level in team_levels else None
    if "agency_manager" in role.roles:
        agency_levels = (ScorecardLevel.COLLECTOR, ScorecardLevel.AGENCY)
        return ScorecardRows(agency_id=me.agency_id) if level in agency_levels else None
    return ScorecardRows(staff_id=me.id) if level is ScorecardLevel.COLLECTOR else None


async def stored_report(
    conn: AsyncConnection,
    period: Period,
    grouping: Grouping | None,
    scope: ColumnElement[bool],
    *,
    whole_book: bool,
    goals: Goals,
) -> dict[str, Any]:
    """The store's report over ``scope``, as the API writes it."""
    report = await report_queries.portfolio_report(
        conn, period, grouping, scope, whole_book=whole_book, goals=goals
    )
    return report_json(report)


# ---- The matrix's cells -------------------------------------------------------------------------


def matrix_period() -> Period:
    """The last month to tomorrow (UTC): whatever the other cells posted today is inside."""
    return Period(today() - timedelta(days=30), today() + timedelta(days=1))


def period_variables(target: Target) -> dict[str, Any]:
    period = matrix_period()
    return {"from": period.start.isoformat(), "to": period.end.isoformat()}


async def check_report(op: Operation, cell: Cell) -> None:
    variables = {**op.variables(cell.target), "groupBy": "PORTFOLIO"}
    result, _ = await cell.result(op.document, variables)
    whole_book = cell.role.sees_all_cases
    async with cell.engine.connect() as conn:
        scope = await case_rule(conn, cell.login)
        expected = await stored_report(
            conn,
            matrix_period(),
            Grouping.PORTFOLIO,
            scope,
            whole_book=whole_book,
            goals=cell.gql.settings.goals,
        )
    assert result == expected
    if not whole_book:
        # A scoped report's cases are not the loan book's: no overdue rates, no cost over it.
        for group in (*result["groups"], *result["totals"]):
            assert group["overdueRates"] == [] and group["annualisedCostVsLoanBook"] is None


async def check_scorecards(op: Operation, cell: Cell) -> None:
    period = matrix_period()
    for level in ScorecardLevel:
        variables = {**op.variables(cell.target), "level": level.value}
        result, _ = await cell.result(op.document, variables)
        async with cell.engine.connect() as conn:
            rows = await documented_rows(conn, cell.login, level)
            if rows is None:
                assert result == [], (level, result)
                continue
            observations = await observe(conn, period)
            cards = await scorecard_queries.scorecards(
                conn, observations, level, await case_rule(conn, cell.login), rows
            )
        assert result == [scorecard_json(card) for card in cards], level


async def check_comparison(op: Operation, cell: Cell) -> None:
    result, _ = await cell.result(op.document, op.variables(cell.target))
    async with cell.engine.connect() as conn:
        observations = await observe(conn, matrix_period())
        rows = await variant_queries.variant_comparison(
            conn, observations, "STANDARD", await case_rule(conn, cell.login)
        )
    assert result == [comparison_json(row) for row in rows]


REPORT_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="portfolioReport",
        field="portfolioReport",
        document=REPORT,
        variables=period_variables,
        allowed=roles_holding("report:read"),
        permission="report:read",
        denied=Forbidden("report:read"),
        check=check_report,
    ),
    Operation(
        name="scorecards",
        field="scorecards",
        document=SCORECARDS,
        variables=lambda target: {**period_variables(target), "level": "COLLECTOR"},
        allowed=roles_holding("scorecard:read"),
        permission="scorecard:read",
        denied=Forbidden("scorecard:read"),
        check=check_scorecards,
    ),
    Operation(
        name="variantComparison",
        field="variantComparison",
        document=COMPARISON,
        variables=lambda target: {**period_variables(target), "strategy": "STANDARD"},
        allowed=roles_holding("strategy:read"),
        permission="strategy:read",
        denied=Forbidden("strategy:read"),
        check=check_comparison,
    ),
)
