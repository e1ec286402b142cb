"""A generated authorisation matrix: every root operation × every demo role login × an object
inside and an object outside that role's scope, each cell asserting the exact outcome.

The expectations come from a small table per role written here from the rules (permissions,
row scope, masking), never from ``authz/``; the objects are picked from the database with SQL
built from the same table. Cells that change state (an allowed assign, place, recall or role
grant) run on cases no other cell of this module uses, and never on a case whose assignment
has changed before (version 1, no events); the role grant is undone in the same cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.ext.asyncio import AsyncEngine

from api.common.ids import to_global_id
from store import tables
from tests.helpers import Gql, agency_cases_rule

c, s, a, b, d = (
    tables.cases.c,
    tables.staff.c,
    tables.agencies.c,
    tables.borrowers.c,
    tables.debts.c,
)

# ---- The rules, as a table per role ------------------------------------------------------------

READ = frozenset({"case:read", "staff:read", "agency:read"})
MANAGE = frozenset({"case:assign", "case:place", "case:recall"})


def reveal(*fields: str) -> frozenset[str]:
    return frozenset(f"borrower:reveal:{field}" for field in fields)


@dataclass(frozen=True)
class Role:
    """What one demo login is: its roles, team or agency, permissions and case scope."""

    roles: tuple[str, ...]
    team: str | None
    agency: str | None
    permissions: frozenset[str]
    # all | own (assigned to me) | team (assigned to my team) | agency (placed with mine) | legal
    cases: str

    @property
    def internal(self) -> bool:
        return self.agency is None

    @property
    def sees_all_cases(self) -> bool:
        return self.cases == "all"

    @property
    def clear_through_legal_cases(self) -> bool:
        return "legal" in self.roles


ROLES: dict[str, Role] = {
    "admin": Role(("admin",), None, None, READ | MANAGE | {"role:grant", "audit:read"}, "all"),
    "manager": Role(
        ("manager",),
        None,
        None,
        READ | MANAGE | reveal("phone", "email", "address", "national_id"),
        "all",
    ),
    "lead1": Role(
        ("team_lead",), "East", None, READ | {"case:assign"} | reveal("phone", "email"), "team"
    ),
    "collector1": Role(("collector",), "East", None, READ | reveal("phone", "email"), "own"),
    "legal1": Role(
        ("legal",),
        None,
        None,
        READ | reveal("national_id", "phone", "email", "address", "employer", "income"),
        "legal",
    ),
    "auditor1": Role(("auditor",), None, None, READ | {"audit:read"}, "all"),
    "acme.manager": Role(
        ("agency_manager",), None, "Acme Recovery", READ | reveal("phone"), "agency"
    ),
    "acme.agent1": Role(("agency_agent",), None, "Acme Recovery", READ | reveal("phone"), "agency"),
    "zenith.agent1": Role(
        ("agency_agent",), None, "Zenith Collections", READ | reveal("phone"), "agency"
    ),
}


def masked(value: str) -> str:
    """First 3 + **** + last 4, as every role without a clear rule sees IDs and phones."""
    return f"{value[:3]}****{value[-4:]}"


# ---- Scopes compiled here, independently of authz/ ---------------------------------------------


async def me(engine: AsyncEngine, login: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(tables.staff).where(s.login == login))).one()


async def case_rule(engine: AsyncEngine, login: str) -> ColumnElement[bool]:
    """The WHERE clause over cases selecting what ``login`` may see, from ROLES."""
    role, row = ROLES[login], await me(engine, login)
    if role.cases == "all":
        return true()
    if role.cases == "own":
        return c.assignee_id == row.id
    if role.cases == "team":
        return c.assignee_id.in_(select(s.id).where(s.team == role.team))
    if role.cases == "legal":
        return c.stage == "LEGAL"
    agency_id = select(a.id).where(a.name == role.agency).scalar_subquery()
    return agency_cases_rule(agency_id)


async def in_scope_cases(engine: AsyncEngine, login: str) -> Any:
    """A subquery of the ids of the cases ``login`` may see."""
    return select(c.id).where(await case_rule(engine, login))


def staff_rule(login: str) -> ColumnElement[bool]:
    role = ROLES[login]
    if role.internal:
        return true()
    agency_id = select(a.id).where(a.name == role.agency, a.active.is_(True)).scalar_subquery()
    return s.agency_id == agency_id


def agency_rule(login: str) -> ColumnElement[bool]:
    role = ROLES[login]
    return true() if role.internal else (a.name == role.agency) & a.active.is_(True)


async def in_legal_proceedings(engine: AsyncEngine, borrower_id: int) -> bool:
    """Whether one of the borrower's cases is in stage LEGAL."""
    stmt = select(c.id).where(c.borrower_id == borrower_id, c.stage == "LEGAL")
    async with engine.connect() as conn:
        return (await conn.execute(stmt.limit(1))).first() is not None


# ---- Picking objects -------------------------------------------------------------------------

_taken: set[int] = set()  # cases changed by a cell of this module: never picked again


async def first_row(engine: AsyncEngine, stmt: Any) -> Any:
    async with engine.connect() as conn:
        row = (await conn.execute(stmt.limit(1))).one_or_none()
    assert row is not None, f"the demo portfolio has no object for {stmt}"
    return row


def untouched() -> list[ColumnElement[bool]]:
    """Cases whose assignment never changed, and that no cell of this module changed."""
    changed = select(tables.case_events.c.case_id)
    return [c.version == 1, c.id.not_in(changed), c.id.not_in(sorted(_taken) or [0])]


async def pick_case(engine: AsyncEngine, login: str, inside: bool, *where: Any) -> Any:
    """The highest-id case in (or out of) the login's scope that also matches ``where``."""
    visible = await in_scope_cases(engine, login)
    scope = c.id.in_(visible) if inside else c.id.not_in(visible)
    return await first_row(engine, select(tables.cases).where(scope, *where).order_by(c.id.desc()))


async def pick_borrower(engine: AsyncEngine, login: str, inside: bool) -> Any:
    """A borrower with a visible case (inside), or with none (outside)."""
    visible = select(c.borrower_id).where(c.id.in_(await in_scope_cases(engine, login)))
    scope = b.id.in_(visible) if inside else b.id.not_in(visible)
    return await first_row(engine, select(tables.borrowers).where(scope).order_by(b.id.desc()))


async def pick_debt(engine: AsyncEngine, login: str, inside: bool) -> Any:
    visible = await in_scope_cases(engine, login)
    scope = d.case_id.in_(visible) if inside else d.case_id.not_in(visible)
    return await first_row(engine, select(tables.debts).where(scope).order_by(d.id.desc()))


async def pick_staff(engine: AsyncEngine, login: str, inside: bool) -> Any:
    visible = select(s.id).where(staff_rule(login))
    scope = s.id.in_(visible) if inside else s.id.not_in(visible)
    return await first_row(engine, select(tables.staff).where(scope).order_by(s.id.desc()))


async def pick_agency(engine: AsyncEngine, login: str, inside: bool) -> Any:
    visible = select(a.id).where(agency_rule(login))
    scope = a.id.in_(visible) if inside else a.id.not_in(visible)
    return await first_row(engine, select(tables.agencies).where(scope).order_by(a.id.desc()))


async def case_state(engine: AsyncEngine, pk: int) -> tuple[Any, int]:
    """The case row and how many events it has."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(tables.cases).where(c.id == pk))).one()
        events = (
            await conn.execute(select(func.count()).where(tables.case_events.c.case_id == pk))
        ).scalar_one()
    return row, int(events)


async def event_names(engine: AsyncEngine, pk: int) -> list[str]:
    e = tables.case_events.c
    async with engine.connect() as conn:
        stmt = select(e.name).where(e.case_id == pk).order_by(e.id)
        return list((await conn.execute(stmt)).scalars())


async def roles_of(engine: AsyncEngine, login: str) -> list[str]:
    return list((await me(engine, login)).roles)


# ---- Queries -----------------------------------------------------------------------------------

VIEWER = "{ viewer { login roles team permissions agency { name } } }"
CASES = """
query($after: String) {
  cases(first: 100, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { reference } }
  }
}
"""
CASE = """
query($id: ID!) {
  r: case(id: $id) {
    id reference borrower { phone nationalId } assignee { login } agency { name }
  }
}
"""
NODE = """
query($id: ID!) {
  r: node(id: $id) {
    __typename id
    ... on Case { reference }
    ... on Borrower { phone nationalId }
    ... on Debt { accountNumber }
    ... on Staff { login }
    ... on Agency { name }
  }
}
"""
PAYLOAD = "__typename ... on UserError { code field }"
CHANGED = "case { id version assignee { login } agency { name } }"
ASSIGN = f"""
mutation($input: AssignCaseInput!) {{
  r: assignCase(input: $input) {{
    {PAYLOAD} ... on AssignCaseSuccess {{ {CHANGED} }}
  }}
}}
"""
PLACE = f"""
mutation($input: PlaceWithAgencyInput!) {{
  r: placeWithAgency(input: $input) {{
    {PAYLOAD}
    ... on PlaceWithAgencySuccess {{ {CHANGED} }}
  }}
}}
"""
RECALL = f"""
mutation($input: RecallFromAgencyInput!) {{
  r: recallFromAgency(input: $input) {{
    {PAYLOAD}
    ... on RecallFromAgencySuccess {{ {CHANGED} }}
  }}
}}
"""
REVEAL = f"""
mutation($input: RevealConfidentialInput!) {{
  r: revealConfidential(input: $input) {{
    {PAYLOAD} ... on RevealConfidentialSuccess {{ revealed value }}
  }}
}}
"""
GRANT = f"""
mutation($input: RoleChangeInput!) {{
  r: grantRole(input: $input) {{ {PAYLOAD} ... on RoleChangeSuccess {{ staff {{ login roles }} }} }}
}}
"""
REVOKE = f"""
mutation($input: RoleChangeInput!) {{
  r: revokeRole(input: $input) {{
    {PAYLOAD} ... on RoleChangeSuccess {{ staff {{ login roles }} }}
  }}
}}
"""


async def forbidden(gql: Gql, login: str, query: str, variables: dict[str, Any]) -> None:
    """The root field is refused by authorisation: FORBIDDEN, and no data at all."""
    response = await gql.raw(login, query, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [e["extensions"]["code"] for e in body.get("errors", [])] == ["FORBIDDEN"], body
    assert body["data"] is None, body


# ---- The cells ---------------------------------------------------------------------------------

PER_ROLE = ("cases", "viewer")
# An operation's object can lie outside the scope only for roles whose scope of that kind of
# object is not "everything": cases, borrowers and debts for the narrow case scopes; staff
# and agencies (and the staff a role change names) for agency users.
CASE_SCOPED = (
    "case",
    "nodeCase",
    "nodeBorrower",
    "nodeDebt",
    "assignCase",
    "placeWithAgency",
    "recallFromAgency",
    "revealConfidential",
)
STAFF_SCOPED = ("nodeStaff", "nodeAgency", "grantRole")


def has_outside(operation: str, login: str) -> bool:
    role = ROLES[login]
    if operation in CASE_SCOPED:
        return not role.sees_all_cases
    return not role.internal


CELLS = [(op, login, None) for op in PER_ROLE for login in ROLES] + [
    (op, login, inside)
    for op in (*CASE_SCOPED, *STAFF_SCOPED)
    for login in ROLES
    for inside in (True, False)
    if inside or has_outside(op, login)
]


def cell_id(cell: tuple[str, str, bool | None]) -> str:
    op, login, inside = cell
    return f"{op}-{login}" if inside is None else f"{op}-{login}-{'in' if inside else 'out'}"


def test_the_matrix_covers_every_root_field_and_role() -> None:
    from api.schema import schema

    graphql = schema._schema
    assert graphql.mutation_type is not None
    covered = {op for op, _login, _inside in CELLS}
    assert set(graphql.mutation_type.fields) == {
        "assignCase",
        "placeWithAgency",
        "recallFromAgency",
        "revealConfidential",
        "grantRole",
        "revokeRole",  # exercised with grantRole (FORBIDDEN cells and the grant's undo)
    }
    assert covered >= {"assignCase", "placeWithAgency", "recallFromAgency", "grantRole"}
    # auditTrail and accessHistory are the audit issue's (test_audit_trail.py).
    assert set(graphql.query_type.fields) == {
        "viewer",
        "node",
        "case",
        "cases",
        "auditTrail",
        "accessHistory",
    }
    assert {"viewer", "cases", "case", *(f"node{t}" for t in NODE_TYPES)} <= covered
    assert len(CELLS) == len({cell_id(cell) for cell in CELLS})


NODE_TYPES = ("Case", "Borrower", "Debt", "Staff", "Agency")


@pytest.mark.parametrize(("operation", "login", "inside"), CELLS, ids=map(cell_id, CELLS))
async def test_cell(
    gql: Gql, engine: AsyncEngine, operation: str, login: str, inside: bool | None
) -> None:
    role = ROLES[login]
    if operation == "viewer":
        await viewer_cell(gql, login, role)
    elif operation == "cases":
        await cases_cell(gql, engine, login)
    elif operation == "case":
        await case_cell(gql, engine, login, role, bool(inside))
    elif operation.startswith("node"):
        await node_cell(gql, engine, login, operation.removeprefix("node"), bool(inside))
    elif operation == "revealConfidential":
        await reveal_cell(gql, engine, login, role, bool(inside))
    elif operation == "grantRole":
        await grant_cell(gql, engine, login, role, bool(inside))
    else:
        await case_mutation_cell(gql, engine, operation, login, role, bool(inside))


async def viewer_cell(gql: Gql, login: str, role: Role) -> None:
    data = await gql(login, VIEWER)
    assert data["viewer"] == {
        "login": login,
        "roles": list(role.roles),
        "team": role.team,
        "permissions": sorted(role.permissions),
        "agency": {"name": role.agency} if role.agency else None,
    }


async def cases_cell(gql: Gql, engine: AsyncEngine, login: str) -> None:
    async with engine.connect() as conn:
        stmt = select(c.reference).where(await case_rule(engine, login))
        expected = set((await conn.execute(stmt)).scalars())
    references: list[str] = []
    totals: set[int] = set()
    after = None
    while True:
        connection = (await gql(login, CASES, {"after": after}))["cases"]
        totals.add(connection["totalCount"])
        references += [edge["node"]["reference"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert expected, f"the demo portfolio should give {login} some cases"
    assert len(references) == len(set(references)), "a case was listed twice"
    assert set(references) == expected
    assert totals == {len(expected)}


async def case_cell(gql: Gql, engine: AsyncEngine, login: str, role: Role, inside: bool) -> None:
    row = await pick_case(engine, login, inside)
    gid = to_global_id("Case", row.id)
    data = await gql(login, CASE, {"id": gid})
    if not inside:
        assert data["r"] is None
        return
    borrower = await first_row(engine, select(tables.borrowers).where(b.id == row.borrower_id))
    clear = role.clear_through_legal_cases and await in_legal_proceedings(engine, row.borrower_id)
    assignee = None
    if row.assignee_id is not None:
        staff = await first_row(engine, select(tables.staff).where(s.id == row.assignee_id))
        agency_of_staff = None
        if staff.agency_id is not None:
            agency_of_staff = (
                await first_row(engine, select(a.name).where(a.id == staff.agency_id))
            ).name
        if role.internal or agency_of_staff == role.agency:
            assignee = {"login": staff.login}
    agency = None
    if row.agency_id is not None:
        name = (await first_row(engine, select(a.name).where(a.id == row.agency_id))).name
        agency = {"name": name} if role.internal or name == role.agency else None
    assert data["r"] == {
        "id": gid,
        "reference": row.reference,
        "borrower": {
            "phone": borrower.phone if clear else masked(borrower.phone),
            "nationalId": borrower.national_id if clear else masked(borrower.national_id),
        },
        "assignee": assignee,
        "agency": agency,
    }


async def node_cell(
    gql: Gql, engine: AsyncEngine, login: str, type_name: str, inside: bool
) -> None:
    expected: dict[str, Any]
    if type_name == "Case":
        row = await pick_case(engine, login, inside)
        expected = {"reference": row.reference}
    elif type_name == "Borrower":
        row = await pick_borrower(engine, login, inside)
        # The same rule as through a case: clear for legal while in legal proceedings.
        clear = ROLES[login].clear_through_legal_cases and await in_legal_proceedings(
            engine, row.id
        )
        expected = {
            "phone": row.phone if clear else masked(row.phone),
            "nationalId": row.national_id if clear else masked(row.national_id),
        }
    elif type_name == "Debt":
        row = await pick_debt(engine, login, inside)
        expected = {"accountNumber": row.account_number}
    elif type_name == "Staff":
        row = await pick_staff(engine, login, inside)
        expected = {"login": row.login}
    else:
        row = await pick_agency(engine, login, inside)
        expected = {"name": row.name}
    gid = to_global_id(type_name, row.id)
    data = await gql(login, NODE, {"id": gid})
    if inside:
        assert data["r"] == {"__typename": type_name, "id": gid, **expected}
    else:
        assert data["r"] is None


async def reveal_cell(gql: Gql, engine: AsyncEngine, login: str, role: Role, inside: bool) -> None:
    borrower = await pick_borrower(engine, login, inside)
    variables = {
        "input": {
            "borrowerId": to_global_id("Borrower", borrower.id),
            "field": "PHONE",
            "reasonCode": "CONTACT_BORROWER",
            "reasonText": "authorisation matrix",
        }
    }
    result = (await gql(login, REVEAL, variables))["r"]
    if not inside:
        expected = {"__typename": "NotFoundError", "code": "BORROWER_NOT_FOUND"}
        expected["field"] = "borrowerId"
    elif "borrower:reveal:phone" not in role.permissions:
        expected = {"__typename": "RevealNotAllowedError", "code": "REVEAL_NOT_ALLOWED"}
        expected["field"] = "field"
    else:
        expected = {
            "__typename": "RevealConfidentialSuccess",
            "revealed": "PHONE",
            "value": borrower.phone,
        }
    assert result == expected


async def grant_cell(gql: Gql, engine: AsyncEngine, login: str, role: Role, inside: bool) -> None:
    if "role:grant" in role.permissions:
        # Only administrators may grant; they see every staff member, so only "in" exists.
        # collector9 (inactive, used by no other test) gets legal, which is undone at once.
        target, new_role = "collector9", "legal"
        before = await roles_of(engine, target)
        assert new_role not in before
        try:
            result = (await gql(login, GRANT, {"input": {"login": target, "role": new_role}}))["r"]
            assert result == {
                "__typename": "RoleChangeSuccess",
                "staff": {"login": target, "roles": [*before, new_role]},
            }
            assert await roles_of(engine, target) == [*before, new_role]
        finally:
            undo = (await gql(login, REVOKE, {"input": {"login": target, "role": new_role}}))["r"]
        assert undo == {
            "__typename": "RoleChangeSuccess",
            "staff": {"login": target, "roles": before},
        }
        assert await roles_of(engine, target) == before
        return
    # Everyone else: granting themselves admin (inside), or another agency's staff member an
    # agency role (outside), is refused before anything is looked at; nothing changes.
    if inside:
        target, new_role = login, "admin"
    else:
        target = (await pick_staff(engine, login, inside=False)).login
        new_role = "agency_manager"
    before = await roles_of(engine, target)
    for mutation in (GRANT, REVOKE):
        await forbidden(gql, login, mutation, {"input": {"login": target, "role": new_role}})
    assert await roles_of(engine, target) == before


async def case_mutation_cell(
    gql: Gql,
    engine: AsyncEngine,
    operation: str,
    login: str,
    role: Role,
    inside: bool,
) -> None:
    permission, query = {
        "assignCase": ("case:assign", ASSIGN),
        "placeWithAgency": ("case:place", PLACE),
        "recallFromAgency": ("case:recall", RECALL),
    }[operation]
    allowed = permission in role.permissions
    changes = allowed and inside
    open_ = [c.status == "OPEN"]
    if operation == "assignCase":
        assignee = "collector2"  # team East: within reach of every role that may assign
        if changes:
            holder = c.assignee_id.is_(None) if role.sees_all_cases else c.assignee_id.is_not(None)
            where = [
                *open_,
                *untouched(),
                holder,
                c.agency_id.is_(None),
                c.stage != "LEGAL",
                c.assignee_id.is_distinct_from(
                    select(s.id).where(s.login == assignee).scalar_subquery()
                ),
            ]
        else:
            where = open_
        extra: dict[str, Any] = {"assigneeLogin": assignee}
    elif operation == "placeWithAgency":
        where = (
            [
                *open_,
                *untouched(),
                c.assignee_id.is_(None),
                c.agency_id.is_(None),
                c.stage != "LEGAL",
            ]
            if changes
            else open_
        )
        extra = {"agencyName": "Acme Recovery"}
    else:
        acme = select(a.id).where(a.name == "Acme Recovery").scalar_subquery()
        where = [*open_, *untouched(), c.agency_id == acme] if changes else open_
        extra = {}
    row = await pick_case(engine, login, inside, *where)
    if changes:
        _taken.add(row.id)
    before, events_before = await case_state(engine, row.id)
    gid = to_global_id("Case", row.id)
    variables = {"input": {"caseId": gid, **extra}}

    if not allowed:
        await forbidden(gql, login, query, variables)
        assert await case_state(engine, row.id) == (before, events_before)
        return
    result = (await gql(login, query, variables))["r"]
    if not inside:
        assert result == {
            "__typename": "NotFoundError",
            "code": "CASE_NOT_FOUND",
            "field": "caseId",
        }
        assert await case_state(engine, row.id) == (before, events_before)
        return
    after, _events = await case_state(engine, row.id)
    expected_case: dict[str, Any] = {"id": gid, "version": before.version + 1}
    if operation == "assignCase":
        expected_case |= {"assignee": {"login": "collector2"}, "agency": None}
        event = "CaseAssigned"
        assert after.assignee_id == (await me(engine, "collector2")).id
    elif operation == "placeWithAgency":
        expected_case |= {"assignee": None, "agency": {"name": "Acme Recovery"}}
        event = "CasePlaced"
        assert (after.assignee_id, after.placed_at is not None) == (None, True)
    else:
        expected_case |= {"assignee": None, "agency": None}
        event = "CaseRecalled"
        assert (after.assignee_id, after.agency_id) == (None, None)
    assert result == {
        "__typename": operation[0].upper() + operation[1:] + "Success",
        "case": expected_case,
    }
    assert after.version == before.version + 1
    assert await event_names(engine, row.id) == [event]
