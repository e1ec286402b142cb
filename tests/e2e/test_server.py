"""A real uvicorn process on loopback, started with the `arrears serve` command."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth import mint_token
from api.settings import Settings
from store import tables
from tests.conftest import TEST_SECRET
from tests.servers import running_server


@pytest.fixture(scope="module")
def server(
    engine: object, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with running_server(database_url, tmp_path_factory.mktemp("server") / "server.log") as base:
        yield base


def test_real_server_answers_graphql_over_loopback(server: str, database_url: str) -> None:
    settings = Settings(database_url=database_url, secret_key=TEST_SECRET)
    token = mint_token(settings, "collector1")
    response = httpx.post(
        f"{server}/graphql",
        json={"query": "{ viewer { login } cases(first: 3) { edges { node { reference } } } }"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"]["viewer"] == {"login": "collector1"}
    assert len(body["data"]["cases"]["edges"]) == 3
    assert response.headers["x-request-id"]


def test_real_server_refuses_anonymous_and_hides_tools_in_production(server: str) -> None:
    anonymous = httpx.post(f"{server}/graphql", json={"query": "{ viewer { login } }"}, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    ide = httpx.get(f"{server}/graphql", headers={"Accept": "text/html"}, timeout=10)
    assert ide.status_code == 404
    assert httpx.get(f"{server}/readyz", timeout=10).json() == {"status": "ok"}


def test_introspection_is_off_in_production(server: str, database_url: str) -> None:
    settings = Settings(database_url=database_url, secret_key=TEST_SECRET)
    response = httpx.post(
        f"{server}/graphql",
        json={"query": "{ __schema { types { name } } }"},
        headers={"Authorization": f"Bearer {mint_token(settings, 'admin')}"},
        timeout=10,
    )
    body = response.json()
    assert body.get("data") is None
    assert "introspection" in body["errors"][0]["message"].lower()


async def test_the_real_server_believes_no_forwarded_address_from_an_untrusted_peer(
    server: str, engine: AsyncEngine, settings: Settings
) -> None:
    """uvicorn itself rewrites the client address from X-Forwarded-For for loopback peers
    unless told not to; the address is ours to decide (ARREARS_TRUSTED_PROXIES, unset here)."""
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        response = await client.post(
            "/graphql",
            json={"query": "{ viewer { login } }"},
            headers={
                "Authorization": f"Bearer {mint_token(settings, 'collector1')}",
                "X-Forwarded-For": "203.0.113.77",
            },
        )
    assert response.status_code == 200
    a = tables.audit_entries.c
    async with engine.connect() as conn:
        stmt = select(a.client_ip).where(a.request_id == response.headers["x-request-id"])
        assert (await conn.execute(stmt)).scalars().all() == ["127.0.0.1"]
