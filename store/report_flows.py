"""The report's money flows: what was recovered in the period, the recovery rate, the cost of
collection (agency commission with the contract's tail, and the cost records of the feed) over
the amount collected and, annualised, over the loan book; and each agency's commission
statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.money import Money
from domain.reports.goals import Goals
from domain.reports.model import CommissionStatement, Grouping, Ratio
from store.report_basis import GroupId, Observations


@dataclass(frozen=True, slots=True)
class MoneyFlows:
    recovered: Money
    recovery_rate: Ratio
    cost_of_collection: Ratio
    annualised_cost_vs_loan_book: Ratio | None


async def money_flows(
    conn: AsyncConnection,
    observations: Observations,
    grouping: Grouping | None,
    scope: ColumnElement[bool],
    goals: Goals,
    *,
    loan_book: bool,
) -> dict[GroupId, MoneyFlows]:
    raise NotImplementedError


async def commission_statements(
    conn: AsyncConnection,
    observations: Observations,
    scope: ColumnElement[bool],
    agency_ids: Sequence[int] | None = None,
) -> dict[tuple[int, str], CommissionStatement]:
    raise NotImplementedError
