"""Shared fixtures: a real database per session (SQLite file, or a fresh PostgreSQL database
when ARREARS_TEST_DATABASE_URL is set), migrated and seeded with a small demo portfolio."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api.plans.compare import COMPARED, DIFFERENCES, MOVED, WROTE
from api.settings import Settings
from store.db import create_engine
from store.migrate import upgrade
from tests.logcapture import LogCapture, capturing

# Every query the suite sends runs on its compiled plan and again on the standard executor
# (api.plans.compare); ``differential`` below fails the test that saw them differ. Set before any
# Settings is made, so that every app of the suite (and every server it starts) runs so.
os.environ.setdefault("ARREARS_EXECUTION", "compare")

TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256"
TEST_AUDIT_SECRET = "test-audit-secret-that-is-long-enough-for-the-chain"
PG_URL = os.environ.get("ARREARS_TEST_DATABASE_URL")
DEMO_CASES = 150
DEMO_SEED = 7


@pytest.fixture(autouse=True)
def differential() -> Iterator[None]:
    """Fails a test whose queries answered differently on their compiled plan and on the
    standard executor (data, errors, their order and paths, or the audit notes)."""
    DIFFERENCES.clear()
    yield
    found = list(DIFFERENCES)
    DIFFERENCES.clear()
    if found:
        pytest.fail(
            f"{len(found)} compiled plan(s) answered differently:\n\n" + "\n\n".join(found[:3])
        )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(
        f"differential execution: {COMPARED[0]} queries compared (compiled plan vs standard), "
        f"{WROTE.total()} not compared as they record something ({dict(WROTE)}), "
        f"{MOVED[0]} as other work committed between the two runs"
    )


@pytest.fixture(scope="session", autouse=True)
def log_capture() -> Iterator[LogCapture]:
    """Everything the run logs (tests/e2e/test_logs.py searches it for personal data)."""
    with capturing() as capture:
        yield capture


async def _create_pg_database(base_url: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    name = f"arrears_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(base_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)

    async def drop() -> None:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()

    return url, drop


@pytest.fixture(scope="session")
def backend() -> str:
    return "postgresql" if PG_URL else "sqlite"


@pytest.fixture
async def empty_database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A brand-new, unmigrated database of the backend under test, dropped afterwards."""
    if PG_URL:
        url, drop = await _create_pg_database(PG_URL)
        try:
            yield url
        finally:
            await drop()
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture
async def migrated(empty_database_url: str) -> AsyncIterator[AsyncEngine]:
    """A brand-new database of the backend under test, migrated and empty."""
    engine = create_engine(empty_database_url)
    await upgrade(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The session's shared database URL (migrated and seeded by the ``engine`` fixture)."""
    if PG_URL:
        url, drop = await _create_pg_database(PG_URL)
        try:
            yield url
        finally:
            await drop()
    else:
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'arrears.db'}"


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated database holding a deterministic demo portfolio."""
    from store.demo import seed_demo

    eng = create_engine(database_url)
    await upgrade(eng)
    await seed_demo(eng, cases=DEMO_CASES, seed=DEMO_SEED)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,
        audit_secret=TEST_AUDIT_SECRET,
        env="test",
        # The suite sends many bad tokens from one address on purpose; the limit has tests
        # of its own (tests/e2e/test_request_guards.py).
        unauthenticated_per_minute=100_000,
    )
