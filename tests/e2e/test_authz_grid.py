"""A generated grid: every query and mutation × every demo role × an object in and out of the
role's scope, each cell asserting the exact outcome. Mutations are sent with a stale
expectedVersion (or an unknown role), so a cell that passes authorisation and scoping answers
CONFLICT (or UNKNOWN_ROLE) and changes nothing; out of scope answers NOT_FOUND; no permission
answers FORBIDDEN."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.common.ids import to_global_id
from store import tables
from tests.helpers import Gql, agency_cases_rule

c, s = tables.cases.c, tables.staff.c

# role login → (permissions held, reveal:phone held)
ROLES: dict[str, tuple[set[str], bool]] = {
    "admin": ({"assign", "place", "recall", "grant"}, False),
    "manager": ({"assign", "place", "recall"}, True),
    "lead1": ({"assign"}, True),
    "collector1": (set(), True),
    "legal1": (set(), True),
    "auditor1": (set(), False),
    "acme.manager": (set(), True),
    "acme.agent1": (set(), True),
    "zenith.agent1": (set(), True),
}
SEES_ALL = {"admin", "manager", "auditor1"}


async def pick(engine: AsyncEngine, login: str, inside: bool) -> tuple[int, int] | None:
    """Returns (case id, borrower id) of an open, unplaced-or-placed case in or out of scope."""
    async with engine.connect() as conn:
        me = (await conn.execute(select(tables.staff).where(s.login == login))).one()
        if login in SEES_ALL:
            rule = c.id > 0
        elif "team_lead" in me.roles:
            rule = c.assignee_id.in_(select(s.id).where(s.team == me.team))
        elif "collector" in me.roles:
            rule = c.assignee_id == me.id
        elif "legal" in me.roles:
            rule = c.stage == "LEGAL"
        else:
            rule = agency_cases_rule(me.agency_id)
        where = rule if inside else ~rule
        row = (
            await conn.execute(
                select(c.id, c.borrower_id)
                .where(where, c.status == "OPEN")
                .order_by(c.id.desc())
                .limit(1)
            )
        ).one_or_none()
    return (row.id, row.borrower_id) if row else None


MUTATIONS = {
    "assignCase": (
        "assign",
        'assignCase(input: {caseId: $id, assigneeLogin: "collector1", expectedVersion: 999})',
    ),
    "placeWithAgency": (
        "place",
        'placeWithAgency(input: {caseId: $id, agencyName: "Acme Recovery", expectedVersion: 999})',
    ),
    "recallFromAgency": ("recall", "recallFromAgency(input: {caseId: $id, expectedVersion: 999})"),
}
CELLS = [
    (op, login, inside)
    for op in [*MUTATIONS, "case", "nodeBorrower", "nodeDebt", "revealConfidential", "grantRole"]
    for login in ROLES
    for inside in (True, False)
]


@pytest.mark.parametrize(
    ("operation", "login", "inside"),
    CELLS,
    ids=[f"{op}-{login}-{'in' if inside else 'out'}" for op, login, inside in CELLS],
)
async def test_cell(
    gql: Gql, engine: AsyncEngine, operation: str, login: str, inside: bool
) -> None:
    target = await pick(engine, login, inside)
    if target is None:
        assert login in SEES_ALL and not inside  # only "everything" roles have no outside
        return
    case_id, borrower_id = target
    case_gid = to_global_id("Case", case_id)
    held, reveals_phone = ROLES[login]
    if operation in MUTATIONS:
        permission, call = MUTATIONS[operation]
        query = f"mutation($id: ID!) {{ r: {call} {{ __typename ... on UserError {{ code }} }} }}"
        response = await gql.raw(login, query, {"id": case_gid})
        body = response.json()
        if permission not in held:
            assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
            return
        expected = "CONFLICT" if inside else "CASE_NOT_FOUND"
        assert body["data"]["r"]["code"] == expected
    elif operation in ("case", "nodeBorrower", "nodeDebt"):
        gid = case_gid
        if operation == "nodeBorrower":
            gid = to_global_id("Borrower", borrower_id)
        elif operation == "nodeDebt":
            async with engine.connect() as conn:
                debt_id = (
                    await conn.execute(
                        select(tables.debts.c.id).where(tables.debts.c.case_id == case_id).limit(1)
                    )
                ).scalar_one()
            gid = to_global_id("Debt", debt_id)
        field = "case" if operation == "case" else "node"
        data = await gql(login, f"query($id: ID!) {{ r: {field}(id: $id) {{ id }} }}", {"id": gid})
        assert data["r"] == ({"id": gid} if inside else None)
    elif operation == "revealConfidential":
        query = """mutation($id: ID!) { r: revealConfidential(input: {borrowerId: $id,
            field: PHONE, reasonCode: CONTACT_BORROWER, reasonText: "grid check"}) {
            __typename ... on UserError { code } } }"""
        data = await gql(login, query, {"id": to_global_id("Borrower", borrower_id)})
        if not inside:
            expected = "NotFoundError"
        elif not reveals_phone:
            expected = "RevealNotAllowedError"
        else:
            expected = "RevealConfidentialSuccess"
        assert data["r"]["__typename"] == expected
    else:
        for mutation in ("grantRole", "revokeRole"):
            query = f"""mutation {{ r: {mutation}(input: {{login: "collector3", role: "x"}}) {{
                __typename ... on UserError {{ code }} }} }}"""
            body = (await gql.raw(login, query)).json()
            if "grant" not in held:
                assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
            else:
                assert body["data"]["r"]["code"] == "UNKNOWN_ROLE"


def test_the_grid_covers_every_root_field() -> None:
    from api.schema import schema

    graphql = schema._schema
    assert graphql.mutation_type is not None
    assert set(graphql.mutation_type.fields) == {
        *MUTATIONS,
        "revealConfidential",
        "grantRole",
        "revokeRole",
    }
    # cases and the auditor queries have tests of their own (test_scopes, test_audit_sequence)
    assert set(graphql.query_type.fields) == {
        "viewer",
        "node",
        "case",
        "cases",
        "auditTrail",
        "accessHistory",
    }
