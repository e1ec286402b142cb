"""Engine and session factory for the configured async database URL."""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias

from sqlalchemy import ColumnElement, event, text
from sqlalchemy.engine import Engine as _Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session as _SyncSession

from domain.portfolios import local_date
from domain.strategies.segmentation import variant_bucket
from store.orm import start_mappers

# The names the layers above use, so that only store/ (and authz/, for its clauses) imports
# SQLAlchemy: a session, the per-request session factory, an engine, and a WHERE clause.
Session: TypeAlias = AsyncSession
Sessions: TypeAlias = async_sessionmaker[AsyncSession]
Engine: TypeAlias = AsyncEngine
Clause: TypeAlias = ColumnElement[bool]


class DatabaseUrlError(ValueError):
    """The configured database URL cannot be used."""


@dataclass
class Commits:
    """How many transactions of ORM sessions committed while this was being watched."""

    count: int = 0


_watched: ContextVar[Commits | None] = ContextVar("arrears_commits", default=None)


def watch_commits() -> Commits:
    """Counts, from now on in this context (and the tasks it starts), every committed session
    transaction that changed something (not those marked RECORDS_ONLY, the audit's own): a
    request that lost the database can then tell whether its change was saved."""
    commits = Commits()
    _watched.set(commits)
    return commits


# Marks a session whose transaction only records (audit entries): not a saved change.
RECORDS_ONLY = "arrears_records_only"


@event.listens_for(_SyncSession, "after_commit")
def _count_commit(session: _SyncSession) -> None:
    commits = _watched.get()
    if commits is not None and not session.info.get(RECORDS_ONLY):
        commits.count += 1


# Every commit of this process, on any engine: a differential test's two runs of a query are
# comparable only if nothing was committed in between (api.plans.compare).
_commits_here = [0]


@event.listens_for(_Engine, "commit")
def _count_every_commit(_connection: Any) -> None:
    _commits_here[0] += 1


def commits_so_far() -> int:
    """How many transactions this process has committed so far, on any engine."""
    return _commits_here[0]


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the driver so that BEGIN is emitted by _sqlite_begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
    # SQLite has no MD5: the variant bucket of strategies (``store.dialect.variant_bucket``) is
    # the domain's own rule, registered on every connection.
    dbapi_connection.create_function("arrears_bucket", 2, _arrears_bucket, deterministic=True)
    # Nor time zones: the local day of an instant (``store.dialect.local_day``) is the domain's.
    dbapi_connection.create_function("arrears_local_day", 2, _arrears_local_day, deterministic=True)


def _arrears_bucket(name: str, case_id: int) -> int:
    return variant_bucket(name, int(case_id))


def _arrears_local_day(zone: str | None, at: str | None) -> str | None:
    """SQLite keeps a UTC timestamp as ISO text without its zone, and a date as ISO text."""
    if zone is None or at is None:
        return None
    instant = datetime.fromisoformat(at)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return local_date(zone, instant).isoformat()


def _sqlite_begin(connection: Any) -> None:
    # Units of work ask for BEGIN IMMEDIATE: they take the write lock before reading, so two
    # writers queue behind busy_timeout instead of failing on a stale snapshot.
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def create_engine(url: str, timeout: float | None = None, **kwargs: Any) -> AsyncEngine:
    """Returns an async engine for a SQLite (aiosqlite) or PostgreSQL (asyncpg) URL.

    ``timeout`` (PostgreSQL) bounds the wait for a pooled connection and for a new one, so that
    a database that is down or overloaded fails a request fast instead of hanging it."""
    start_mappers()
    # Bound values (a searched phone number, say) must never reach an error message or a log.
    kwargs.setdefault("hide_parameters", True)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUrlError(f"invalid database URL: {exc}") from None
    if parsed.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise DatabaseUrlError(
            f"unsupported database driver {parsed.drivername!r}: "
            "use sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    if parsed.drivername.startswith("sqlite"):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    # A connection the server dropped (a restart, a failover) is noticed at checkout and
    # replaced; a failing statement invalidates its connection and the pool drops the others.
    kwargs.setdefault("pool_pre_ping", True)
    if timeout is not None:
        kwargs.setdefault("pool_timeout", timeout)
        kwargs["connect_args"] = {"timeout": timeout, **kwargs.get("connect_args", {})}
    return create_async_engine(url, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Returns the session factory; objects stay usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


# The connections of rolled-back second runs: the test suite's statement counters leave them out.
_shadows: weakref.WeakSet[Any] = weakref.WeakSet()


def is_shadow(connection: Any) -> bool:
    """Whether a (sync) connection runs a rolled-back second run (``rolled_back``)."""
    return connection in _shadows


@dataclass
class Rehearsal:
    """Sessions whose work is rolled back, and whether that work wrote anything."""

    sessions: Sessions
    wrote: bool = False


# A plan without ANALYZE runs nothing (``store.dialect.planned_rows``, behind totalCountEstimate).
_READ_ONLY = (
    "SELECT",
    "BEGIN",
    "SAVEPOINT",
    "RELEASE",
    "ROLLBACK",
    "PRAGMA",
    "WITH",
    "SET",
    "EXPLAIN (FORMAT JSON) SELECT",
)


@asynccontextmanager
async def rolled_back(sessions: Sessions) -> AsyncIterator[Rehearsal]:
    """Sessions on one connection whose transaction is rolled back at the end, whatever they
    commit (their commits are savepoints): a second run of a query, for the differential tests
    (``api.plans.compare``), that must leave nothing behind. ``wrote`` tells whether it tried to
    write (a query that records something, such as an evidence pack, cannot answer the same
    twice)."""
    engine = sessions.kw["bind"]
    async with engine.connect() as connection:
        rehearsal = Rehearsal(
            async_sessionmaker(
                bind=connection,
                expire_on_commit=False,
                autoflush=False,
                join_transaction_mode="create_savepoint",
            )
        )

        def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if not statement.lstrip().upper().startswith(_READ_ONLY):
                rehearsal.wrote = True

        sync_connection = connection.sync_connection
        assert sync_connection is not None
        event.listen(sync_connection, "before_cursor_execute", note)
        _shadows.add(sync_connection)
        transaction = await connection.begin()
        try:
            yield rehearsal
        finally:
            _shadows.discard(sync_connection)
            event.remove(sync_connection, "before_cursor_execute", note)
            # Also when a cancelled run left the connection invalid: nothing was committed.
            await transaction.rollback()


async def ping(engine: AsyncEngine) -> None:
    """Runs a trivial statement; raises if the database cannot be reached."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
