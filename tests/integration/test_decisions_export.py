"""Exactly once, in order, resumable: concurrent mutations produce decisions while a reader tails
the feed by cursor (on PostgreSQL the writers' transactions overlap; the advisory lock makes ids
visible in id order, so the reader never skips one), then `arrears export decisions` twice, the
second resuming from the cursor the first printed: every decision once, none twice."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.cases import services
from domain.clock import FixedClock
from store import decisions, tables
from store.audit import AuditRecord, append, audit_key, chain_for
from store.db import session_factory
from store.uow import SqlUnitOfWork
from tests.cli import invoke_aside
from tests.factories import Factory, writing

AT = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)
CASES = 16


async def _all_ids(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        d = tables.decisions.c
        return list((await conn.execute(select(d.id).order_by(d.id))).scalars())


class SlowCommit(SqlUnitOfWork):
    """A unit of work that lingers between its last statement and its commit on PostgreSQL: the
    window in which, without the lock, a later writer's higher ids would commit before its lower
    ones (a reader would skip them; the test fails when ``serialise_writers`` does nothing).
    SQLite runs one writer at a time: lingering there only makes the others wait."""

    async def __aenter__(self) -> SlowCommit:
        await super().__aenter__()
        if (await self.session.connection()).dialect.name != "postgresql":
            return self
        commit = self.session.commit

        async def slow() -> None:
            await asyncio.sleep(random.uniform(0, 0.01))
            await commit()

        self.session.commit = slow  # type: ignore[method-assign]
        return self


async def _churn(engine: AsyncEngine, case_ids: list[int], actor_id: int, rounds: int) -> None:
    """Places and recalls every case ``rounds`` times, all cases at once."""
    sessions = session_factory(engine)
    clock = FixedClock(AT)

    def uow() -> SqlUnitOfWork:
        return SlowCommit(sessions)

    async def one(case_id: int) -> None:
        for _ in range(rounds):
            await services.place_with_agency(uow, clock, case_id, "Acme Recovery", actor_id)
            await services.recall_from_agency(uow, clock, case_id, actor_id)

    await asyncio.gather(*(one(pk) for pk in case_ids))


async def test_a_reader_tailing_concurrent_writers_sees_every_decision_once_in_order(
    migrated: AsyncEngine,
) -> None:
    factory = Factory(migrated)
    await factory.agency("Acme Recovery")
    staff = await factory.staff("placer", roles=("manager",))
    case_ids = [(await factory.case()).case.id for _ in range(CASES)]
    writers = asyncio.create_task(_churn(migrated, case_ids, staff.id, rounds=2))
    seen: list[int] = []
    cursor = 0
    async with migrated.connect() as conn:
        while True:
            done = writers.done()  # read before the page: a page after the end sees everything
            page, _more = await decisions.fetch_page(conn, cursor, 7)
            await conn.rollback()  # a new snapshot for each page
            seen += [decision.id for decision in page]
            if page:
                cursor = page[-1].id
            elif done:
                break
            await asyncio.sleep(0.002)
    await writers
    every = await _all_ids(migrated)
    assert len(every) == CASES * 2 * 2
    assert seen == every  # none skipped, none twice, in id order
    assert every == list(range(every[0], every[0] + len(every)))  # ids taken without gaps


async def test_writers_of_decisions_queue_behind_the_lock_until_commit(
    migrated: AsyncEngine, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time already")
    async with migrated.connect() as first, migrated.connect() as second:
        await first.begin()
        await decisions.serialise_writers(first)
        await second.begin()
        waiting = asyncio.create_task(decisions.serialise_writers(second))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # the second writer waits for the first one's commit
        await first.commit()
        await asyncio.wait_for(waiting, 5)
        held = await second.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :key"),
            {"key": decisions.DECISIONS_LOCK},
        )
        assert held.scalar_one() == 1
        await second.commit()


def _lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines()]


async def test_two_resumed_exports_give_each_decision_once(
    migrated: AsyncEngine, empty_database_url: str, tmp_path: Path
) -> None:
    factory = Factory(migrated)
    await factory.agency("Acme Recovery")
    staff = await factory.staff("placer", roles=("manager",))
    borrower = await factory.borrower(external_id="CORE-7")
    made = await factory.case(borrower=borrower, debts=2)
    case_ids = [made.case.id, *[(await factory.case()).case.id for _ in range(4)]]
    await _churn(migrated, case_ids, staff.id, rounds=1)

    first = await asyncio.to_thread(invoke_aside, "export", "decisions", url=empty_database_url)
    assert first.returncode == 0, first.stderr
    lines = _lines(first.stdout)
    assert len(lines) == 10
    summary, cursor = first.stderr.splitlines()[-2:]
    assert summary == "exported 10 decisions; next time pass --after:"
    assert cursor == lines[-1]["cursor"]
    (placed, recalled) = [x for x in lines if x["caseReference"] == made.case.reference]
    assert (placed["kind"], recalled["kind"]) == ("CASE_PLACED", "CASE_RECALLED")
    assert placed["accountNumbers"] == sorted(debt.account_number for debt in made.debts)
    assert (placed["borrowerExternalId"], placed["actor"]) == ("CORE-7", "placer")
    assert list(placed) == [
        "sequence",
        "cursor",
        "at",
        "kind",
        "caseId",
        "caseReference",
        "accountNumbers",
        "borrowerExternalId",
        "actor",
        "data",
    ]

    await _churn(migrated, case_ids[:3], staff.id, rounds=1)
    output = tmp_path / "decisions.jsonl"
    second = await asyncio.to_thread(
        invoke_aside,
        "export",
        "decisions",
        "--after",
        cursor,
        "--output",
        str(output),
        url=empty_database_url,
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout == ""
    more = _lines(output.read_text(encoding="utf-8"))
    assert len(more) == 6
    sequences = [line["sequence"] for line in [*lines, *more]]
    assert sequences == await _all_ids(migrated)  # every decision once, in order
    assert second.stderr.splitlines()[-1] == more[-1]["cursor"]

    # Nothing new: nothing written, and the same cursor to pass next time.
    again = await asyncio.to_thread(
        invoke_aside, "export", "decisions", "--after", more[-1]["cursor"], url=empty_database_url
    )
    assert (again.returncode, again.stdout) == (0, "")
    assert again.stderr.splitlines()[-2:] == [
        "exported 0 decisions; next time pass --after:",
        more[-1]["cursor"],
    ]

    # Each export batch is audited: the cases it carried and how many decisions.
    a = tables.audit_entries.c
    async with migrated.connect() as conn:
        entries = (
            await conn.execute(
                select(a.actor_login, a.changes, a.case_ids)
                .where(a.action == "decision.read")
                .order_by(a.id)
            )
        ).all()
    assert [(e.actor_login, e.changes["decisions"]) for e in entries] == [
        ("system:export-decisions", 10),
        ("system:export-decisions", 6),
    ]
    assert entries[0].case_ids == sorted(case_ids)
    assert entries[1].changes["lastSequence"] == more[-1]["sequence"]


async def test_a_bad_cursor_is_one_line_and_exit_1(
    migrated: AsyncEngine, empty_database_url: str, tmp_path: Path
) -> None:
    output = tmp_path / "never.jsonl"
    for bad in ("not-a-cursor", "eyJsIjoiY2FzZXMiLCJpIjo1fQ"):  # the second: a cases cursor
        ran = await asyncio.to_thread(
            invoke_aside,
            "export",
            "decisions",
            "--after",
            bad,
            "--output",
            str(output),
            url=empty_database_url,
        )
        assert ran.returncode == 1
        assert len(ran.stderr.splitlines()) == 1 and ran.stderr.startswith("arrears: --after: ")
        assert not output.exists()


async def test_an_empty_feed_exports_nothing_and_an_empty_cursor_starts_over(
    migrated: AsyncEngine, empty_database_url: str
) -> None:
    ran = await asyncio.to_thread(invoke_aside, "export", "decisions", url=empty_database_url)
    assert (ran.returncode, ran.stdout) == (0, "")
    assert ran.stderr.splitlines() == ["exported 0 decisions; next time pass --after:", ""]
    made = await Factory(migrated).case()
    async with writing(migrated) as conn:
        await decisions.append_decisions(
            conn,
            [decisions.DecisionRow(AT, "CASE_CLOSED", {"closeReason": "CURED"}, made.case.id)],
        )
    ran = await asyncio.to_thread(
        invoke_aside, "export", "decisions", "--after", "", url=empty_database_url
    )
    (line,) = _lines(ran.stdout)
    assert (line["kind"], line["actor"], line["data"]) == (
        "CASE_CLOSED",
        "system",
        {"closeReason": "CURED"},
    )


async def test_changes_and_a_batch_job_taking_the_lock_and_the_audit_chain_never_deadlock(
    migrated: AsyncEngine,
) -> None:
    """Every writer takes the decisions lock before the audit chain's head: units of work whose
    audit entries go to one chain, and batch transactions that project decisions and then append
    to the same chain, all at once — none waits for the other in a cycle."""
    factory = Factory(migrated)
    await factory.agency("Acme Recovery")
    staff = await factory.staff("placer", roles=("manager",))
    case_ids = [(await factory.case()).case.id for _ in range(8)]
    sessions = session_factory(migrated)
    clock = FixedClock(AT)
    key = audit_key("a-test-secret-that-is-long-enough-for-hmac")

    def entries(events: list[Any]) -> tuple[bytes, list[AuditRecord]]:
        return key, [AuditRecord(at=AT, action="case.place", outcome="ALLOWED", request_id="one")]

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions, audit=entries)

    async def change(case_id: int) -> None:
        for _ in range(2):
            await services.place_with_agency(uow, clock, case_id, "Acme Recovery", staff.id)
            await services.recall_from_agency(uow, clock, case_id, staff.id)

    async def batch(case_id: int) -> None:
        async with migrated.connect() as conn:
            await conn.execution_options(sqlite_begin="IMMEDIATE")
            async with conn.begin():
                ev = tables.case_events.c
                last = (await conn.execute(select(func.coalesce(func.max(ev.id), 0)))).scalar_one()
                await conn.execute(
                    insert(tables.case_events).values(
                        case_id=case_id,
                        at=AT,
                        actor_id=None,
                        name="CaseTransitioned",
                        data={"trigger": "CURE", "to_status": "CLOSED", "to_stage": "EARLY"},
                    )
                )
                await decisions.append_decisions_from_events(conn, last)
                await append(
                    conn,
                    key,
                    [AuditRecord(at=AT, action="job.daily", outcome="ALLOWED")],
                    chain_for("one"),
                )

    await asyncio.gather(*(change(pk) for pk in case_ids), *(batch(pk) for pk in case_ids))
    every = await _all_ids(migrated)
    assert len(every) == len(case_ids) * 5
    assert every == list(range(every[0], every[0] + len(every)))
    d = tables.decisions.c
    async with migrated.connect() as conn:
        events = (await conn.execute(select(d.event_id))).scalars().all()
    assert len(set(events)) == len(events)
