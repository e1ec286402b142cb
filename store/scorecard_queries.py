"""Scorecards (manual ch. 8): per collector, team or agency and currency, what they recovered,
cured and closed, their contacts and right-party contacts, promises, complaints, refused attempts
and breaches, and the days their recoveries took; an agency's with its commission statement."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.reports.model import Scorecard, ScorecardLevel
from store.report_basis import Observations


@dataclass(frozen=True, slots=True)
class ScorecardRows:
    """Whose scorecards a caller may see (None: anyone's): a collector their own, a team lead
    their team's, an agency user their agency's."""

    staff_id: int | None = None
    team: str | None = None
    agency_id: int | None = None


async def scorecards(
    conn: AsyncConnection,
    observations: Observations,
    level: ScorecardLevel,
    scope: ColumnElement[bool],
    rows: ScorecardRows,
) -> list[Scorecard]:
    raise NotImplementedError
