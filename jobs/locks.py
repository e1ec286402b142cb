"""The lock that keeps two runs of a batch job apart: only a *concurrent* run is refused.

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) taken on a connection of
  its own and held for the whole job. The server releases it when that connection ends, so a
  job that crashed (or was killed) never blocks the next one.
- SQLite: an exclusive ``flock`` on a file beside the database (``<file>.<job>.lock``). The
  operating system releases it when the process ends, however it ends; the file itself stays
  (removing a lock file races with the next job that opens it).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# The jobs of the daily cycle (the feed import, the daily run) change the same debts and cases:
# they share one lock, so that an import and a daily run never run at the same time.
DAILY_CYCLE = "daily"


# How a refusal names whoever may hold a shared lock.
_HOLDERS = {DAILY_CYCLE: "import or daily"}


class JobLocked(Exception):
    """Another run of the job holds its lock."""


class LockUnavailable(JobLocked):
    """The job cannot be kept apart from other runs with this configuration (a database that
    other processes cannot see, such as an in-memory SQLite database)."""


def advisory_key(job: str) -> int:
    """Returns the signed 64-bit advisory-lock key of a job (stable across processes)."""
    digest = hashlib.sha256(f"arrears:job:{job}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_file(engine: AsyncEngine, job: str) -> Path:
    """Returns the lock file of a job on a SQLite database (beside the database file)."""
    database = engine.url.database
    if (
        not database
        or database == ":memory:"
        or database.startswith("file::memory:")
        or engine.url.query.get("mode") == "memory"
    ):
        raise LockUnavailable(
            f"configuration error: the {job} job needs a SQLite database file or PostgreSQL "
            "(ARREARS_DATABASE_URL names an in-memory SQLite database, which no other run could "
            "see or lock)"
        )
    return Path(f"{database}.{job}.lock")


@asynccontextmanager
async def job_lock(
    engine: AsyncEngine, job: str, *, lock: str | None = None
) -> AsyncIterator[None]:
    """Holds the lock ``lock`` (default: the job's own) for the block, or raises JobLocked at once
    if another run holds it; jobs that share a lock (``DAILY_CYCLE``) exclude each other."""
    name = lock or job
    holders = _HOLDERS.get(name, job if name == job else f"{job} or {name}")
    if engine.dialect.name == "postgresql":
        async with _advisory(engine, name, holders):
            yield
    else:
        with _flocked(lock_file(engine, name), holders):
            yield


@asynccontextmanager
async def _advisory(engine: AsyncEngine, job: str, holders: str) -> AsyncIterator[None]:
    key = advisory_key(job)
    async with engine.connect() as conn:
        taken = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar()
        await conn.commit()  # the lock belongs to the session, not to this transaction
        if not taken:
            raise JobLocked(f"another {holders} run is in progress")
        try:
            yield
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            await conn.commit()


class _flocked:
    """An exclusive, non-blocking ``flock`` on a file for the block."""

    def __init__(self, path: Path, job: str) -> None:
        self.path = path
        self.job = job
        self.fd: int | None = None

    def __enter__(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JobLocked(f"another {self.job} run is in progress") from None
        self.fd = fd

    def __exit__(self, *_exc: object) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
