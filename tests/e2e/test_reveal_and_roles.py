"""revealConfidential, masked-field filters, and role changes (also across two processes)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.common.ids import to_global_id
from api.settings import Settings
from store import tables
from tests.helpers import Gql

c, s, b = tables.cases.c, tables.staff.c, tables.borrowers.c

REVEAL = """
mutation Reveal($input: RevealConfidentialInput!) {
  revealConfidential(input: $input) {
    __typename
    ... on RevealConfidentialSuccess { revealed value }
    ... on UserError { code message field }
    ... on RateLimitedError { retryAfterSeconds }
  }
}
"""


async def borrower_of(engine: AsyncEngine, login: str, *where: Any) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                select(tables.borrowers)
                .join(tables.cases, c.borrower_id == b.id)
                .join(tables.staff, s.id == c.assignee_id)
                .where(s.login == login, *where)
                .order_by(b.id)
                .limit(1)
            )
        ).one()


def reveal_input(borrower_id: int, field: str, text: str = "calling back") -> dict[str, Any]:
    return {
        "input": {
            "borrowerId": to_global_id("Borrower", borrower_id),
            "field": field,
            "reasonCode": "CONTACT_BORROWER",
            "reasonText": text,
        }
    }


async def reveal_rows(engine: AsyncEngine, login: str) -> list[Any]:
    a = tables.audit_entries.c
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    select(tables.audit_entries)
                    .where(a.actor_login == login, a.action == "borrower.reveal")
                    .order_by(a.id)
                )
            ).all()
        )


async def test_reveal_returns_the_clear_value_and_is_audited_without_it(
    gql: Gql, engine: AsyncEngine
) -> None:
    borrower = await borrower_of(engine, "collector1")
    before = len(await reveal_rows(engine, "collector1"))
    data = await gql("collector1", REVEAL, reveal_input(borrower.id, "PHONE"))
    assert data["revealConfidential"] == {
        "__typename": "RevealConfidentialSuccess",
        "revealed": "PHONE",
        "value": borrower.phone,
    }
    rows = (await reveal_rows(engine, "collector1"))[before:]
    assert [(r.outcome, r.fields, r.reason_code, r.reason_text) for r in rows] == [
        ("ALLOWED", [{"name": "phone", "clear": True}], "CONTACT_BORROWER", "calling back")
    ]
    assert borrower.phone not in str(rows[0]._mapping)


@pytest.mark.parametrize(
    ("login", "owner", "field", "text", "typename", "code", "error_field"),
    [
        (
            "collector1",
            "collector1",
            "NATIONAL_ID",
            "why",
            "RevealNotAllowedError",
            "REVEAL_NOT_ALLOWED",
            "field",
        ),
        (
            "auditor1",
            "collector1",
            "PHONE",
            "why",
            "RevealNotAllowedError",
            "REVEAL_NOT_ALLOWED",
            "field",
        ),
        (
            "admin",
            "collector1",
            "PHONE",
            "why",
            "RevealNotAllowedError",
            "REVEAL_NOT_ALLOWED",
            "field",
        ),
        (
            "collector1",
            "collector3",
            "PHONE",
            "why",
            "NotFoundError",
            "BORROWER_NOT_FOUND",
            "borrowerId",
        ),
        (
            "collector1",
            "collector1",
            "PHONE",
            "   ",
            "ValidationError",
            "REASON_REQUIRED",
            "reasonText",
        ),
    ],
)
async def test_refused_reveals_are_typed_and_audited(
    gql: Gql,
    engine: AsyncEngine,
    login: str,
    owner: str,
    field: str,
    text: str,
    typename: str,
    code: str,
    error_field: str,
) -> None:
    borrower = await borrower_of(engine, owner)
    before = len(await reveal_rows(engine, login))
    result = (await gql(login, REVEAL, reveal_input(borrower.id, field, text)))[
        "revealConfidential"
    ]
    assert (result["__typename"], result["code"], result["field"]) == (typename, code, error_field)
    assert "value" not in result
    rows = (await reveal_rows(engine, login))[before:]
    assert [(r.outcome, r.changes) for r in rows] == [("DENIED", {"refused": code})]


async def test_unknown_and_out_of_scope_borrowers_look_the_same(
    gql: Gql, engine: AsyncEngine
) -> None:
    hidden = await borrower_of(engine, "collector3")
    out_of_scope = await gql("collector1", REVEAL, reveal_input(hidden.id, "PHONE"))
    missing = await gql("collector1", REVEAL, reveal_input(10**7, "PHONE"))
    assert out_of_scope == missing


async def test_reveals_are_rate_limited_per_caller(engine: AsyncEngine, settings: Settings) -> None:
    limited = settings.model_copy(update={"reveal_limit_per_hour": 2})
    app = create_app(limited, engine=engine)
    borrower = await borrower_of(engine, "collector2")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            gql = Gql(client, limited)
            already = len(
                [r for r in await reveal_rows(engine, "collector2") if r.outcome == "ALLOWED"]
            )
            results = [
                (await gql("collector2", REVEAL, reveal_input(borrower.id, "EMAIL")))[
                    "revealConfidential"
                ]
                for _ in range(3)
            ]
    allowed = max(0, 2 - already)
    kinds = [r["__typename"] for r in results]
    assert kinds == ["RevealConfidentialSuccess"] * allowed + ["RateLimitedError"] * (3 - allowed)
    assert results[-1]["code"] == "RATE_LIMITED" and results[-1]["retryAfterSeconds"] == 3600


FILTER = "query($f: CaseFilter) { cases(first: 100, filter: $f) { edges { node { reference } } } }"


async def test_filtering_on_a_masked_field_is_refused(gql: Gql, engine: AsyncEngine) -> None:
    borrower = await borrower_of(engine, "collector1")
    errors = await gql.errors("collector1", FILTER, {"f": {"borrowerPhone": borrower.phone}})
    assert [e["extensions"]["code"] for e in errors] == ["MASKED_FIELD"]
    assert borrower.phone not in str(errors)
    errors = await gql.errors(
        "manager", FILTER, {"f": {"borrowerNationalId": borrower.national_id}}
    )
    assert [e["extensions"]["code"] for e in errors] == ["MASKED_FIELD"]


async def test_legal_filters_on_what_it_sees_in_clear(gql: Gql, engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(b.phone, c.reference)
                .join(tables.cases, c.borrower_id == b.id)
                .where(c.stage == "LEGAL")
                .limit(1)
            )
        ).one()
    data = await gql("legal1", FILTER, {"f": {"borrowerPhone": row.phone}})
    assert row.reference in [e["node"]["reference"] for e in data["cases"]["edges"]]


ROLE = """
mutation($input: RoleChangeInput!, $grant: Boolean!) {
  grantRole(input: $input) @include(if: $grant) {
    __typename ... on RoleChangeSuccess { staff { roles } } ... on UserError { code field }
  }
  revokeRole(input: $input) @skip(if: $grant) {
    __typename ... on RoleChangeSuccess { staff { roles } } ... on UserError { code field }
  }
}
"""
PERMISSIONS = "{ viewer { permissions } }"


async def change(gql: Gql, login: str, role: str, grant: bool, actor: str = "admin") -> Any:
    data = await gql(actor, ROLE, {"input": {"login": login, "role": role}, "grant": grant})
    return data["grantRole" if grant else "revokeRole"]


async def test_role_changes_apply_on_the_next_request(gql: Gql) -> None:
    assert (
        "borrower:reveal:address"
        not in (await gql("collector3", PERMISSIONS))["viewer"]["permissions"]
    )
    try:
        granted = await change(gql, "collector3", "legal", True)
        assert granted["staff"]["roles"] == ["collector", "legal"]
        assert (
            "borrower:reveal:address"
            in (await gql("collector3", PERMISSIONS))["viewer"]["permissions"]
        )
    finally:
        revoked = await change(gql, "collector3", "legal", False)
    assert revoked["staff"]["roles"] == ["collector"]
    assert (
        "borrower:reveal:address"
        not in (await gql("collector3", PERMISSIONS))["viewer"]["permissions"]
    )


@pytest.mark.parametrize(
    ("login", "role", "grant", "code"),
    [
        ("collector3", "overlord", True, "UNKNOWN_ROLE"),
        ("collector3", "agency_agent", True, "ROLE_NOT_APPLICABLE"),
        ("acme.agent1", "manager", True, "ROLE_NOT_APPLICABLE"),
        ("admin", "admin", False, "CANNOT_REVOKE_OWN_ADMIN"),
        ("ghost", "collector", True, "STAFF_NOT_FOUND"),
    ],
)
async def test_role_change_refusals(
    gql: Gql, login: str, role: str, grant: bool, code: str
) -> None:
    result = await change(gql, login, role, grant)
    assert result["code"] == code


@pytest.mark.parametrize("actor", ["manager", "lead1", "auditor1", "acme.manager"])
async def test_only_admins_change_roles(gql: Gql, actor: str) -> None:
    errors = await gql.errors(
        actor, ROLE, {"input": {"login": "collector3", "role": "legal"}, "grant": True}
    )
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]


# The two-process check of role changes lives in test_roles.py.
