"""A real uvicorn process on loopback, started with the `arrears serve` command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from api.auth import mint_token
from api.settings import Settings
from tests.conftest import TEST_AUDIT_SECRET, TEST_SECRET
from tests.logcapture import server_log


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(
    engine: object, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "ARREARS_DATABASE_URL": database_url,
        "ARREARS_SECRET_KEY": TEST_SECRET,
        "ARREARS_AUDIT_SECRET": TEST_AUDIT_SECRET,
        "ARREARS_ENV": "production",
    }
    log_path = server_log(tmp_path_factory.mktemp("server") / "server.log")
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(log_path.read_text(errors="replace"))
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError("server did not start within 30 s")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


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
