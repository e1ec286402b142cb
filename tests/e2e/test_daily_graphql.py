"""The daily run seen through GraphQL, on a demo database of its own with the app's clock moved
day by day: the demo's figures survive a run unchanged, ``Case.classificationHistory`` loads in
statements independent of the page size, and an ended placement returns the case to the pool
(the agency loses it; end dates are inclusive: recalled by the run of the day after)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.common.ids import to_global_id
from api.settings import Settings
from store import tables
from store.db import create_engine
from store.demo import seed_demo
from store.migrate import upgrade
from tests.conftest import PG_URL, TEST_AUDIT_SECRET, TEST_SECRET, _create_pg_database
from tests.daily_support import MovableClock, noon, run
from tests.factories import writing
from tests.helpers import Gql

AS_OF = date(2025, 3, 10)
c = tables.cases.c

HISTORY = """
query($first: Int) { cases(first: $first, orderBy: REFERENCE_ASC) { edges { node {
  reference bucket classification
  classificationHistory { classification bucket fromDate toDate policyVersion }
} } } }
"""
CASE = """
query($id: ID!) { case(id: $id) {
  reference agency { name } placementEndsOn
  classificationHistory { bucket fromDate toDate }
  timeline(first: 5) { edges { node { kind summary agency { name } } } }
} }
"""
LISTED = """
query($ref: String) { cases(first: 5, filter: {search: $ref}) { edges { node { reference } } } }
"""


@dataclass
class World:
    gql: Gql
    engine: AsyncEngine
    clock: MovableClock

    async def run(self, day: date) -> Any:
        self.clock.at = noon(day)
        return await run(self.engine, day)

    async def listed(self, login: str, reference: str) -> bool:
        """Whether the login's ``cases`` list holds the case."""
        data = await self.gql(login, LISTED, {"ref": reference})
        return reference in {e["node"]["reference"] for e in data["cases"]["edges"]}


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    drop = None
    if PG_URL:
        url, drop = await _create_pg_database(PG_URL)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('daily') / 'arrears.db'}"
    engine = create_engine(url)
    try:
        await upgrade(engine)
        await seed_demo(engine, cases=150, seed=7, as_of=AS_OF)
        settings = Settings(
            database_url=url, secret_key=TEST_SECRET, audit_secret=TEST_AUDIT_SECRET, env="test"
        )
        clock = MovableClock(noon(AS_OF))
        app = create_app(settings, engine=engine, clock=clock)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://daily.test") as h:
                yield World(Gql(h, settings), engine, clock)
    finally:
        await engine.dispose()
        if drop is not None:
            await drop()


async def protections_and_warnings(engine: AsyncEngine) -> dict[str, list[Any]]:
    """The demo's complaints, flags, signals and warnings as they stand."""
    held = (tables.complaints, tables.borrower_flags, tables.external_signals, tables.warnings)
    async with engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in await conn.execute(select(t).order_by(t.c.id))] for t in held
        }


async def test_the_demo_is_already_as_the_run_leaves_it(world: World) -> None:
    """A run on the demo's own date changes no case's figures and raises no warning anew (the
    demo's were raised by the same statements); its complaints, flags and signals stay as they
    are. Only the treatment step's first run moves cases: those a strategy step placed or
    recalled (the demo seeds no treatment)."""
    async with world.engine.connect() as conn:
        before = dict((await conn.execute(select(c.id, c.version))).all())
    held = await protections_and_warnings(world.engine)
    assert all(held.values()), {name: len(rows) for name, rows in held.items()}
    outcome = await world.run(AS_OF)
    day = outcome.days[0]
    assert (day.debts_reaged, day.cases_changed, day.cases_reclassified) == (0, 0, 0)
    assert (day.periods_opened, day.escalated, day.cured, day.reopened) == (0, 0, 0, 0)
    assert day.placements_expired == 0 and day.snapshots > day.cases_aged > 100
    assert sum(day.warnings_raised.values()) == 0, day.warnings_raised
    a = tables.treatment_actions.c
    async with world.engine.connect() as conn:
        after = dict((await conn.execute(select(c.id, c.version))).all())
        moved = set(
            (
                await conn.execute(
                    select(a.case_id).where(
                        a.action.in_(["PLACE_WITH_AGENCY", "RECALL"]), a.status == "DONE"
                    )
                )
            ).scalars()
        )
    assert len(moved) == day.cases_placed_by_strategy + day.cases_recalled_by_strategy
    assert {k: v for k, v in after.items() if k not in moved} == {
        k: v for k, v in before.items() if k not in moved
    }
    assert all(after[k] == before[k] + 1 for k in moved)
    assert await protections_and_warnings(world.engine) == held


async def test_classification_history_costs_the_same_for_any_page(world: World) -> None:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    await world.gql("manager", HISTORY, {"first": 1})  # warm up
    counts = {}
    event.listen(world.engine.sync_engine, "before_cursor_execute", count)
    try:
        for first in (5, 60):
            statements.clear()
            data = await world.gql("manager", HISTORY, {"first": first})
            edges = data["cases"]["edges"]
            assert len(edges) == first
            for edge in edges:
                node = edge["node"]
                periods = node["classificationHistory"]
                assert periods, node["reference"]  # the demo seeds a first period
                current = periods[-1]
                assert current["toDate"] is None
                assert (current["bucket"], current["classification"]) == (
                    node["bucket"],
                    node["classification"],
                )
                assert current["policyVersion"] == "2026.1"
            counts[first] = len(statements)
    finally:
        event.remove(world.engine.sync_engine, "before_cursor_execute", count)
    assert counts[5] == counts[60], counts


async def test_an_ended_placement_returns_the_case_to_the_pool(world: World) -> None:
    await world.run(AS_OF)
    async with world.engine.connect() as conn:
        acme = (
            await conn.execute(
                select(tables.agencies.c.id).where(tables.agencies.c.name == "Acme Recovery")
            )
        ).scalar_one()
        single = select(c.borrower_id).group_by(c.borrower_id).having(func.count() == 1)
        case_id, reference = (
            await conn.execute(
                select(c.id, c.reference)
                .where(c.agency_id == acme, c.status == "OPEN", c.borrower_id.in_(single))
                .order_by(c.id)
                .limit(1)
            )
        ).one()
    ends = AS_OF + timedelta(days=1)
    async with writing(world.engine) as conn:
        await conn.execute(
            update(tables.cases).where(c.id == case_id).values(placement_ends_on=ends)
        )
    gid = to_global_id("Case", case_id)
    await world.run(ends)  # the last day of the placement (inclusive): still placed
    assert await world.listed("acme.agent1", reference)
    shown = (await world.gql("manager", CASE, {"id": gid}))["case"]
    assert shown["agency"] == {"name": "Acme Recovery"} and shown["placementEndsOn"] == str(ends)
    outcome = await world.run(ends + timedelta(days=1))
    assert outcome.days[0].placements_expired >= 1
    for login in ("acme.agent1", "acme.manager"):
        assert not await world.listed(login, reference)
        assert (await world.gql(login, CASE, {"id": gid}))["case"] is None
    shown = (await world.gql("manager", CASE, {"id": gid}))["case"]
    assert shown["agency"] is None and shown["placementEndsOn"] is None
    newest = shown["timeline"]["edges"][0]["node"]
    assert newest["kind"] == "RECALLED"
    assert newest["agency"] == {"name": "Acme Recovery"}
    assert await world.listed("manager", reference)
