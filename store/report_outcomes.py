"""The report's outcomes of collection: recoveries (a delinquent spell ending in a return to
current, from the classification history) with the days they took and the share resolved within
30 days, the promise kept rate and the complaints per 1,000 cases."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.reports.goals import Goals
from domain.reports.model import CountBucket, Grouping, Ratio
from store.report_basis import GroupId, Observations


@dataclass(frozen=True, slots=True)
class Outcomes:
    resolved_within_30_days: Ratio
    days_to_recovery: list[CountBucket]
    promise_kept_rate: Ratio
    complaints_per_1000: Ratio


async def outcomes(
    conn: AsyncConnection,
    observations: Observations,
    grouping: Grouping | None,
    scope: ColumnElement[bool],
    goals: Goals,
) -> dict[GroupId, Outcomes]:
    raise NotImplementedError
