"""Agency access ends with the placement and with the agency: the attack of the security review,
replayed over HTTP against an app on a database of its own with a stopped clock.

The clock stands at 16:30 UTC, when the demo portfolio ("retail", Asia/Shanghai) is already on the
next calendar day: a placement ending on the UTC date has ended there, one ending on the local
date has not (end dates are inclusive). Every row a test changes is restored in a ``finally``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.common.ids import to_global_id
from api.settings import Settings
from domain.clock import FixedClock
from store import tables
from store.db import create_engine
from store.demo import seed_demo
from store.migrate import upgrade
from tests.conftest import PG_URL, TEST_AUDIT_SECRET, TEST_SECRET, _create_pg_database
from tests.factories import writing
from tests.helpers import Gql

c, s, a, d = tables.cases.c, tables.staff.c, tables.agencies.c, tables.debts.c

AS_OF = date(2025, 3, 10)
NOW = datetime(2025, 3, 10, 16, 30, tzinfo=UTC)
# Computed here from the zone, independently of domain.portfolios.
LOCAL_TODAY = NOW.astimezone(ZoneInfo("Asia/Shanghai")).date()
AGENCY_LOGINS = ("acme.agent1", "acme.manager")

CASES = "{ cases(first: 100) { totalCount edges { node { id reference } } } }"
REVEAL = """
mutation Reveal($input: RevealConfidentialInput!) {
  revealConfidential(input: $input) {
    __typename
    ... on RevealConfidentialSuccess { value }
    ... on UserError { code }
  }
}
"""


@dataclass(frozen=True)
class Placed:
    """A case placed with Acme whose borrower has no other case, and its debts."""

    case_id: int
    reference: str
    borrower_id: int
    debt_ids: tuple[int, ...]
    ends_on: date

    def probes(self) -> dict[str, tuple[str, str]]:
        """Alias → (root field, global id) of every way to reach the case by id."""
        probes = {
            "case": ("case", to_global_id("Case", self.case_id)),
            "nodeCase": ("node", to_global_id("Case", self.case_id)),
            "nodeBorrower": ("node", to_global_id("Borrower", self.borrower_id)),
        }
        for n, debt_id in enumerate(self.debt_ids):
            probes[f"nodeDebt{n}"] = ("node", to_global_id("Debt", debt_id))
        return probes


@dataclass
class World:
    gql: Gql
    engine: AsyncEngine

    async def execute(self, statement: Any) -> None:
        async with writing(self.engine) as conn:
            await conn.execute(statement)

    async def listed(self, login: str) -> tuple[set[str], int]:
        """The references the login's ``cases`` lists, and its ``totalCount``."""
        connection = (await self.gql(login, CASES))["cases"]
        return {e["node"]["reference"] for e in connection["edges"]}, connection["totalCount"]

    async def reached(self, login: str, placed: Placed) -> dict[str, bool]:
        """Whether ``case(id:)`` and ``node(id:)`` of the case, its borrower and debts answer."""
        probes = placed.probes()
        fields = " ".join(
            f'{alias}: {root}(id: "{gid}") {{ id }}' for alias, (root, gid) in probes.items()
        )
        data = await self.gql(login, f"{{ {fields} }}")
        for alias, (_root, gid) in probes.items():
            assert data[alias] in (None, {"id": gid}), (alias, data[alias])
        return {alias: data[alias] is not None for alias in probes}

    async def reveal_phone(self, login: str, borrower_id: int) -> dict[str, Any]:
        variables = {
            "input": {
                "borrowerId": to_global_id("Borrower", borrower_id),
                "field": "PHONE",
                "reasonCode": "CONTACT_BORROWER",
                "reasonText": "agency access e2e",
            }
        }
        result: dict[str, Any] = (await self.gql(login, REVEAL, variables))["revealConfidential"]
        return result

    async def placed_with_acme(self) -> Placed:
        """The first case placed with Acme whose borrower has exactly one case."""
        single = select(c.borrower_id).group_by(c.borrower_id).having(func.count() == 1)
        async with self.engine.connect() as conn:
            acme = (await conn.execute(select(a.id).where(a.name == "Acme Recovery"))).scalar_one()
            row = (
                await conn.execute(
                    select(c.id, c.reference, c.borrower_id, c.placement_ends_on)
                    .where(c.agency_id == acme, c.borrower_id.in_(single))
                    .order_by(c.id)
                    .limit(1)
                )
            ).one()
            debts = (await conn.execute(select(d.id).where(d.case_id == row.id))).scalars()
            return Placed(
                row.id, row.reference, row.borrower_id, tuple(debts), row.placement_ends_on
            )

    async def ends_on(self, placed: Placed, day: date) -> None:
        await self.execute(
            update(tables.cases).where(c.id == placed.case_id).values(placement_ends_on=day)
        )

    async def acme_active(self, active: bool) -> None:
        await self.execute(
            update(tables.agencies).where(a.name == "Acme Recovery").values(active=active)
        )


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """The real app over a freshly seeded database, its clock stopped at NOW."""
    drop = None
    if PG_URL:
        url, drop = await _create_pg_database(PG_URL)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('agency') / 'arrears.db'}"
    engine = create_engine(url)
    try:
        await upgrade(engine)
        await seed_demo(engine, cases=150, seed=7, as_of=AS_OF)
        settings = Settings(
            database_url=url, secret_key=TEST_SECRET, audit_secret=TEST_AUDIT_SECRET, env="test"
        )
        app = create_app(settings, engine=engine, clock=FixedClock(NOW))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://arrears.test") as h:
                yield World(Gql(h, settings), engine)
    finally:
        await engine.dispose()
        if drop is not None:
            await drop()


def test_the_clock_stands_where_the_zones_disagree() -> None:
    assert NOW.date() + timedelta(days=1) == LOCAL_TODAY  # not the UTC date


async def test_a_placement_that_has_ended_gives_no_access(world: World) -> None:
    placed = await world.placed_with_acme()
    assert placed.ends_on >= LOCAL_TODAY  # the demo's placements are all current
    before, before_total = await world.listed("acme.agent1")
    assert placed.reference in before and before_total == len(before) > 1
    assert all((await world.reached("acme.agent1", placed)).values())
    try:
        # Ended yesterday, local time (which is "today" in UTC).
        await world.ends_on(placed, LOCAL_TODAY - timedelta(days=1))
        for login in AGENCY_LOGINS:
            after, after_total = await world.listed(login)
            assert after == before - {placed.reference}, login
            assert after_total == before_total - 1, login
            assert not any((await world.reached(login, placed)).values()), login
        refused = await world.reveal_phone("acme.agent1", placed.borrower_id)
        assert refused == {"__typename": "NotFoundError", "code": "BORROWER_NOT_FOUND"}
        # Internal staff still see the case: it is the agency's access that ended.
        assert all((await world.reached("manager", placed)).values())
    finally:
        await world.ends_on(placed, placed.ends_on)
    assert await world.listed("acme.agent1") == (before, before_total)


async def test_a_placement_ending_today_still_gives_access(world: World) -> None:
    placed = await world.placed_with_acme()
    before = await world.listed("acme.agent1")
    try:
        await world.ends_on(placed, LOCAL_TODAY)  # inclusive: the last day of the placement
        assert await world.listed("acme.agent1") == before
        assert all((await world.reached("acme.agent1", placed)).values())
        revealed = await world.reveal_phone("acme.agent1", placed.borrower_id)
        assert revealed["__typename"] == "RevealConfidentialSuccess"
    finally:
        await world.ends_on(placed, placed.ends_on)


async def test_an_inactive_agency_sees_nothing(world: World) -> None:
    placed = await world.placed_with_acme()
    async with world.engine.connect() as conn:
        acme_id = (await conn.execute(select(a.id).where(a.name == "Acme Recovery"))).scalar_one()
        acme_staff = list(
            (await conn.execute(select(s.id).where(s.agency_id == acme_id))).scalars()
        )
    others = " ".join(
        f'staff{pk}: node(id: "{to_global_id("Staff", pk)}") {{ id }}' for pk in acme_staff
    )
    agency = to_global_id("Agency", acme_id)
    own = f'{{ viewer {{ agency {{ name }} }} agency: node(id: "{agency}") {{ id }} {others} }}'
    for login in AGENCY_LOGINS:
        data = await world.gql(login, own)
        assert data["viewer"]["agency"] == {"name": "Acme Recovery"}
        assert data["agency"] is not None and all(data[f"staff{pk}"] for pk in acme_staff)
    try:
        await world.acme_active(False)
        for login in AGENCY_LOGINS:
            assert await world.listed(login) == (set(), 0), login
            assert not any((await world.reached(login, placed)).values()), login
            data = await world.gql(login, own)
            assert data["viewer"]["agency"] is None
            assert data["agency"] is None
            assert not any(data[f"staff{pk}"] for pk in acme_staff)
        refused = await world.reveal_phone("acme.agent1", placed.borrower_id)
        assert refused == {"__typename": "NotFoundError", "code": "BORROWER_NOT_FOUND"}
        # Another agency is untouched.
        zenith, zenith_total = await world.listed("zenith.agent1")
        assert zenith and zenith_total == len(zenith)
    finally:
        await world.acme_active(True)
    assert (await world.listed("acme.agent1"))[1] > 0
