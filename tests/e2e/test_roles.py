"""grantRole / revokeRole propose a role change; approved by a second person (approveRuleChange)
it is effective on the next request (also in another server process); typed refusals, and a
policy.change audit row for every step and every change of roles. That only administrators may
propose role changes (FORBIDDEN, an authz.denied entry, nothing changed) is a cell of the access
matrix (tests/operations.py, tests/e2e/test_access_matrix.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth import mint_token
from api.settings import Settings
from store import tables
from tests.conftest import TEST_SECRET
from tests.factories import Factory, global_id
from tests.helpers import Gql
from tests.servers import running_server

s, audit = tables.staff.c, tables.audit_entries.c

CHANGE = """
mutation Change($input: RoleChangeInput!, $grant: Boolean!) {
  grantRole(input: $input) @include(if: $grant) {
    __typename ... on RoleChangeSuccess { staff { id login roles } change { id kind status } }
    ... on UserError { code field message }
  }
  revokeRole(input: $input) @skip(if: $grant) {
    __typename ... on RoleChangeSuccess { staff { id login roles } change { id kind status } }
    ... on UserError { code field message }
  }
}
"""
APPROVE = """
mutation Approve($id: ID!) {
  approveRuleChange(input: {changeId: $id}) {
    __typename ... on ApproveRuleChangeSuccess { staff { id login roles } }
    ... on UserError { code field message }
  }
}
"""
CHECKER = "manager"  # approves what the admin proposes
PERMISSIONS = "{ viewer { login roles permissions } }"


async def staff_row(engine: AsyncEngine, login: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(tables.staff).where(s.login == login))).one()


async def last_audit_id(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.coalesce(func.max(audit.id), 0)))).scalar_one())


async def policy_rows(engine: AsyncEngine, after_id: int) -> list[Any]:
    async with engine.connect() as conn:
        stmt = (
            select(tables.audit_entries)
            .where(audit.id > after_id, audit.action == "policy.change")
            .order_by(audit.id)
        )
        return list((await conn.execute(stmt)).all())


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    """Makes rows in the shared demo database and removes them after the test."""
    made = Factory(engine)
    try:
        yield made
    finally:
        await made.cleanup()


async def change(gql: Gql, login: str, role: str, grant: bool, actor: str = "admin") -> Any:
    """The proposal's payload."""
    variables = {"input": {"login": login, "role": role, "reason": "covers the team"}}
    data = await gql(actor, CHANGE, {**variables, "grant": grant})
    return data["grantRole" if grant else "revokeRole"]


async def approve(gql: Gql, proposed: Any, checker: str = CHECKER) -> Any:
    assert proposed["__typename"] == "RoleChangeSuccess", proposed
    assert proposed["change"]["status"] == "PENDING"
    return (await gql(checker, APPROVE, {"id": proposed["change"]["id"]}))["approveRuleChange"]


async def test_a_granted_role_applies_on_the_next_request_and_a_revoke_removes_it(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    target = await factory.staff(roles=("collector",), team="East")
    login, original = target.login, ["collector"]
    staff_gid = global_id("Staff", target.id)
    assert "case:assign" not in (await gql(login, PERMISSIONS))["viewer"]["permissions"]
    since = await last_audit_id(engine)
    proposed = await change(gql, login, "team_lead", grant=True)
    assert proposed["staff"] == {"id": staff_gid, "login": login, "roles": original}
    assert proposed["change"]["kind"] == "ROLE_GRANT"
    # Nothing changes before a second person approves.
    assert (await gql(login, PERMISSIONS))["viewer"]["roles"] == original
    granted = await approve(gql, proposed)
    assert granted == {
        "__typename": "ApproveRuleChangeSuccess",
        "staff": {"id": staff_gid, "login": login, "roles": [*original, "team_lead"]},
    }
    viewer = (await gql(login, PERMISSIONS))["viewer"]
    assert viewer["roles"] == [*original, "team_lead"]
    assert "case:assign" in viewer["permissions"]

    revoked = await approve(gql, await change(gql, login, "team_lead", grant=False))
    assert revoked["staff"]["roles"] == original
    viewer = (await gql(login, PERMISSIONS))["viewer"]
    assert viewer["roles"] == original
    assert "case:assign" not in viewer["permissions"]
    assert list((await staff_row(engine, login)).roles) == original

    rows = await policy_rows(engine, since)
    assert [(r.actor_login, r.resource_type, (r.changes or {}).get("change")) for r in rows] == [
        ("admin", "RuleChange", "PROPOSED"),
        (CHECKER, "Staff", None),
        (CHECKER, "RuleChange", "APPROVED"),
        ("admin", "RuleChange", "PROPOSED"),
        (CHECKER, "Staff", None),
        (CHECKER, "RuleChange", "APPROVED"),
    ]
    assert [
        (r.actor_login, r.outcome, r.resource_ids, r.changes)
        for r in rows
        if r.resource_type == "Staff"
    ] == [
        (
            CHECKER,
            "ALLOWED",
            [staff_gid],
            {"roles": {"before": original, "after": [*original, "team_lead"]}},
        ),
        (
            CHECKER,
            "ALLOWED",
            [staff_gid],
            {"roles": {"before": [*original, "team_lead"], "after": original}},
        ),
    ]


async def test_granting_a_role_already_held_is_refused(gql: Gql, engine: AsyncEngine) -> None:
    before = list((await staff_row(engine, "collector3")).roles)
    since = await last_audit_id(engine)
    result = await change(gql, "collector3", "collector", grant=True)
    assert (result["__typename"], result["code"], result["field"]) == (
        "ValidationError",
        "CHANGE_INVALID",
        "role",
    )
    assert list((await staff_row(engine, "collector3")).roles) == before
    rows = await policy_rows(engine, since)
    assert [(r.outcome, r.changes["refused"]) for r in rows] == [("DENIED", "CHANGE_INVALID")]


@pytest.mark.parametrize(
    ("login", "role", "grant", "code", "typename"),
    [
        pytest.param(
            "collector3", "overlord", True, "UNKNOWN_ROLE", "ValidationError", id="unknown-role"
        ),
        pytest.param(
            "collector3", "", False, "UNKNOWN_ROLE", "ValidationError", id="empty-role-revoke"
        ),
        pytest.param(
            "collector3",
            "agency_agent",
            True,
            "ROLE_NOT_APPLICABLE",
            "RuleViolationError",
            id="agency-role-to-internal-staff",
        ),
        pytest.param(
            "acme.agent1",
            "manager",
            True,
            "ROLE_NOT_APPLICABLE",
            "RuleViolationError",
            id="internal-role-to-agency-staff",
        ),
        pytest.param(
            "admin",
            "admin",
            False,
            "CANNOT_REVOKE_OWN_ADMIN",
            "RuleViolationError",
            id="admin-revokes-own-admin",
        ),
        pytest.param(
            "ghost", "collector", True, "STAFF_NOT_FOUND", "NotFoundError", id="unknown-login"
        ),
    ],
)
async def test_refused_role_changes_are_typed_audited_and_change_nothing(
    gql: Gql,
    engine: AsyncEngine,
    login: str,
    role: str,
    grant: bool,
    code: str,
    typename: str,
) -> None:
    async with engine.connect() as conn:
        before = dict((await conn.execute(select(s.login, s.roles))).all())
    since = await last_audit_id(engine)
    result = await change(gql, login, role, grant)
    field = "login" if code == "STAFF_NOT_FOUND" else "role"
    assert (result["__typename"], result["code"], result["field"]) == (typename, code, field)
    assert result["message"]
    async with engine.connect() as conn:
        assert dict((await conn.execute(select(s.login, s.roles))).all()) == before
    rows = await policy_rows(engine, since)
    assert [(r.actor_login, r.outcome, r.changes) for r in rows] == [
        (
            "admin",
            "DENIED",
            {"login": login, "role": role, "grant": grant, "refused": code},
        )
    ]


# ---- Two server processes on one database ------------------------------------------------------


@pytest.fixture(scope="module")
def two_servers(
    engine: object, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    """Servers A and B: `python -m api.cli serve` on loopback, same database and key."""
    logs_dir = tmp_path_factory.mktemp("two-servers")
    with (
        running_server(database_url, logs_dir / "a.log", env=None) as a,
        running_server(database_url, logs_dir / "b.log", env=None) as b,
    ):
        yield [a, b]


def _post(base: str, login: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    settings = Settings(secret_key=TEST_SECRET)
    response = httpx.post(
        f"{base}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {mint_token(settings, login)}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def _permissions(base: str, login: str) -> list[str]:
    return list(_post(base, login, PERMISSIONS)["viewer"]["permissions"])


def _wait_until(condition: Any, what: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


LEGAL_COUNT = "{ cases(filter: {stage: [LEGAL]}) { totalCount } }"


async def test_a_role_granted_through_one_process_takes_effect_in_the_other(
    two_servers: list[str], engine: AsyncEngine, factory: Factory
) -> None:
    server_a, server_b = two_servers
    me = await factory.staff(roles=("collector",), team="West")
    login, role, permission = me.login, "legal", "borrower:reveal:national_id"
    # A legal-stage case of their own, and one of nobody's: legal sees both.
    await factory.case(stage="LEGAL", classification="SEVERE", assignee=login)
    await factory.case(stage="LEGAL", classification="SEVERE")
    c = tables.cases.c
    async with engine.connect() as conn:
        all_legal = (
            await conn.execute(select(func.count()).where(c.stage == "LEGAL"))
        ).scalar_one()
        own_legal = (
            await conn.execute(
                select(func.count()).where(c.stage == "LEGAL", c.assignee_id == me.id)
            )
        ).scalar_one()
    assert all_legal > own_legal == 1
    viewer = _post(server_a, login, PERMISSIONS)["viewer"]
    original = list(viewer["roles"])
    assert role not in original and permission not in viewer["permissions"]
    assert permission not in _permissions(server_b, login)  # B has answered before the grant
    variables = {"input": {"login": login, "role": role, "reason": "cover"}, "grant": True}
    try:
        proposed = _post(server_a, "admin", CHANGE, variables)["grantRole"]
        approval = {"id": proposed["change"]["id"]}
        granted = _post(server_a, CHECKER, APPROVE, approval)["approveRuleChange"]
        assert granted["staff"]["roles"] == [*original, role]
        _wait_until(
            lambda: permission in _permissions(server_b, login),
            "server B never saw the grant made through A",
        )
        # The new role widens the row scope in B too: legal-stage cases become visible.
        assert _post(server_b, login, LEGAL_COUNT)["cases"]["totalCount"] == all_legal

        proposed = _post(server_b, "admin", CHANGE, {**variables, "grant": False})["revokeRole"]
        approval = {"id": proposed["change"]["id"]}
        revoked = _post(server_b, CHECKER, APPROVE, approval)["approveRuleChange"]
        assert revoked["staff"]["roles"] == original
        _wait_until(
            lambda: permission not in _permissions(server_a, login),
            "server A never saw the revocation made through B",
        )
        assert _post(server_a, login, LEGAL_COUNT)["cases"]["totalCount"] == own_legal
    finally:
        roles = _post(server_a, login, PERMISSIONS)["viewer"]["roles"]
        if role in roles and role not in original:
            undo = _post(server_a, "admin", CHANGE, {**variables, "grant": False})["revokeRole"]
            _post(server_a, CHECKER, APPROVE, {"id": undo["change"]["id"]})
    assert _post(server_b, login, PERMISSIONS)["viewer"]["roles"] == original
