"""Limits that hold across workers: the per-caller concurrency cap and the limit on requests
without valid credentials, kept in the database (no Redis configured) or in Redis.

Two guards built on one database (or one Redis) stand for two workers; the end-to-end tests run
two real ``arrears serve`` processes, and one with ``--workers 2``, on one database."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from redis import asyncio as redis_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.guards import AddressLimiter, CallerSlots, DatabaseLeases, Leases, RedisLeases
from api.settings import Settings
from store import limits as limits_store
from store import tables
from tests.servers import running_server

REDIS_URL = "redis://127.0.0.1:6379/15"


async def _redis_answers() -> bool:
    client = redis_asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except OSError:
        return False
    except redis_asyncio.RedisError:
        return False
    finally:
        await client.aclose()


@pytest.fixture(params=["database", "redis"])
async def two_workers_leases(
    request: pytest.FixtureRequest, migrated: AsyncEngine
) -> AsyncIterator[tuple[Leases, Leases]]:
    """The shared slot storage as two workers see it (their own objects, one store)."""
    if request.param == "database":
        yield DatabaseLeases(migrated), DatabaseLeases(migrated)
        return
    if not await _redis_answers():
        pytest.skip(f"no Redis answers at {REDIS_URL}")
    prefix = f"arrears-test-{uuid.uuid4().hex}"
    first, second = RedisLeases(REDIS_URL, prefix), RedisLeases(REDIS_URL, prefix)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_a_callers_cap_holds_across_two_workers(
    two_workers_leases: tuple[Leases, Leases],
) -> None:
    one, two = (
        CallerSlots(limit=2, queue=4, wait_seconds=0.1, leases=leases)
        for leases in two_workers_leases
    )
    a = await one.acquire("mallory")
    b = await two.acquire("mallory")
    assert a is not None and b is not None and a.token != b.token
    # Each worker holds one request of mallory's: neither may start a third.
    assert await one.acquire("mallory") is None
    assert await two.acquire("mallory") is None
    # Another caller is not affected.
    alice = await two.acquire("alice")
    assert alice is not None
    # A waiting request gets the slot another worker frees.
    waiter = asyncio.ensure_future(
        CallerSlots(2, wait_seconds=5, leases=one.leases).acquire("mallory")
    )
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await one.release(a)
    c = await waiter
    assert c is not None
    for worker, slot in ((two, b), (one, c), (two, alice)):
        await worker.release(slot)
    assert await one.acquire("mallory") is not None


async def test_a_dead_workers_leases_lapse(migrated: AsyncEngine) -> None:
    """Leases a worker took and never gave back (it died) free their slots at their expiry."""
    then = datetime.now(UTC) - timedelta(minutes=10)
    for _ in range(2):
        assert await limits_store.take_lease(migrated, "mallory", 2, then, timedelta(minutes=5))
    assert await limits_store.take_lease(migrated, "mallory", 2, then, timedelta(minutes=5)) is None
    slots = CallerSlots(limit=2, wait_seconds=0.05, leases=DatabaseLeases(migrated))
    now_held = [await slots.acquire("mallory"), await slots.acquire("mallory")]
    assert all(slot is not None for slot in now_held)
    async with migrated.connect() as conn:
        left = await conn.execute(
            select(func.count())
            .select_from(tables.caller_leases)
            .where(tables.caller_leases.c.caller == "mallory")
        )
        assert left.scalar_one() == 2  # the lapsed two were cleared, not just outnumbered


@pytest.fixture(params=["database", "redis"])
async def two_address_limiters(
    request: pytest.FixtureRequest, migrated: AsyncEngine
) -> AsyncIterator[tuple[AddressLimiter, AddressLimiter]]:
    if request.param == "redis" and not await _redis_answers():
        pytest.skip(f"no Redis answers at {REDIS_URL}")
    prefix = f"arrears-test-{uuid.uuid4().hex}"
    one = AddressLimiter(3, request.param, REDIS_URL, migrated, prefix)
    two = AddressLimiter(3, request.param, REDIS_URL, migrated, prefix)
    try:
        yield one, two
    finally:
        await one.close()
        await two.close()


def _not_at_a_minutes_end() -> None:
    # The database's windows are calendar minutes: a test that straddles one would count twice.
    second = time.time() % 60
    if second > 50:
        time.sleep(60.5 - second)


async def test_the_unauthenticated_limit_holds_across_two_workers(
    two_address_limiters: tuple[AddressLimiter, AddressLimiter],
) -> None:
    _not_at_a_minutes_end()
    one, two = two_address_limiters
    answers = [await (one if n % 2 else two).hit("203.0.113.9") for n in range(6)]
    assert answers[:3] == [None, None, None]
    assert all(isinstance(wait, int) and 1 <= wait <= 60 for wait in answers[3:]), answers
    assert await one.hit("203.0.113.10") is None  # another address has its own count


async def test_an_address_over_its_limit_is_refused_without_a_write(migrated: AsyncEngine) -> None:
    """Once the database said an address is over, each worker refuses it locally until its
    minute ends: a flood writes once per worker, not once per request."""
    _not_at_a_minutes_end()
    one, two = (AddressLimiter(2, "database", None, migrated) for _ in range(2))
    for limiter in (one, two, one, two, one, two, one):
        await limiter.hit("203.0.113.7")
    async with migrated.connect() as conn:
        hits = await conn.execute(
            select(tables.limit_counters.c.hits).where(
                tables.limit_counters.c.key == "unauthenticated:203.0.113.7"
            )
        )
        # two allowed, then each worker's first refusal; the rest never reached the database
        assert hits.scalar_one() == 4


def test_settings_choose_where_limits_are_kept() -> None:
    assert Settings().shared_limits == "memory"
    assert Settings(workers=2).shared_limits == "database"
    assert Settings(workers=2, redis_url=REDIS_URL).shared_limits == "redis"
    assert Settings(redis_url=REDIS_URL).shared_limits == "redis"
    assert Settings(limits_storage="database").shared_limits == "database"
    with pytest.raises(ValueError, match="ARREARS_LIMITS_STORAGE=redis needs ARREARS_REDIS_URL"):
        Settings(limits_storage="redis")
    with pytest.raises(ValueError, match="must be auto, memory, database or redis"):
        Settings(limits_storage="disk")


# ---- Real processes ------------------------------------------------------------------------


@pytest.fixture
def served_database(migrated: AsyncEngine) -> str:
    return migrated.url.render_as_string(hide_password=False)


@pytest.fixture
def two_servers(served_database: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    limits = {"ARREARS_UNAUTHENTICATED_PER_MINUTE": "4", "ARREARS_LIMITS_STORAGE": "database"}
    with (
        running_server(served_database, tmp_path / "one.log", extra_env=limits) as one,
        running_server(served_database, tmp_path / "two.log", extra_env=limits) as two,
    ):
        yield one, two


def _bad_token(base: str) -> int:
    # A fresh connection each time, so that a multi-worker server may hand it to any worker.
    with httpx.Client(base_url=base, headers={"Connection": "close"}) as client:
        response = client.post(
            "/graphql",
            json={"query": "{ viewer { login } }"},
            headers={"Authorization": "Bearer not-a-token"},
        )
    return response.status_code


def test_two_servers_on_one_database_share_the_unauthenticated_limit(
    two_servers: tuple[str, str],
) -> None:
    one, two = two_servers
    _not_at_a_minutes_end()
    statuses = [_bad_token(one if n % 2 else two) for n in range(10)]
    assert statuses == [401] * 4 + [429] * 6


def test_a_server_with_two_workers_shares_its_limits(served_database: str, tmp_path: Path) -> None:
    """``arrears serve --workers 2`` with no Redis keeps its limits in the database by itself
    (whichever worker each connection reaches; the two-server test above shows the sharing
    between processes that certainly differ)."""
    limits = {"ARREARS_UNAUTHENTICATED_PER_MINUTE": "4"}
    with running_server(served_database, tmp_path / "w.log", extra_env=limits, workers=2) as base:
        _not_at_a_minutes_end()  # after the start: the requests fall in one calendar minute
        statuses = [_bad_token(base) for _ in range(12)]
    assert statuses == [401] * 4 + [429] * 8
