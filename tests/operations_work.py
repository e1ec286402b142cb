"""Access-matrix declarations of allocation and the worklist (tests/operations.py joins them to
OPERATIONS): allocateCases and myWorklist. Case.timeline is a field of Case, read wherever the
case is (tests/e2e/test_timeline.py covers its scoping).

allocateCases is for admins and managers (any team) and team leads (their own team only: another
team is TEAM_NOT_FOUND, as if it did not exist). myWorklist is for those who work cases: a
collector's and a team lead's own assigned OPEN cases, an agency user's agency's OPEN cases under
a current placement; everybody else is refused.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from store import tables
from tests.access import case_rule, staff_row
from tests.matrix import (
    CASE_TARGETS,
    Cell,
    Forbidden,
    Operation,
    Refused,
    Target,
    roles_holding,
)

c, s, ev = tables.cases.c, tables.staff.c, tables.case_events.c
PAYLOAD = "__typename ... on UserError { code field }"

# ---- allocateCases ------------------------------------------------------------------------------

ALLOCATE = f"""
mutation($input: AllocateCasesInput!) {{
  r: allocateCases(input: $input) {{
    {PAYLOAD}
    ... on AllocateCasesSuccess {{
      assignedCount unassignedCount assignments {{ case {{ id }} assignee {{ login }} }}
    }}
  }}
}}
"""


@dataclass
class TeamTarget(Target):
    """A case to allocate and the team to allocate it to."""

    team: str = ""


def allocate_variables(target: Target) -> dict[str, Any]:
    team = target.team if isinstance(target, TeamTarget) else ""
    return {
        "input": {
            "teamName": team,
            "strategy": "LEAST_LOADED",
            "filter": {"search": target.made.case.reference},
        }
    }


async def fresh_pool_case(cell: Cell) -> Target:
    """A new case in the pool, and a team within the caller's reach: a team lead's own (East),
    or, for those who may allocate to any team, a new one with one collector."""
    made = await cell.world.factory.case()
    role = cell.role
    if role.team is not None:
        return TeamTarget(case=made, team=role.team)
    team = f"Matrix-{uuid.uuid4().hex[:8]}"
    await cell.world.factory.staff(team=team, capacity=5)
    return TeamTarget(case=made, team=team)


async def aim_at_team(cell: Cell) -> Target:
    """The world's case inside (or outside) the caller's scope, and their team (or another)."""
    name = CASE_TARGETS[cell.login][0 if cell.inside is not False else 1]
    assert name is not None
    team = "East" if cell.inside is not False else "West"
    return TeamTarget(case=cell.world.cases[name], team=team)


async def expected_assignee(cell: Cell, team: str) -> str:
    """Who LEAST_LOADED picks in the team: the active internal collector or team lead carrying
    the fewest open cases, ties by login."""
    async with cell.engine.connect() as conn:
        members = (
            await conn.execute(
                select(s.id, s.login, s.roles, s.capacity).where(
                    s.team == team, s.active.is_(True), s.agency_id.is_(None)
                )
            )
        ).all()
        loads = {}
        for m in members:
            if {"collector", "team_lead"} & set(m.roles):
                stmt = select(func.count()).where(c.assignee_id == m.id, c.status != "CLOSED")
                carried = int((await conn.execute(stmt)).scalar_one())
                if carried < m.capacity:
                    loads[m.login] = carried
    return min(loads, key=lambda login: (loads[login], login))


async def allocation_state(cell: Cell) -> tuple[Any, ...]:
    made = cell.target.made
    async with cell.engine.connect() as conn:
        row = (
            await conn.execute(select(c.assignee_id, c.version).where(c.id == made.case.id))
        ).one()
        events = (
            await conn.execute(select(func.count()).where(ev.case_id == made.case.id))
        ).scalar_one()
    return tuple(row), events


async def check_allocate(op: Operation, cell: Cell) -> None:
    target = cell.target
    assert isinstance(target, TeamTarget)
    made = target.made
    who = await expected_assignee(cell, target.team)
    result, request_id = await cell.result(op.document, op.variables(target))
    assert result == {
        "__typename": "AllocateCasesSuccess",
        "assignedCount": 1,
        "unassignedCount": 0,
        "assignments": [{"case": {"id": made.gid}, "assignee": {"login": who}}],
    }
    async with cell.engine.connect() as conn:
        me = await staff_row(conn, who)
        row = (
            await conn.execute(select(c.assignee_id, c.version).where(c.id == made.case.id))
        ).one()
        events = (
            await conn.execute(select(ev.name, ev.data).where(ev.case_id == made.case.id))
        ).all()
    assert tuple(row) == (me.id, made.case.version + 1)
    assert [tuple(e) for e in events] == [
        ("CaseAssigned", {"assignee_id": me.id, "previous_assignee_id": None})
    ]
    entries = await cell.entries(request_id)
    assert [(x.action, x.outcome, x.case_ids) for x in entries] == [
        ("case.allocate", "ALLOWED", [made.case.id])
    ]


# ---- myWorklist ---------------------------------------------------------------------------------

WORKLIST = """
query {
  r: myWorklist(first: 100) {
    totalCount edges { node { case { id } reasons contactAllowedNow nextContactAt } }
  }
}
"""


async def fresh_own_case(cell: Cell) -> Target:
    """A new OPEN case the caller works: assigned to them, or placed with their agency."""
    role = cell.role
    if role.agency:
        return Target(case=await cell.world.factory.case(agency=role.agency, days_past_due=33))
    return Target(case=await cell.world.factory.case(assignee=cell.login, days_past_due=33))


async def own_open_cases(cell: Cell) -> set[int]:
    """The cases the caller works, from the documented rules: their scope, OPEN, and assigned
    to them (collector, team lead) or placed with their agency (agency staff)."""
    role = cell.role
    async with cell.engine.connect() as conn:
        me = await staff_row(conn, cell.login)
        own = c.agency_id == me.agency_id if role.agency else c.assignee_id == me.id
        stmt = select(c.id).where(await case_rule(conn, cell.login), own, c.status == "OPEN")
        return set((await conn.execute(stmt)).scalars())


async def check_worklist(op: Operation, cell: Cell) -> None:
    result, _ = await cell.result(op.document, {})
    made = cell.target.made
    ids = [e["node"]["case"]["id"] for e in result["edges"]]
    expected = await own_open_cases(cell)
    assert {int(_pk(gid)) for gid in ids} == expected
    assert result["totalCount"] == len(expected)
    node = next(e["node"] for e in result["edges"] if e["node"]["case"]["id"] == made.gid)
    assert node == {
        "case": {"id": made.gid},
        "reasons": ["DPD 33", "OUTSTANDING 20970.50 CNY"],
        "contactAllowedNow": False,  # no phone point: waiting will not help
        "nextContactAt": None,
    }
    # The case outside the caller's scope is never on it.
    outside = CASE_TARGETS[cell.login][1]
    if outside is not None:
        assert cell.world.cases[outside].gid not in ids


def _pk(gid: str) -> str:
    return base64.b64decode(gid).decode().partition(":")[2]


# ---- The declarations ---------------------------------------------------------------------------

WORK_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="allocateCases",
        field="allocateCases",
        document=ALLOCATE,
        variables=allocate_variables,
        allowed=roles_holding("case:allocate"),
        permission="case:allocate",
        denied=Forbidden("case:allocate"),
        check=check_allocate,
        # Outside a team lead's scope: another team, refused as if it did not exist.
        scope="case",
        outside=Refused("NotFoundError", "TEAM_NOT_FOUND", "teamName", "case.allocate"),
        fresh=fresh_pool_case,
        aim=aim_at_team,
        snapshot=allocation_state,
    ),
    Operation(
        name="myWorklist",
        field="myWorklist",
        document=WORKLIST,
        variables=lambda target: {},
        allowed=roles_holding("worklist:read"),
        permission="worklist:read",
        denied=Forbidden("worklist:read"),
        check=check_worklist,
        fresh=fresh_own_case,
    ),
)
