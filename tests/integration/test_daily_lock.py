"""Two daily runs at once: exactly one proceeds; a run that crashed never blocks the next; the
command's exit codes and messages."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from jobs.daily import DailyOutcome, default_as_of, run_daily
from jobs.locks import JobLocked, job_lock
from store import tables
from tests.cli import ROOT, invoke_aside
from tests.daily_support import AUDIT_KEY, MovableClock, make_case, noon, run

D0 = date(2027, 6, 15)

HOLDER = """
import asyncio, sys
from store.db import create_engine
from jobs.locks import job_lock

async def main() -> None:
    engine = create_engine(sys.argv[1])
    async with job_lock(engine, "daily"):
        print("locked", flush=True)
        await asyncio.sleep(600)

asyncio.run(main())
"""


def _url(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=False)


async def test_a_run_while_another_holds_the_lock_is_refused(migrated: AsyncEngine) -> None:
    await make_case(migrated, [[D0 - timedelta(days=3)]])
    async with job_lock(migrated, "daily"):
        with pytest.raises(JobLocked, match=r"^another import or daily run is in progress$"):
            await run(migrated, D0)
    assert (await run(migrated, D0)).days  # released: the next run proceeds


async def test_two_runs_started_at_once_exactly_one_proceeds(migrated: AsyncEngine) -> None:
    await make_case(migrated, [[D0 - timedelta(days=3)]])
    clock = MovableClock(noon(D0))
    results = await asyncio.gather(
        run_daily(migrated, clock, AUDIT_KEY, as_of=D0),
        run_daily(migrated, clock, AUDIT_KEY, as_of=D0),
        return_exceptions=True,
    )
    proceeded = [r for r in results if isinstance(r, DailyOutcome) and r.days]
    refused = [r for r in results if isinstance(r, JobLocked)]
    assert (len(proceeded), len(refused)) == (1, 1), results
    async with migrated.connect() as conn:
        runs = (await conn.execute(select(func.count()).select_from(tables.daily_runs))).scalar()
        taken = (
            await conn.execute(select(func.count()).select_from(tables.debt_snapshots))
        ).scalar()
    assert (runs, taken) == (1, 1)


async def test_a_crashed_run_does_not_block_the_next(migrated: AsyncEngine) -> None:
    await make_case(migrated, [[D0 - timedelta(days=3)]])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLDER,
        _url(migrated),
        stdout=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    try:
        assert holder.stdout is not None
        line = await asyncio.wait_for(holder.stdout.readline(), timeout=60)
        assert line.decode().strip() == "locked"
        with pytest.raises(JobLocked):  # held by another process
            await run(migrated, D0)
        holder.send_signal(signal.SIGKILL)  # dies without releasing anything
        await asyncio.wait_for(holder.wait(), timeout=10)
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
    deadline = time.monotonic() + 10
    while True:  # PostgreSQL ends the dead client's session (and its lock) within moments
        try:
            outcome = await run(migrated, D0)
            break
        except JobLocked:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    assert [r.as_of for r in outcome.days] == [D0]


async def test_the_command(migrated: AsyncEngine, tmp_path: Path) -> None:
    await make_case(migrated, [[datetime.now(UTC).date() - timedelta(days=3)]])
    url = _url(migrated)
    bad = await asyncio.to_thread(invoke_aside, "daily", "--as-of", "yesterday", url=url)
    assert bad.returncode == 1 and "--as-of is not an ISO-8601 date" in bad.stderr
    async with job_lock(migrated, "daily"):
        locked = await asyncio.to_thread(invoke_aside, "daily", url=url)
    assert locked.returncode == 1
    assert locked.stderr.strip() == "arrears: another import or daily run is in progress"
    checkpoints = tmp_path / "checkpoints"
    ran = await asyncio.to_thread(
        invoke_aside, "daily", url=url, ARREARS_AUDIT_CHECKPOINT_DIR=str(checkpoints)
    )
    assert ran.returncode == 0, ran.stderr
    today = default_as_of(datetime.now(UTC))  # the latest date ended in every portfolio
    assert ran.stdout.startswith(f"{today}: 1 debts re-aged, 1 cases aged (1 reclassified")
    assert "1 snapshots" in ran.stdout
    assert "0 charge-offs applied, 0 restructurings broken" in ran.stdout
    assert "1 cases treated (1 entered a segment" in ran.stdout
    assert "audit checkpoint written: " in ran.stdout
    assert len(list(checkpoints.glob("*.checkpoint.json"))) == 1
    again = await asyncio.to_thread(invoke_aside, "daily", url=url)
    assert again.returncode == 0
    assert again.stdout.splitlines() == [f"nothing to do: the run for {today} already completed"]
    earlier = await asyncio.to_thread(
        invoke_aside, "daily", "--as-of", (today - timedelta(days=1)).isoformat(), url=url
    )
    assert earlier.returncode == 1
    assert "the daily run only moves forward" in earlier.stderr
