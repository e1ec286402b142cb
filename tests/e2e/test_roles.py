"""grantRole / revokeRole: administrators only, effective on the next request (also in another
server process), typed refusals, and a policy.change audit row for every change."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth import mint_token
from api.common.ids import to_global_id
from api.settings import Settings
from store import tables
from tests.conftest import TEST_SECRET
from tests.helpers import Gql
from tests.servers import running_server

s, audit = tables.staff.c, tables.audit_entries.c

CHANGE = """
mutation Change($input: RoleChangeInput!, $grant: Boolean!) {
  grantRole(input: $input) @include(if: $grant) {
    __typename ... on RoleChangeSuccess { staff { id login roles } }
    ... on UserError { code field message }
  }
  revokeRole(input: $input) @skip(if: $grant) {
    __typename ... on RoleChangeSuccess { staff { id login roles } }
    ... on UserError { code field message }
  }
}
"""
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


async def change(gql: Gql, login: str, role: str, grant: bool, actor: str = "admin") -> Any:
    data = await gql(actor, CHANGE, {"input": {"login": login, "role": role}, "grant": grant})
    return data["grantRole" if grant else "revokeRole"]


async def restore(gql: Gql, engine: AsyncEngine, login: str, roles: list[str]) -> None:
    """Puts the staff member's roles back as they were (through the API, as an admin)."""
    current = list((await staff_row(engine, login)).roles)
    for role in current:
        if role not in roles:
            await change(gql, login, role, grant=False)
    for role in roles:
        if role not in current:
            await change(gql, login, role, grant=True)
    assert sorted((await staff_row(engine, login)).roles) == sorted(roles)


async def test_a_granted_role_applies_on_the_next_request_and_a_revoke_removes_it(
    gql: Gql, engine: AsyncEngine
) -> None:
    target = await staff_row(engine, "collector2")
    original = list(target.roles)
    assert "team_lead" not in original
    staff_gid = to_global_id("Staff", target.id)
    assert "case:assign" not in (await gql("collector2", PERMISSIONS))["viewer"]["permissions"]
    since = await last_audit_id(engine)
    try:
        granted = await change(gql, "collector2", "team_lead", grant=True)
        assert granted == {
            "__typename": "RoleChangeSuccess",
            "staff": {"id": staff_gid, "login": "collector2", "roles": [*original, "team_lead"]},
        }
        viewer = (await gql("collector2", PERMISSIONS))["viewer"]
        assert viewer["roles"] == [*original, "team_lead"]
        assert "case:assign" in viewer["permissions"]

        revoked = await change(gql, "collector2", "team_lead", grant=False)
        assert revoked["staff"]["roles"] == original
        viewer = (await gql("collector2", PERMISSIONS))["viewer"]
        assert viewer["roles"] == original
        assert "case:assign" not in viewer["permissions"]
    finally:
        await restore(gql, engine, "collector2", original)

    rows = await policy_rows(engine, since)
    assert [
        (r.actor_login, r.outcome, r.resource_type, r.resource_ids, r.changes) for r in rows
    ] == [
        (
            "admin",
            "ALLOWED",
            "Staff",
            [staff_gid],
            {"roles": {"before": original, "after": [*original, "team_lead"]}},
        ),
        (
            "admin",
            "ALLOWED",
            "Staff",
            [staff_gid],
            {"roles": {"before": [*original, "team_lead"], "after": original}},
        ),
    ]


async def test_granting_a_role_already_held_changes_nothing(gql: Gql, engine: AsyncEngine) -> None:
    before = list((await staff_row(engine, "collector3")).roles)
    since = await last_audit_id(engine)
    result = await change(gql, "collector3", "collector", grant=True)
    assert result["__typename"] == "RoleChangeSuccess"
    assert result["staff"]["roles"] == before
    assert list((await staff_row(engine, "collector3")).roles) == before
    assert await policy_rows(engine, since) == []


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


NON_ADMINS = [
    "manager",
    "lead1",
    "collector1",
    "legal1",
    "auditor1",
    "acme.manager",
    "acme.agent1",
    "zenith.agent1",
]


@pytest.mark.parametrize("grant", [True, False], ids=["grant", "revoke"])
@pytest.mark.parametrize("actor", NON_ADMINS)
async def test_only_admins_change_roles(
    gql: Gql, engine: AsyncEngine, actor: str, grant: bool
) -> None:
    # The most tempting change for each: making themselves admin, or stripping the admin.
    login, role = (actor, "admin") if grant else ("admin", "admin")
    before = list((await staff_row(engine, login)).roles)
    since = await last_audit_id(engine)
    response = await gql.raw(
        actor, CHANGE, {"input": {"login": login, "role": role}, "grant": grant}
    )
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
    assert body["data"] is None
    assert list((await staff_row(engine, login)).roles) == before
    assert await policy_rows(engine, since) == []
    async with engine.connect() as conn:
        denied = (
            (
                await conn.execute(
                    select(audit.changes).where(
                        audit.id > since, audit.actor_login == actor, audit.action == "authz.denied"
                    )
                )
            )
            .scalars()
            .all()
        )
    mutation = "grantRole" if grant else "revokeRole"
    assert denied == [{"permission": "role:grant", "field": mutation}]


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
    two_servers: list[str], engine: AsyncEngine
) -> None:
    server_a, server_b = two_servers
    login, role, permission = "collector3", "legal", "borrower:reveal:national_id"
    me = await staff_row(engine, login)
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
    assert all_legal > own_legal
    viewer = _post(server_a, login, PERMISSIONS)["viewer"]
    original = list(viewer["roles"])
    assert role not in original and permission not in viewer["permissions"]
    assert permission not in _permissions(server_b, login)  # B has answered before the grant
    variables = {"input": {"login": login, "role": role}, "grant": True}
    try:
        granted = _post(server_a, "admin", CHANGE, variables)["grantRole"]
        assert granted["staff"]["roles"] == [*original, role]
        _wait_until(
            lambda: permission in _permissions(server_b, login),
            "server B never saw the grant made through A",
        )
        # The new role widens the row scope in B too: legal-stage cases become visible.
        assert _post(server_b, login, LEGAL_COUNT)["cases"]["totalCount"] == all_legal

        revoked = _post(server_b, "admin", CHANGE, {**variables, "grant": False})["revokeRole"]
        assert revoked["staff"]["roles"] == original
        _wait_until(
            lambda: permission not in _permissions(server_a, login),
            "server A never saw the revocation made through B",
        )
        assert _post(server_a, login, LEGAL_COUNT)["cases"]["totalCount"] == own_legal
    finally:
        roles = _post(server_a, login, PERMISSIONS)["viewer"]["roles"]
        if role in roles and role not in original:
            _post(server_a, "admin", CHANGE, {**variables, "grant": False})
    assert _post(server_b, login, PERMISSIONS)["viewer"]["roles"] == original
