"""portfolioReport, scorecards and variantComparison: figures over a period, computed in the
database over the cases the caller may see (their case scope, the same clause as every other
read), on the request's read session."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from api.common.inputs import check_text
from api.context import Info
from api.errors import BadUserInput
from api.permissions import needs
from api.reports.types import PortfolioReport, Scorecard, VariantComparison
from authz.scopes import scorecard_rows
from domain.reports.model import Grouping, Period, ReportPeriodInvalid, ScorecardLevel
from store import report_queries, scorecard_queries, variant_queries
from store.db import Session
from store.report_basis import observe

# A period reads the day before it and the day after it (in every time zone), which must be
# dates too: years 2 to 9998 leave room on both sides.
EARLIEST = date(2, 1, 1)
LATEST = date(9998, 12, 31)
# The longest strategy name stored (debt_snapshots.strategy).
MAX_STRATEGY = 64

From = Annotated[date, strawberry.argument(name="from", description="The first day, included.")]
To = Annotated[date, strawberry.argument(description="The last day, included.")]


def period_of(start: date, end: date) -> Period:
    """The period from ``start`` to ``end``; a bad one refused as BAD_USER_INPUT, naming the
    argument at fault."""
    for name, day in (("from", start), ("to", end)):
        if not EARLIEST <= day <= LATEST:
            raise BadUserInput(f"{name} is out of range: years {EARLIEST.year} to {LATEST.year}")
    try:
        return Period(start, end)
    except ReportPeriodInvalid as refused:
        raise BadUserInput(f"{refused.field}: {refused.message}") from refused


@strawberry.type
class ReportQuery:
    @strawberry.field(
        description="The portfolio's health from `from` to `to` (dates included, at most 367 "
        "days, in each portfolio's own calendar), grouped by `groupBy` (null: totals only) and "
        "always by currency, counting only the cases you may see — your team's as a team lead, "
        "your agency's as an agency manager. It reads the daily runs' snapshots and the events "
        "of the period, never today's state: a closed period's report stays the same. "
        "A period ending before it starts, or longer than 367 days: BAD_USER_INPUT.",
        extensions=needs("report:read"),
    )
    async def portfolio_report(
        self, info: Info, from_: From, to: To, group_by: Grouping | None = None
    ) -> PortfolioReport:
        ctx = info.context
        period = period_of(from_, to)
        scope, goals = ctx.scope, ctx.settings.goals

        async def report(session: Session) -> PortfolioReport:
            conn = await session.connection()
            found = await report_queries.portfolio_report(
                conn, period, group_by, scope.case, whole_book=scope.every_case, goals=goals
            )
            return PortfolioReport.from_domain(found)

        return await ctx.read(report)

    @strawberry.field(
        description="Scorecards from `from` to `to` per collector, team or agency and "
        "currency, sorted by key then currency: every one for managers, administrators and "
        "auditors; a team lead's team (its collectors and the team; no agency's); an agency "
        "manager's agency (the agency and its staff; no team's); a collector's or an agency "
        "agent's own (COLLECTOR only; an empty list at the other levels). Only the cases you "
        "may see are counted. A bad period: BAD_USER_INPUT, as for portfolioReport.",
        extensions=needs("scorecard:read"),
    )
    async def scorecards(
        self, info: Info, from_: From, to: To, level: ScorecardLevel
    ) -> list[Scorecard]:
        ctx = info.context
        period = period_of(from_, to)
        rows = scorecard_rows(ctx.viewer, level)
        if rows is None:
            return []
        scope = ctx.scope.case

        async def cards(session: Session) -> list[Scorecard]:
            conn = await session.connection()
            observations = await observe(conn, period)
            found = await scorecard_queries.scorecards(conn, observations, level, scope, rows)
            return [Scorecard.from_domain(card) for card in found]

        return await ctx.read(cards)

    @strawberry.field(
        description="A strategy's champion against its challenger from `from` to `to`: for "
        "recoveryRate, cureRate, costOfCollection and complaintsPer1000, each variant's value, "
        "the difference (challenger − champion) and its 95% confidence interval, over the "
        "cases under the strategy at the period's start that you may see. Empty when either "
        "variant had no case (or no such strategy). A bad period: BAD_USER_INPUT.",
        extensions=needs("strategy:read"),
    )
    async def variant_comparison(
        self, info: Info, strategy: str, from_: From, to: To
    ) -> list[VariantComparison]:
        ctx = info.context
        check_text("strategy", strategy)
        if len(strategy) > MAX_STRATEGY:
            raise BadUserInput(f"strategy is longer than {MAX_STRATEGY} characters")
        period = period_of(from_, to)
        scope = ctx.scope.case

        async def comparison(session: Session) -> list[VariantComparison]:
            conn = await session.connection()
            observations = await observe(conn, period)
            found = await variant_queries.variant_comparison(conn, observations, strategy, scope)
            return [VariantComparison.from_domain(row) for row in found]

        return await ctx.read(comparison)
