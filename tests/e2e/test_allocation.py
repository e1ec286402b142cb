"""allocateCases over HTTP: both strategies, capacity, what is never allocated (placed, closed,
on hold, assigned), team leads limited to their own team, the events and the one audit entry,
refusals that change nothing, and statements that do not grow with the number of cases."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.e2e.conftest import StatementCounter
from tests.factories import Factory, MadeCase
from tests.helpers import Gql, assert_forbidden

c, ev, au = tables.cases.c, tables.case_events.c, tables.audit_entries.c

ALLOCATE = """
mutation Allocate($input: AllocateCasesInput!) {
  allocateCases(input: $input) {
    __typename
    ... on AllocateCasesSuccess {
      assignedCount unassignedCount
      assignments { case { id reference version daysPastDue } assignee { login } }
    }
    ... on UserError { code message field }
  }
}
"""


@dataclass
class Team:
    """A team of the factory's own, its pool of cases (all named ``marker``) and the factory."""

    name: str
    marker: str
    factory: Factory
    members: dict[str, Any]

    def login(self, short: str) -> str:
        return str(self.members[short].login)

    async def case(self, dpd: int, **shape: Any) -> MadeCase:
        borrower = await self.factory.borrower(full_name=f"{self.marker}{uuid.uuid4().hex[:6]}")
        return await self.factory.case(borrower=borrower, days_past_due=dpd, **shape)

    def input(self, strategy: str = "LEAST_LOADED", team: str | None = None) -> dict[str, Any]:
        return {
            "input": {
                "teamName": team or self.name,
                "strategy": strategy,
                "filter": {"search": self.marker},
            }
        }


@pytest.fixture
async def team(engine: AsyncEngine) -> AsyncIterator[Team]:
    factory = Factory(engine)
    tag = uuid.uuid4().hex[:8]
    name = f"Alloc-{tag}"
    try:
        members = {
            # Logins sort a < b < lead < x, so ties fall to "a" first.
            "a": await factory.staff(f"alloc.{tag}.a", team=name, capacity=3),
            "b": await factory.staff(f"alloc.{tag}.b", team=name, capacity=2),
            "lead": await factory.staff(
                f"alloc.{tag}.lead", team=name, roles=("team_lead",), capacity=0
            ),
            "x": await factory.staff(f"alloc.{tag}.x", team=name, capacity=50, active=False),
            "auditor": await factory.staff(
                f"alloc.{tag}.y", team=name, roles=("auditor",), capacity=50
            ),
        }
        yield Team(name, f"分配{tag}", factory, members)
    finally:
        await factory.cleanup()


async def rows(engine: AsyncEngine, made: list[MadeCase]) -> dict[int, Any]:
    ids = [m.case.id for m in made]
    async with engine.connect() as conn:
        found = (await conn.execute(select(tables.cases).where(c.id.in_(ids)))).all()
    return {row.id: row for row in found}


async def assigned_events(engine: AsyncEngine, made: list[MadeCase]) -> list[Any]:
    ids = [m.case.id for m in made]
    async with engine.connect() as conn:
        stmt = select(ev.case_id, ev.name, ev.data, ev.actor_id).where(ev.case_id.in_(ids))
        return list((await conn.execute(stmt.order_by(ev.id))).all())


async def entries(engine: AsyncEngine, request_id: str) -> list[Any]:
    async with engine.connect() as conn:
        stmt = select(tables.audit_entries).where(au.request_id == request_id).order_by(au.id)
        return list((await conn.execute(stmt)).all())


async def send(gql: Gql, login: str, variables: dict[str, Any]) -> tuple[dict[str, Any], str]:
    response = await gql.raw(login, ALLOCATE, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["allocateCases"], response.headers["x-request-id"]


async def staff_id(engine: AsyncEngine, login: str) -> int:
    async with engine.connect() as conn:
        s = tables.staff.c
        return int((await conn.execute(select(s.id).where(s.login == login))).scalar_one())


async def test_least_loaded_fills_the_emptiest_collector_first_within_capacity(
    gql: Gql, engine: AsyncEngine, team: Team
) -> None:
    # a carries one open case already (room 2 of 3); b carries none (room 2 of 2).
    await team.case(10, assignee=team.login("a"))
    pool = [await team.case(dpd) for dpd in (20, 90, 45, 45, 5, 60)]
    # Matching the filter but never allocated: placed, closed, on hold, already assigned.
    others = [
        await team.case(120, agency="Acme Recovery"),
        await team.case(130, status="CLOSED"),
        await team.case(140, status="ON_HOLD"),
        await team.case(150, assignee="collector1"),
    ]
    before = await rows(engine, pool + others)
    result, request_id = await send(gql, "manager", team.input("LEAST_LOADED"))

    assert result["__typename"] == "AllocateCasesSuccess", result
    assert (result["assignedCount"], result["unassignedCount"]) == (4, 2)
    # Priority: 90, 60, then the two 45s (same outstanding: the lower id first), then 20, 5.
    order = [pool[1], pool[5], pool[2], pool[3]]
    # b carries 0 → b; a and b carry 1 → a (by login); a 2, b 1 → b; both 2 → a; both full.
    expected = [(order[0], "b"), (order[1], "a"), (order[2], "b"), (order[3], "a")]
    assert result["assignments"] == [
        {
            "case": {
                "id": made.gid,
                "reference": made.case.reference,
                "version": made.case.version + 1,
                "daysPastDue": made.case.days_past_due,
            },
            "assignee": {"login": team.login(who)},
        }
        for made, who in expected
    ]
    after = await rows(engine, pool + others)
    ids = {who: await staff_id(engine, team.login(who)) for who in ("a", "b")}
    for made, who in expected:
        row = after[made.case.id]
        assert (row.assignee_id, row.version) == (ids[who], made.case.version + 1)
    for made in (pool[0], pool[4], *others):  # the two left over, and the never allocated
        assert after[made.case.id] == before[made.case.id]

    events = await assigned_events(engine, pool + others)
    manager = await staff_id(engine, "manager")
    assert sorted(events, key=lambda e: e.case_id) == sorted(
        [
            (
                made.case.id,
                "CaseAssigned",
                {"assignee_id": ids[who], "previous_assignee_id": None},
                manager,
            )
            for made, who in expected
        ],
        key=lambda e: e[0],
    )
    audit = await entries(engine, request_id)
    assert [(x.action, x.outcome) for x in audit] == [("case.allocate", "ALLOWED")]
    assert audit[0].case_ids == [made.case.id for made, _ in expected]
    assert audit[0].resource_ids == [made.gid for made, _ in expected]
    assert audit[0].changes == {
        "team": team.name,
        "strategy": "LEAST_LOADED",
        "assigned": 4,
        "leftOver": 2,
        "assignments": [{"caseId": made.case.id, "assigneeId": ids[who]} for made, who in expected],
    }


async def test_round_robin_takes_turns_by_login(gql: Gql, engine: AsyncEngine, team: Team) -> None:
    pool = [await team.case(dpd) for dpd in (50, 40, 30, 20)]
    result, _ = await send(gql, "admin", team.input("ROUND_ROBIN"))
    assert (result["assignedCount"], result["unassignedCount"]) == (4, 0)
    logins = [a["assignee"]["login"] for a in result["assignments"]]
    # a (room 3), b (room 2), then a, b: in turn by login, whatever they carry.
    assert logins == [team.login(x) for x in ("a", "b", "a", "b")]
    assert [a["case"]["id"] for a in result["assignments"]] == [m.gid for m in pool]


async def test_a_second_allocation_counts_what_the_first_handed_out(
    gql: Gql, engine: AsyncEngine, team: Team
) -> None:
    first = [await team.case(dpd) for dpd in (30, 20, 10)]
    result, _ = await send(gql, "manager", team.input())
    assert (result["assignedCount"], result["unassignedCount"]) == (3, 0)
    second = [await team.case(dpd) for dpd in (70, 60, 50)]
    result, _ = await send(gql, "manager", team.input())
    # Room left: a 3 - 2 = 1 or b 2 - 1 = 1, whichever got two of the first three: 2 in all.
    assert (result["assignedCount"], result["unassignedCount"]) == (2, 1)
    assert [a["case"]["id"] for a in result["assignments"]] == [m.gid for m in second[:2]]
    assert all(row.assignee_id is not None for row in (await rows(engine, first)).values())


async def test_every_collector_full_is_refused_and_changes_nothing(
    gql: Gql, engine: AsyncEngine, team: Team
) -> None:
    for who, count in (("a", 3), ("b", 2)):
        for _ in range(count):
            await team.case(10, assignee=team.login(who))
    pool = [await team.case(40)]
    before = await rows(engine, pool)
    result, request_id = await send(gql, "manager", team.input())
    assert (result["__typename"], result["code"], result["field"]) == (
        "RuleViolationError",
        "NO_COLLECTOR_CAPACITY",
        "teamName",
    )
    assert await rows(engine, pool) == before
    assert await assigned_events(engine, pool) == []
    audit = await entries(engine, request_id)
    assert [(x.action, x.outcome, x.changes) for x in audit] == [
        ("case.allocate", "DENIED", {"refused": "NO_COLLECTOR_CAPACITY"})
    ]


async def test_closed_cases_do_not_count_against_capacity(
    gql: Gql, engine: AsyncEngine, team: Team
) -> None:
    for _ in range(3):
        await team.case(10, assignee=team.login("a"), status="CLOSED")
    await team.case(10, assignee=team.login("b"))
    await team.case(10, assignee=team.login("b"), status="ON_HOLD")  # b is full
    pool = [await team.case(dpd) for dpd in (40, 30, 20, 10)]
    result, _ = await send(gql, "manager", team.input())
    assert (result["assignedCount"], result["unassignedCount"]) == (3, 1)
    assert {a["assignee"]["login"] for a in result["assignments"]} == {team.login("a")}
    assert [a["case"]["id"] for a in result["assignments"]] == [m.gid for m in pool[:3]]


async def test_concurrent_allocations_share_the_capacity_and_never_assign_twice(
    gql: Gql, engine: AsyncEngine, team: Team
) -> None:
    pool = [await team.case(dpd) for dpd in range(1, 9)]  # 8 cases; room: a 3 + b 2
    results = await asyncio.gather(
        send(gql, "manager", team.input("LEAST_LOADED")),
        send(gql, "admin", team.input("ROUND_ROBIN")),
    )
    outcomes = sorted((r["__typename"], r.get("assignedCount"), r.get("code")) for r, _ in results)
    # The second waits for the first (the team's staff rows are locked), then finds them full.
    assert outcomes == [
        ("AllocateCasesSuccess", 5, None),
        ("RuleViolationError", None, "NO_COLLECTOR_CAPACITY"),
    ]
    after = await rows(engine, pool)
    ids = {who: await staff_id(engine, team.login(who)) for who in ("a", "b")}
    carried = [row.assignee_id for row in after.values() if row.assignee_id is not None]
    assert sorted(carried) == sorted([ids["a"]] * 3 + [ids["b"]] * 2)
    events = await assigned_events(engine, pool)
    assert len(events) == 5 and len({e.case_id for e in events}) == 5


async def test_an_unknown_team_is_not_found(gql: Gql, engine: AsyncEngine, team: Team) -> None:
    pool = [await team.case(40)]
    result, _ = await send(gql, "manager", team.input(team="No Such Team"))
    assert (result["code"], result["field"]) == ("TEAM_NOT_FOUND", "teamName")
    assert (await rows(engine, pool))[pool[0].case.id].assignee_id is None


async def test_a_team_lead_allocates_to_their_own_team_only(
    gql: Gql, engine: AsyncEngine, team: Team
) -> None:
    pool = [await team.case(dpd) for dpd in (40, 30)]
    lead = team.login("lead")
    result, _ = await send(gql, lead, team.input(team="East"))
    assert (result["code"], result["field"]) == ("TEAM_NOT_FOUND", "teamName")
    assert all(r.assignee_id is None for r in (await rows(engine, pool)).values())
    result, _ = await send(gql, lead, team.input())
    assert result["assignedCount"] == 2
    assert {a["assignee"]["login"] for a in result["assignments"]} == {
        team.login("a"),
        team.login("b"),
    }
    # The lead sees the cases now: they are their team's.
    body = await gql(lead, "query($id: ID!) { case(id: $id) { reference } }", {"id": pool[0].gid})
    assert body["case"] == {"reference": pool[0].case.reference}


@pytest.mark.parametrize("login", ["collector1", "acme.agent1", "acme.manager", "auditor1"])
async def test_roles_without_the_permission_are_forbidden(
    gql: Gql, engine: AsyncEngine, team: Team, login: str
) -> None:
    pool = [await team.case(40)]
    assert_forbidden(await gql.errors(login, ALLOCATE, team.input()))
    assert (await rows(engine, pool))[pool[0].case.id].assignee_id is None


async def test_a_filter_on_a_masked_field_is_refused(gql: Gql, team: Team) -> None:
    variables = team.input()
    variables["input"]["filter"]["borrowerPhone"] = "13800000000"
    errors = await gql.errors("manager", ALLOCATE, variables)
    assert [e["extensions"]["code"] for e in errors] == ["MASKED_FIELD"]


async def test_statements_do_not_grow_with_the_number_of_cases(
    gql: Gql, engine: AsyncEngine, team: Team, sql_counter: StatementCounter
) -> None:
    await gql("manager", "{ viewer { login } }")  # warm up the app's caches
    counts = []
    for n in (1, 4):
        await team.factory.cleanup()
        tag = uuid.uuid4().hex[:6]
        name = f"Alloc-{tag}"
        for k in range(n):
            await team.factory.staff(f"alloc.{tag}.{k}", team=name, capacity=10)
        team.name, team.marker = name, f"分配{tag}"
        for dpd in range(n * 3):
            await team.case(dpd + 1)
        sql_counter.reset()
        result, _ = await send(gql, "manager", team.input())
        assert result["assignedCount"] == n * 3
        counts.append(sql_counter.count)
    assert counts[0] == counts[1], counts
