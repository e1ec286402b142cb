"""store.errors.is_unavailable on errors real engines raise: a refused connection and a pool
with no free connection mean "unavailable"; a request's own faults do not."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import _unavailable_after, create_app
from api.audit import RequestAudit, RequestInfo
from api.settings import Settings
from domain.clock import SystemClock
from store.audit import AuditAction, Outcome
from store.db import Commits, create_engine, session_factory, watch_commits
from store.errors import is_unavailable
from store.uow import SqlUnitOfWork
from tests.servers import free_port


async def test_a_refused_connection_is_unavailable_and_fails_within_the_timeout() -> None:
    engine = create_engine(
        f"postgresql+asyncpg://arrears@127.0.0.1:{free_port()}/arrears", timeout=2.0
    )
    started = time.monotonic()
    try:
        with pytest.raises(Exception) as caught:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert time.monotonic() - started < 2.0
    assert is_unavailable(caught.value), repr(caught.value)


async def test_no_free_pooled_connection_in_time_is_unavailable(tmp_path: Path) -> None:
    engine = create_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}",
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.2,
    )
    try:
        async with engine.connect() as held:
            await held.execute(text("SELECT 1"))
            with pytest.raises(Exception) as caught:
                async with engine.connect():
                    pass
    finally:
        await engine.dispose()
    assert is_unavailable(caught.value), repr(caught.value)


async def test_a_request_s_own_faults_are_not_unavailable(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'faults.db'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY)"))
            await connection.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(IntegrityError) as duplicate:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        await engine.dispose()
    assert not is_unavailable(duplicate.value)
    assert not is_unavailable(ValueError("bad input"))
    assert not is_unavailable(FileNotFoundError(2, "No such file or directory"))
    assert is_unavailable(ConnectionResetError(104, "Connection reset by peer"))
    wrapped = RuntimeError("resolver failed")
    wrapped.__cause__ = ConnectionRefusedError(111, "Connect call failed")
    assert is_unavailable(wrapped)


async def test_a_route_outside_the_graphql_gate_answers_503_when_the_database_is_gone(
    engine: AsyncEngine, settings: Settings
) -> None:
    """The token endpoint reads the client before anything else: with the database unreachable
    (a real engine on a port nobody listens on) it answers 503 DATABASE_UNAVAILABLE, like
    /graphql, and not a 500."""
    app = create_app(settings, engine)
    dead = create_engine(
        f"postgresql+asyncpg://arrears@127.0.0.1:{free_port()}/arrears", timeout=1.0
    )
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
        ):
            app.state.sessions = session_factory(dead)  # the database goes away after start
            answer = await c.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=("ac_0000000000000000", "secret"),
            )
    finally:
        await dead.dispose()
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "2"
    assert answer.json() == {
        "errors": [
            {
                "message": "the database is unavailable; try again shortly",
                "extensions": {"code": "DATABASE_UNAVAILABLE"},
            }
        ]
    }


async def test_a_request_knows_whether_its_change_was_saved(tmp_path: Path) -> None:
    """Commits are counted in the request's context, its child tasks included, and not in
    another request's; a lost database after one is answered "saved" (200), before one 503."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'commits.db'}")
    sessions = session_factory(engine)

    async def commit_one() -> None:
        async with sessions() as session:
            await session.execute(text("CREATE TABLE IF NOT EXISTS t (k INTEGER)"))
            await session.commit()

    async def request(commits_to_make: int) -> Commits:
        commits = watch_commits()
        for _ in range(commits_to_make):
            await asyncio.create_task(commit_one())  # a resolver's task
        return commits

    try:
        saved, read_only = await asyncio.gather(request(2), request(0))
    finally:
        await engine.dispose()
    assert (saved.count, read_only.count) == (2, 0)
    assert _unavailable_after(read_only).status_code == 503
    answer = _unavailable_after(saved)
    assert answer.status_code == 200
    assert json.loads(answer.body) == {
        "data": None,
        "errors": [
            {
                "message": "your change was saved, but the database became unavailable before "
                "the answer was complete; read the result again shortly (do not repeat the "
                "change)",
                "extensions": {"code": "DATABASE_UNAVAILABLE"},
            }
        ],
    }


async def test_the_requests_own_audit_entry_is_not_a_saved_change(migrated: AsyncEngine) -> None:
    """A read whose resolver lost the database writes its audit entry before answering: that
    entry (or a refusal's) must not make the answer "your change was saved"."""
    sessions = session_factory(migrated)
    audit = RequestAudit(
        b"k" * 32, sessions, SystemClock(), RequestInfo("r1", "127.0.0.1", None), actor=None
    )
    commits = watch_commits()
    await audit.write(audit.record(AuditAction.REQUEST_REFUSED, Outcome.DENIED))
    assert commits.count == 0
    assert _unavailable_after(commits).status_code == 503
    # A mutation's unit of work that commits counts (here one with nothing in it).
    async with SqlUnitOfWork(sessions) as uow:
        await uow.commit()
    assert commits.count == 1
