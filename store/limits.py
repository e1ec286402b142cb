"""Limits shared by every worker through the database (when no Redis is configured): fixed-window
hit counters for rate limits, and expiring leases for the per-caller concurrency cap.

Each call is one short transaction of its own, apart from the request's work: a lease is taken
before the request's first connection to its data and given back after its last."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store import tables

lc = tables.limit_counters.c
cl = tables.caller_leases.c


async def hit(engine: AsyncEngine, key: str, window: int) -> int:
    """Counts one hit of ``key`` in ``window`` (a window number, e.g. minutes since the epoch)
    and returns the window's hits so far, this one included. The first hit of a window clears
    the windows before the previous one (every key's: they count nothing any more)."""
    async with engine.connect() as conn:
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(tables.limit_counters).values(key=key, window=window, hits=1)
            stmt = stmt.on_conflict_do_update(
                index_elements=[lc.key, lc.window], set_={"hits": lc.hits + 1}
            ).returning(lc.hits)
            hits = int((await conn.execute(stmt)).scalar_one())
            if hits == 1:
                await conn.execute(delete(tables.limit_counters).where(lc.window < window - 1))
            return hits


async def take_lease(
    engine: AsyncEngine, caller: str, limit: int, now: datetime, ttl: timedelta
) -> str | None:
    """Takes one of the caller's ``limit`` slots until ``now + ttl`` (or until given back);
    returns the lease's token, or None when every slot is held. Leases of a worker that died
    lapse at their expiry."""
    async with engine.connect() as conn:
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            await _serialise(conn, caller)
            await conn.execute(
                delete(tables.caller_leases).where(cl.caller == caller, cl.expires_at <= now)
            )
            held = (
                await conn.execute(
                    select(func.count())
                    .select_from(tables.caller_leases)
                    .where(cl.caller == caller)
                )
            ).scalar_one()
            if held >= limit:
                return None
            token = secrets.token_hex(16)
            await conn.execute(
                tables.caller_leases.insert().values(
                    token=token, caller=caller, expires_at=now + ttl
                )
            )
            return token


async def give_back(engine: AsyncEngine, token: str) -> None:
    """Ends a lease."""
    async with engine.begin() as conn:
        await conn.execute(delete(tables.caller_leases).where(cl.token == token))


async def _serialise(conn: AsyncConnection, caller: str) -> None:
    # PostgreSQL: one caller's lease takers queue on an advisory lock for the transaction, so the
    # count they read is the count they write against. SQLite: BEGIN IMMEDIATE serialises.
    if conn.dialect.name == "postgresql":
        key = func.hashtext(f"caller_leases:{caller}")
        await conn.execute(select(func.pg_advisory_xact_lock(key)))
