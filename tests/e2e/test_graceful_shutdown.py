"""SIGTERM: the requests in flight finish, new connections are refused, the process exits 0
within ARREARS_SHUTDOWN_TIMEOUT_SECONDS; /readyz says ``draining`` from the signal on.

The requests are held in flight by their clients, not by the server: each sends its headers and
half of its JSON body, and the rest only after the signal, so the server is reading them (the
app has already checked the token and loaded the caller) when SIGTERM arrives."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import FrameType

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.auth import mint_token
from api.settings import Settings
from tests.conftest import TEST_SECRET
from tests.servers import Served, serve_process

QUERY = "{ viewer { login } cases(first: 3) { totalCount edges { node { reference } } } }"
LOGINS = ("collector1", "collector2", "manager", "admin")


def _held_body(body: bytes, release: asyncio.Event) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        yield body[: len(body) // 2]
        await release.wait()
        yield body[len(body) // 2 :]

    return chunks()


async def _held_request(
    client: httpx.AsyncClient, base: str, token: str, release: asyncio.Event
) -> tuple[httpx.Response, float]:
    """Posts QUERY with its body held back until ``release``; returns the answer and when."""
    body = json.dumps({"query": QUERY}).encode()
    response = await client.post(
        f"{base}/graphql",
        content=_held_body(body, release),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
        },
    )
    return response, time.monotonic()


def _settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, secret_key=TEST_SECRET)


@pytest.fixture
def served(engine: AsyncEngine, database_url: str, tmp_path: Path) -> Iterator[Served]:
    with serve_process(
        database_url,
        tmp_path / "server.log",
        extra_env={"ARREARS_SHUTDOWN_TIMEOUT_SECONDS": "20"},
    ) as server:
        yield server


async def test_sigterm_lets_requests_in_flight_finish_and_refuses_new_ones(
    served: Served, database_url: str
) -> None:
    settings = _settings(database_url)
    release = asyncio.Event()
    async with httpx.AsyncClient(timeout=30) as client:
        held = [
            asyncio.create_task(
                _held_request(client, served.base, mint_token(settings, login), release)
            )
            for login in LOGINS
        ]
        await asyncio.sleep(1.0)  # the headers and half of each body are with the server
        assert not any(task.done() for task in held), "a held request was answered early"

        served.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        await asyncio.sleep(1.0)  # uvicorn notices the signal within 0.1 s

        assert served.process.poll() is None, "the server exited with requests in flight"
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{served.base}/readyz", timeout=2)

        release.set()
        answers = await asyncio.gather(*held)

    for login, (response, answered) in zip(LOGINS, answers, strict=True):
        assert answered > signalled  # in flight at the signal
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        assert body["data"]["viewer"] == {"login": login}
        assert body["data"]["cases"]["totalCount"] >= 0
    returncode = await asyncio.to_thread(served.process.wait, 20)
    stopped_after = time.monotonic() - signalled
    assert returncode == 0, served.log_text()
    assert stopped_after < 20
    assert "shutdown.draining" in served.log_text()


async def test_shutdown_is_bounded_by_its_timeout(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """A request that never completes does not keep the process alive past the timeout."""
    settings = _settings(database_url)
    release = asyncio.Event()  # set only once the server is gone
    with serve_process(
        database_url,
        tmp_path / "server.log",
        extra_env={"ARREARS_SHUTDOWN_TIMEOUT_SECONDS": "2"},
    ) as served:
        async with httpx.AsyncClient(timeout=30) as client:
            stuck = asyncio.create_task(
                _held_request(client, served.base, mint_token(settings, "collector1"), release)
            )
            await asyncio.sleep(1.0)
            served.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            returncode = await asyncio.to_thread(served.process.wait, 15)
            stopped_after = time.monotonic() - signalled
            release.set()
            try:
                response, _ = await asyncio.wait_for(stuck, 10)
            except httpx.TransportError:
                pass  # the connection was closed under it
            else:  # uvicorn cancelled it and answered for it
                assert response.status_code == 500, response.text
    assert returncode == 0, served.log_text()
    assert 2 <= stopped_after < 6, stopped_after


async def test_readyz_answers_draining_once_the_server_is_told_to_stop(
    engine: AsyncEngine, settings: Settings
) -> None:
    """In process, with a real SIGTERM: uvicorn's handler is stood in for by a Python handler
    that records the signal, as uvicorn's sets its ``should_exit``."""
    received: list[int] = []

    def server_handler(sig: int, _frame: FrameType | None) -> None:
        received.append(sig)

    original = signal.signal(signal.SIGTERM, server_handler)
    try:
        app = create_app(settings, engine=engine)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                before = await client.get("/readyz")
                signal.raise_signal(signal.SIGTERM)
                await asyncio.sleep(0)  # the handler runs between bytecodes of the main thread
                after = await client.get("/readyz")
                alive = await client.get("/healthz")
        assert signal.getsignal(signal.SIGTERM) == server_handler  # given back at shutdown
    finally:
        signal.signal(signal.SIGTERM, original)
    assert (before.status_code, before.json()) == (200, {"status": "ok"})
    assert (after.status_code, after.json()) == (503, {"status": "draining"})
    assert alive.status_code == 200
    assert received == [signal.SIGTERM]  # the server's own handler still got the signal
