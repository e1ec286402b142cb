"""Every non-GraphQL refusal is JSON with a code, like the GraphQL ones; every typed mutation
error's code is a value of the ErrorCode enum; connections carry Relay's whole PageInfo."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from api.auth import mint_token
from tests.helpers import Gql


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/no-such-page", 404, "NOT_FOUND"),
        ("POST", "/healthz", 405, "METHOD_NOT_ALLOWED"),
        ("PUT", "/graphql", 405, "METHOD_NOT_ALLOWED"),
        ("DELETE", "/readyz", 405, "METHOD_NOT_ALLOWED"),
    ],
)
async def test_non_graphql_refusals_are_json_with_a_code(
    client: httpx.AsyncClient, method: str, path: str, status: int, code: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == code


async def test_error_codes_are_one_enum_and_user_errors_use_it(gql: Gql) -> None:
    query = """{
      codes: __type(name: "ErrorCode") { kind enumValues { name } }
      userError: __type(name: "UserError") { fields { name type { ofType { name kind } } } }
    }"""
    data = await gql("admin", query)
    assert data["codes"]["kind"] == "ENUM"
    names = {v["name"] for v in data["codes"]["enumValues"]}
    assert {"CASE_NOT_FOUND", "RATE_LIMITED", "IDEMPOTENCY_KEY_REUSED", "UNKNOWN_ROLE"} <= names
    code = next(f for f in data["userError"]["fields"] if f["name"] == "code")
    assert code["type"]["ofType"] == {"name": "ErrorCode", "kind": "ENUM"}


PAGE = """query($after: String) {
  cases(first: 2, after: $after, orderBy: REFERENCE_ASC) {
    edges { cursor }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


async def test_page_info_is_complete_on_the_first_and_the_next_page(gql: Gql) -> None:
    first: dict[str, Any] = (await gql("manager", PAGE))["cases"]
    cursors = [e["cursor"] for e in first["edges"]]
    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": cursors[0],
        "endCursor": cursors[-1],
    }
    second = (await gql("manager", PAGE, {"after": cursors[-1]}))["cases"]
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert second["pageInfo"]["startCursor"] == second["edges"][0]["cursor"]
    assert second["edges"][0]["cursor"] not in cursors


async def test_the_audit_trail_pages_through_the_same_connection(gql: Gql) -> None:
    query = """query($after: String) { auditTrail(first: 1, after: $after) {
      edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      totalCount } }"""
    first = (await gql("auditor1", query))["auditTrail"]
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert first["pageInfo"]["startCursor"] == first["pageInfo"]["endCursor"]
    assert first["totalCount"] >= 1
    second = await gql("auditor1", query, {"after": first["pageInfo"]["endCursor"]})
    page = second["auditTrail"]
    assert page["pageInfo"]["hasPreviousPage"] is True
    assert page["edges"][0]["node"]["id"] != first["edges"][0]["node"]["id"]


def _bearer(gql: Gql, login: str = "collector1") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(gql.settings, login)}"}


@pytest.mark.parametrize(
    "body",
    [
        '{"query": "{ viewer { login } }", "extensions": "x"}',
        '{"query": "{ viewer { login } }", "variables": {"a": "\\ud800"}}',
        '{"query": "{ viewer { login } }", "operationName": "\\udfff"}',
    ],
    ids=["extensions-not-an-object", "lone-surrogate-variable", "lone-surrogate-name"],
)
async def test_malformed_requests_are_refused_as_json_not_internal(gql: Gql, body: str) -> None:
    response = await gql.client.post(
        "/graphql",
        content=body.encode(),
        headers={**_bearer(gql), "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_cursor_holding_text_that_is_not_unicode_is_bad_input(gql: Gql) -> None:
    raw = '{"l":"cases:REFERENCE_ASC","i":1,"v":"\\ud800"}'
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    errors = await gql.errors("manager", PAGE, {"after": cursor})
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"]
