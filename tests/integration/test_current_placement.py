"""The SQL clause for a current placement agrees with the domain predicate, row by row, whatever
the portfolios' time zones (including zones whose dates differ at the instant)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from types import MappingProxyType

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain import portfolios
from domain.agencies.placement import placement_is_current
from domain.portfolios import local_today
from store import case_queries, tables
from store.case_queries import current_placement_clause

c = tables.cases.c

ZONES: dict[str, Mapping[str, str]] = {
    "demo": portfolios.TIME_ZONES,
    "none known": {},
    "retail apart": {"retail": "America/Los_Angeles", "cards": "Asia/Shanghai"},
    "retail ahead": {"retail": "Pacific/Kiritimati"},
}


@pytest.mark.parametrize("zones", ZONES.values(), ids=ZONES.keys())
async def test_clause_and_predicate_agree(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, zones: Mapping[str, str]
) -> None:
    frozen = MappingProxyType(dict(zones))
    monkeypatch.setattr(portfolios, "TIME_ZONES", frozen)
    monkeypatch.setattr(case_queries, "TIME_ZONES", frozen)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(c.id, c.portfolio, c.placement_ends_on))).all()
        ends = sorted({r.placement_ends_on for r in rows if r.placement_ends_on is not None})
        assert len(ends) > 2
        # Around the end dates: instants on either side of midnight in several zones.
        instants = [
            datetime.combine(day + timedelta(days=shift), at, UTC)
            for day in (ends[0], ends[len(ends) // 2], ends[-1])
            for shift in (-1, 0, 1)
            for at in (time(0, 30), time(9, 30), time(15, 59), time(16, 1), time(23, 30))
        ]
        placed = sum(1 for r in rows if r.placement_ends_on is not None)
        partial = 0
        for now in instants:
            expected = {
                r.id
                for r in rows
                if placement_is_current(r.placement_ends_on, local_today(r.portfolio, now))
            }
            stmt = select(c.id).where(current_placement_clause(now))
            assert set((await conn.execute(stmt)).scalars()) == expected, now
            partial += 0 < len(expected) < placed
    assert partial, "some instant should split the placements into current and ended"
