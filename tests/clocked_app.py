"""An app on a database of its own, seeded with the demo, whose clock the tests move: for the
tests whose approved rule sets or moved clock must not reach the shared database's other tests
(rule changes, strategies, the collection policy)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.settings import Settings
from store.db import create_engine
from store.demo import seed_demo
from store.migrate import upgrade
from tests.conftest import PG_URL, TEST_AUDIT_SECRET, TEST_SECRET, _create_pg_database
from tests.daily_support import MovableClock
from tests.helpers import Gql


@asynccontextmanager
async def clocked_app(
    tmp_path_factory: pytest.TempPathFactory, label: str, *, cases: int, seed: int = 7
) -> AsyncIterator[tuple[Gql, AsyncEngine, MovableClock]]:
    """Yields a client of the running app, its engine and its clock (at the real time); the
    database (a PostgreSQL database of its own when the suite runs on PostgreSQL) is dropped
    after."""
    drop = None
    if PG_URL:
        url, drop = await _create_pg_database(PG_URL)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp(label) / 'arrears.db'}"
    engine = create_engine(url)
    try:
        await upgrade(engine)
        await seed_demo(engine, cases=cases, seed=seed)
        settings = Settings(
            database_url=url, secret_key=TEST_SECRET, audit_secret=TEST_AUDIT_SECRET, env="test"
        )
        clock = MovableClock(datetime.now(UTC))
        app = create_app(settings, engine=engine, clock=clock)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=f"http://{label}.test") as h:
                yield Gql(h, settings), engine, clock
    finally:
        await engine.dispose()
        if drop is not None:
            await drop()
