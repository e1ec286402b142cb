"""Authentication: bearer tokens on every GraphQL request, 401 with a JSON body otherwise."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from api.settings import Settings
from tests.helpers import Gql

VIEWER = "{ viewer { login name roles team agency { name } permissions } }"


def _claims(login: str, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": login, "iss": "arrears", "iat": now, "exp": now + 60, **overrides}


@pytest.mark.parametrize(
    ("login", "roles", "team", "agency"),
    [
        ("admin", ["admin"], None, None),
        ("lead1", ["team_lead"], "East", None),
        ("collector3", ["collector"], "West", None),
        ("acme.manager", ["agency_manager"], None, "Acme Recovery"),
        ("zenith.agent1", ["agency_agent"], None, "Zenith Collections"),
    ],
)
async def test_viewer_describes_the_caller(
    gql: Gql, login: str, roles: list[str], team: str | None, agency: str | None
) -> None:
    viewer = (await gql(login, VIEWER))["viewer"]
    assert viewer["login"] == login
    assert viewer["roles"] == roles
    assert viewer["team"] == team
    assert (viewer["agency"] or {}).get("name") == agency
    assert ("case:assign" in viewer["permissions"]) == (login in ("admin", "lead1"))


async def _post(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/graphql", json={"query": VIEWER}, headers=headers)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing bearer token"),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, "malformed Authorization header"),
        ({"Authorization": "Bearer "}, "malformed Authorization header"),
        ({"Authorization": "Bearer not.a.jwt"}, "invalid token"),
    ],
)
async def test_missing_or_malformed_credentials_get_401(
    client: httpx.AsyncClient, headers: dict[str, str], message: str
) -> None:
    response = await _post(client, headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert message in error["message"]


# The claims are built when the test runs, not when it is collected: a token minted at
# collection would expire before a long suite reaches the test.
@pytest.mark.parametrize(
    ("login", "overrides", "key", "message"),
    [
        ("admin", {}, "some-other-key-that-is-long-enough-to-sign-x", "invalid token"),
        ("admin", {"exp": -10}, None, "token expired"),
        ("admin", {"iss": "someone-else"}, None, "invalid token"),
        ("nobody", {}, None, "unknown or deactivated"),
        ("collector9", {}, None, "unknown or deactivated"),
    ],
)
async def test_forged_expired_or_unknown_tokens_get_401(
    client: httpx.AsyncClient,
    settings: Settings,
    login: str,
    overrides: dict[str, int | str],
    key: str | None,
    message: str,
) -> None:
    if "exp" in overrides:  # seconds from now
        overrides = {**overrides, "exp": int(time.time()) + int(overrides["exp"])}
    claims = _claims(login, **overrides)
    token = jwt.encode(claims, key or settings.secret_key, algorithm="HS256")
    response = await _post(client, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert message in response.json()["errors"][0]["message"]


async def test_alg_none_token_is_refused(client: httpx.AsyncClient) -> None:
    token = jwt.encode(_claims("admin"), key="", algorithm="none")
    response = await _post(client, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_unauthenticated_request_executes_nothing(
    client: httpx.AsyncClient, gql: Gql
) -> None:
    mutation = 'mutation { recallFromAgency(input: {caseId: "Q2FzZTox"}) { __typename } }'
    response = await client.post("/graphql", json={"query": mutation})
    assert response.status_code == 401
    assert "data" not in response.json()


async def test_health_endpoints(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})


async def test_graphiql_page_is_served_in_development(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
