"""The report's positions, read from the daily snapshots: aging by bucket and the overdue rates at
the period's closing, and the monthly roll rates with the cure and loss rates they give (see
``store.report_basis`` for the runs a period reads and the keys of its groups)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.reports.goals import Goals
from domain.reports.model import AgingBucket, Grouping, Ratio, RollRate, ThresholdRatio
from store.report_basis import GroupId, Observations


@dataclass(frozen=True, slots=True)
class Rolls:
    roll_rates: list[RollRate]
    cure_rate: Ratio
    loss_rate: Ratio


async def aging(
    conn: AsyncConnection,
    observations: Observations,
    grouping: Grouping | None,
    scope: ColumnElement[bool],
) -> dict[GroupId, list[AgingBucket]]:
    raise NotImplementedError


async def overdue_rates(
    conn: AsyncConnection, observations: Observations, grouping: Grouping | None, goals: Goals
) -> dict[GroupId, list[ThresholdRatio]]:
    raise NotImplementedError


async def rolls(
    conn: AsyncConnection,
    observations: Observations,
    grouping: Grouping | None,
    scope: ColumnElement[bool],
    goals: Goals,
) -> dict[GroupId, Rolls]:
    raise NotImplementedError
