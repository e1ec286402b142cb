"""CORS: only the configured origins, none by default, never "*" in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import Settings
from tests.conftest import TEST_AUDIT_SECRET, TEST_SECRET
from tests.e2e.test_metrics import CASES, served

ALLOWED = "https://arrears.example.com"
OTHER = "https://evil.example.net"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


async def test_a_preflight_from_an_allowed_origin_is_answered(
    engine: AsyncEngine, settings: Settings
) -> None:
    origins = f"{ALLOWED}/, https://other.example.com"
    async with served(engine, settings, cors_origins=origins) as (_app, client, _gql):
        response = await client.options("/graphql", headers={"Origin": ALLOWED, **PREFLIGHT})
    assert response.status_code == 200
    headers = response.headers
    assert headers["access-control-allow-origin"] == ALLOWED
    assert headers["access-control-allow-methods"] == "GET, POST, OPTIONS"
    allowed = {h.strip().lower() for h in headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    assert headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in headers


async def test_a_preflight_from_another_origin_is_refused(
    engine: AsyncEngine, settings: Settings
) -> None:
    async with served(engine, settings, cors_origins=ALLOWED) as (_app, client, _gql):
        response = await client.options("/graphql", headers={"Origin": OTHER, **PREFLIGHT})
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_without_origins_there_are_no_cors_headers(
    engine: AsyncEngine, settings: Settings
) -> None:
    assert settings.cors_origins == ""
    async with served(engine, settings) as (_app, client, gql):
        preflight = await client.options("/graphql", headers={"Origin": ALLOWED, **PREFLIGHT})
        post = await client.post(
            "/graphql",
            json={"query": CASES},
            headers={"Origin": ALLOWED, "Authorization": f"Bearer {gql.token('collector1')}"},
        )
    assert preflight.status_code == 405
    assert post.status_code == 200
    for response in (preflight, post):
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]


async def test_a_request_from_an_allowed_origin_may_be_read_by_it(
    engine: AsyncEngine, settings: Settings
) -> None:
    async with served(engine, settings, cors_origins=ALLOWED) as (_app, client, gql):
        allowed = await client.post(
            "/graphql",
            json={"query": CASES},
            headers={"Origin": ALLOWED, "Authorization": f"Bearer {gql.token('collector1')}"},
        )
        other = await client.post(
            "/graphql",
            json={"query": CASES},
            headers={"Origin": OTHER, "Authorization": f"Bearer {gql.token('collector1')}"},
        )
    assert allowed.status_code == 200
    assert len(allowed.json()["data"]["cases"]["edges"]) == 2
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    assert allowed.headers["access-control-expose-headers"].lower() == "x-request-id"
    assert len(allowed.headers["x-request-id"]) == 32
    assert "origin" in allowed.headers["vary"].lower()
    # The server answers (CORS is the browser's rule), but tells no other origin it may read.
    assert other.status_code == 200
    assert "access-control-allow-origin" not in other.headers


def test_any_origin_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match=r"ARREARS_CORS_ORIGINS may not be \* in production"):
        Settings(
            env="production",
            secret_key=TEST_SECRET,
            audit_secret=TEST_AUDIT_SECRET,
            cors_origins="https://arrears.example.com, *",
        )
    assert Settings(env="development", cors_origins="*").cors_origin_list == ["*"]
