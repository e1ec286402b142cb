"""The agency scope holds for writes too: the unit of work's locked case lookup (SELECT … FOR
UPDATE) finds a placed case only while its placement is current. Nothing is changed."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from authz.scopes import scope_for
from store import loaders, tables
from store.db import session_factory
from store.uow import SqlUnitOfWork

c = tables.cases.c


async def test_a_locked_lookup_finds_a_placed_case_only_while_the_placement_lasts(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)
    async with sessions() as session:
        agent = await loaders.staff_by_login(session, "acme.agent1")
        assert agent is not None
        ours, ends_on = (
            await session.execute(
                select(c.id, c.placement_ends_on)
                .where(c.agency_id == agent.agency_id)
                .order_by(c.id)
                .limit(1)
            )
        ).one()
        theirs = (
            await session.execute(
                select(c.id).where(c.agency_id != agent.agency_id).order_by(c.id).limit(1)
            )
        ).scalar_one()
    # 15:00 UTC is 23:00 in Shanghai, still the same local date.
    last_day = datetime.combine(ends_on, time(15, 0), UTC)
    expectations = [
        (datetime.now(UTC), ours, True),
        (last_day, ours, True),
        (last_day + timedelta(hours=1), ours, False),  # the next day in Shanghai
        (datetime.now(UTC), theirs, False),
    ]
    for now, case_id, found in expectations:
        async with SqlUnitOfWork(sessions, case_scope=scope_for(agent, now).case) as uow:
            assert (await uow.cases.get(case_id) is not None) is found, (now, case_id)
