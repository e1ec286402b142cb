"""`arrears purge` as an operator runs it, on a database of each test's own: what is past
retention loses its personal data (exact placeholders), a legal hold, a recent closure, an open
case and a US_REG_F case's recent collection activity keep theirs; the trail still verifies; the
purge's entry carries its counts; a second purge counts zeros; a dry run changes nothing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import Settings
from domain.clock import SystemClock
from domain.retention.placeholders import PLACEHOLDER
from jobs.purge import PurgeResult, run_purge
from store import tables
from store.audit import AuditAction
from store.retention_queries import KINDS
from tests.cli import Ran, invoke
from tests.conftest import TEST_AUDIT_SECRET, TEST_SECRET
from tests.factories import Factory, MadeCase, writing

NOW = datetime.now(UTC)
LONG_AGO = NOW - timedelta(days=6 * 365)
NOTES = "spoke to the borrower, 测试 says salary comes on the 10th"
# A lender's contact period shorter than Reg F's floor: US_REG_F cases still keep 3 years.
ENV = {"ARREARS_RETENTION_CONTACT_DAYS": "365"}


async def arrears(*args: str, url: str) -> Ran:
    """Runs `arrears ARGS` in-process, in a worker thread: the CLI runs its own event loop."""
    return await asyncio.to_thread(invoke, *args, url=url, **ENV)


@dataclass
class Person:
    """A borrower's case with a contact point, a noted and recorded contact, a notice, a
    complaint and a flag's note (each row's id)."""

    made: MadeCase
    point: int
    contact: int
    notice: int
    complaint: int
    flag: int


async def _add(engine: AsyncEngine, table: Any, **values: Any) -> int:
    async with writing(engine) as conn:
        result = await conn.execute(insert(table).values(**values))
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])


async def person(
    factory: Factory,
    *,
    status: str = "CLOSED",
    closed_at: datetime | None = LONG_AGO,
    contact_at: datetime = LONG_AGO - timedelta(days=10),
    portfolio: str = "retail",
) -> Person:
    engine = factory.engine
    made = await factory.case(status=status, portfolio=portfolio)
    if status == "CLOSED":
        async with writing(engine) as conn:
            await conn.execute(
                update(tables.cases)
                .where(tables.cases.c.id == made.case.id)
                .values(close_reason="PAID_IN_FULL", closed_at=closed_at)
            )
    case_id, borrower_id = made.case.id, made.borrower.id
    point = await _add(
        engine,
        tables.contact_points,
        borrower_id=borrower_id,
        kind="PHONE",
        value=made.borrower.phone,
        owner="BORROWER",
        status="VERIFIED",
        created_at=LONG_AGO - timedelta(days=400),
        version=1,
    )
    contact = await _add(
        engine,
        tables.contacts,
        case_id=case_id,
        borrower_id=borrower_id,
        contact_point_id=point,
        at=contact_at,
        channel="PHONE",
        direction="OUTBOUND",
        party="BORROWER",
        outcome="RIGHT_PARTY_CONTACT",
        notes=NOTES,
        recording_ref="rec://calls/2020/0001.wav",
        completed_at=contact_at,
        source="LOGGED",
        blocked=False,
        breaches=[],
        consented=False,
    )
    notice = await _add(
        engine,
        tables.notices,
        case_id=case_id,
        borrower_id=borrower_id,
        contact_point_id=point,
        channel="SMS",
        party="BORROWER",
        template="PAYMENT_REMINDER",
        template_version="2026.1",
        language="zh",
        status="DELIVERED",
        created_at=contact_at,
        subject="Your loan",
        body=f"Dear {made.borrower.full_name}, please pay.",
        attempts=1,
        version=1,
    )
    complaint = await _add(
        engine,
        tables.complaints,
        case_id=case_id,
        borrower_id=borrower_id,
        kind="COMPLAINT",
        channel="PHONE",
        written=False,
        description="called my employer",
        status="RESOLVED",
        filed_at=contact_at,
        resolution="apologised",
        version=1,
    )
    flag = await _add(
        engine,
        tables.borrower_flags,
        borrower_id=borrower_id,
        flag="HARDSHIP",
        note="lost job at the factory",
        set_at=contact_at,
        lifted_at=contact_at + timedelta(days=5),
        lift_note="new job",
    )
    return Person(made, point, contact, notice, complaint, flag)


async def rows_of(engine: AsyncEngine, p: Person) -> dict[str, tuple[Any, ...]]:
    """Every row of the person the purge may touch, as stored."""

    async def one(table: Any, pk: int) -> tuple[Any, ...]:
        stmt = select(table).where(table.c.id == pk)
        return tuple((await conn.execute(stmt)).one())

    async with engine.connect() as conn:
        return {
            "borrower": await one(tables.borrowers, p.made.borrower.id),
            "point": await one(tables.contact_points, p.point),
            "contact": await one(tables.contacts, p.contact),
            "notice": await one(tables.notices, p.notice),
            "complaint": await one(tables.complaints, p.complaint),
            "flag": await one(tables.borrower_flags, p.flag),
        }


async def purge_entries(engine: AsyncEngine) -> list[Any]:
    e = tables.audit_entries.c
    async with engine.connect() as conn:
        stmt = select(e.changes, e.actor_login).where(e.action == AuditAction.DATA_PURGE)
        return list((await conn.execute(stmt.order_by(e.id))).all())


def counts_in(stdout: str) -> dict[str, int]:
    """The counts `arrears purge` printed, by record kind."""
    line = stdout.strip()
    assert line.count("\n") == 0, stdout
    listed = line.split(": ", 1)[1]
    pairs = [item.rsplit(" ", 1) for item in listed.split(", ")]
    return {kind: int(n) for kind, n in pairs}


async def test_purge_anonymises_what_is_past_retention_and_nothing_else(
    migrated: AsyncEngine, empty_database_url: str
) -> None:
    factory = Factory(migrated)
    url = empty_database_url
    gone = await person(factory)
    held = await person(factory)
    recent = await person(factory, closed_at=NOW - timedelta(days=30))
    still_open = await person(factory, status="OPEN", closed_at=None)
    # Closed six years ago, but a contact two years ago: the floor of 3 years keeps its contact
    # records, and the person they were with, though the lender's periods (365 days) are over.
    us = await person(factory, portfolio="us-cards", contact_at=NOW - timedelta(days=2 * 365))
    # Closed long ago too, but the same borrower has an open case elsewhere.
    other = await factory.case(borrower=gone.made.borrower, portfolio="us-cards")
    sibling = await person(factory)
    await factory.case(borrower=sibling.made.borrower, portfolio="us-cards")
    del other
    await _add(
        migrated,
        tables.legal_holds,
        case_id=held.made.case.id,
        reason="litigation 2031-17",
        placed_at=NOW - timedelta(days=1),
    )
    write_off = await _add(
        migrated,
        tables.write_offs,
        case_id=gone.made.case.id,
        source="MANAGER",
        reason_code="UNCOLLECTIBLE",
        reason_text="borrower emigrated, new address known to 测试",
        amount=Decimal("10.00"),
        currency="CNY",
        written_off_at=LONG_AGO,
    )
    kept = [held, recent, still_open, sibling]
    before = {id(p): await rows_of(migrated, p) for p in [*kept, gone, us]}

    # gone's borrower has an open case now, and the us-cards person is under Reg F's floor:
    # nothing is past retention.
    nothing = await arrears("purge", "--dry-run", url=url)
    assert nothing.returncode == 0, nothing.stderr
    assert counts_in(nothing.stdout) == {kind: 0 for kind in KINDS}

    # gone's open case closes long ago: now gone is past retention.
    async with writing(migrated) as conn:
        await conn.execute(
            update(tables.cases)
            .where(tables.cases.c.borrower_id == gone.made.borrower.id)
            .values(status="CLOSED", close_reason="PAID_IN_FULL", closed_at=LONG_AGO)
        )
    expected = {kind: 0 for kind in KINDS} | {
        "borrowers": 1,
        "contact_points": 1,
        "borrower_flags": 1,
        "complaints": 1,
        "write_offs": 1,
        "contacts": 1,
        "notices": 1,
    }
    dry = await arrears("purge", "--dry-run", url=url)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith(f"purge as of {NOW.date()} (dry run, nothing changed): ")
    assert counts_in(dry.stdout) == expected
    for p in [*kept, gone, us]:
        assert await rows_of(migrated, p) == before[id(p)]  # a dry run changes nothing
    assert await purge_entries(migrated) == []  # … and audits nothing
    ran = await arrears("purge", url=url)
    assert ran.returncode == 0, ran.stderr
    counts = counts_in(ran.stdout)
    assert counts == expected

    borrower = (await rows_of(migrated, gone))["borrower"]
    b = tables.borrowers.c
    async with migrated.connect() as conn:
        row = (
            await conn.execute(select(tables.borrowers).where(b.id == gone.made.borrower.id))
        ).one()
    assert row.full_name == PLACEHOLDER
    assert row.national_id == f"[anon]{gone.made.borrower.id}"
    assert (row.phone, row.email, row.address, row.city, row.district, row.employer) == (
        PLACEHOLDER,
    ) * 6
    assert row.income == Decimal("0")
    assert row.anonymised_at is not None
    assert row.time_zone == gone.made.borrower.time_zone  # kept: it is no one's identity
    assert borrower != before[id(gone)]["borrower"]
    async with migrated.connect() as conn:
        point = (
            await conn.execute(
                select(tables.contact_points.c.value).where(
                    tables.contact_points.c.id == gone.point
                )
            )
        ).scalar_one()
        contact = (
            await conn.execute(
                select(tables.contacts.c.notes, tables.contacts.c.recording_ref).where(
                    tables.contacts.c.id == gone.contact
                )
            )
        ).one()
        notice = (
            await conn.execute(
                select(tables.notices.c.subject, tables.notices.c.body).where(
                    tables.notices.c.id == gone.notice
                )
            )
        ).one()
        complaint = (
            await conn.execute(
                select(tables.complaints.c.description, tables.complaints.c.resolution).where(
                    tables.complaints.c.id == gone.complaint
                )
            )
        ).one()
        flag = (
            await conn.execute(
                select(tables.borrower_flags.c.note, tables.borrower_flags.c.lift_note).where(
                    tables.borrower_flags.c.id == gone.flag
                )
            )
        ).one()
    assert point == PLACEHOLDER
    async with migrated.connect() as conn:
        reason = await conn.execute(
            select(tables.write_offs.c.reason_text).where(tables.write_offs.c.id == write_off)
        )
        assert reason.scalar_one() == PLACEHOLDER
    assert tuple(contact) == (PLACEHOLDER, PLACEHOLDER)
    assert tuple(notice) == (PLACEHOLDER, PLACEHOLDER)
    assert tuple(complaint) == (PLACEHOLDER, PLACEHOLDER)
    assert tuple(flag) == (PLACEHOLDER, PLACEHOLDER)

    # Held, recently closed, open, a borrower with an open case elsewhere, and the US_REG_F
    # person whose records Reg F keeps three years after the last contact: untouched.
    for p in [*kept, us]:
        assert await rows_of(migrated, p) == before[id(p)]
    us_rows = await rows_of(migrated, us)
    assert us_rows["contact"][tables.contacts.c.keys().index("notes")] == NOTES

    # The trail still verifies; the purge's entry carries the counts and the date.
    verified = await arrears("audit", "verify", url=url)
    assert verified.returncode == 0, verified.stderr
    entries = await purge_entries(migrated)
    assert len(entries) == 1
    changes, actor = entries[0]
    assert actor == "system:purge"
    assert changes["counts"] == counts
    assert changes["as_of"] == NOW.date().isoformat()
    assert changes["rules_version"] == "2026-11"

    # Idempotent: a second purge changes nothing and says 0 for every kind.
    after = {id(p): await rows_of(migrated, p) for p in [*kept, gone, us]}
    again = await arrears("purge", url=url)
    assert again.returncode == 0, again.stderr
    assert counts_in(again.stdout) == {kind: 0 for kind in KINDS}
    for p in [*kept, gone, us]:
        assert await rows_of(migrated, p) == after[id(p)]
    assert [e.changes["counts"] for e in await purge_entries(migrated)] == [
        counts,
        {kind: 0 for kind in KINDS},
    ]

    # Once the hold is released, the held person is past retention like anyone else; three
    # years after the US contact (and more), that person and the records go too.
    async with writing(migrated) as conn:
        await conn.execute(update(tables.legal_holds).values(released_at=NOW))
    later = (NOW + timedelta(days=400)).date()
    # The command refuses a day that has not come (a mistyped year would purge everyone now);
    # the job itself judges any day, as the daily run passes it.
    future = await arrears("purge", "--as-of", later.isoformat(), url=url)
    assert (future.returncode, future.stderr) == (
        1,
        f"arrears: --as-of {later} has not come yet: a purge is judged on a day that has\n",
    )
    settings = Settings(
        secret_key=TEST_SECRET,
        audit_secret=TEST_AUDIT_SECRET,
        env="test",
        retention_contact_days=365,
    )
    released = await run_purge(
        migrated, SystemClock(), settings.audit_key, as_of=later, periods=settings.retention
    )
    assert dict(released.counts) == {kind: 0 for kind in KINDS} | {
        "borrowers": 2,
        "contact_points": 2,
        "borrower_flags": 2,
        "complaints": 2,
        "legal_holds": 1,
        "contacts": 2,
        "notices": 2,
    }
    assert (await arrears("audit", "verify", url=url)).returncode == 0


async def test_purge_refuses_a_bad_date_and_a_too_short_period(
    migrated: AsyncEngine, empty_database_url: str
) -> None:
    bad = await arrears("purge", "--as-of", "yesterday", url=empty_database_url)
    assert bad.returncode == 1
    assert bad.stderr.strip() == "arrears: --as-of is not an ISO-8601 date: 'yesterday'"
    short = await asyncio.to_thread(
        invoke, "purge", url=empty_database_url, ARREARS_RETENTION_CLOSED_CASE_DAYS="7"
    )
    assert short.returncode == 1
    assert "retention_closed_case_days" in short.stderr
    assert "Traceback" not in short.stderr


def test_a_result_says_its_counts_in_one_line() -> None:
    result = PurgeResult(NOW.date(), {"borrowers": 2, "contacts": 0}, dry_run=True)
    assert result.summary() == (
        f"purge as of {NOW.date()} (dry run, nothing changed): borrowers 2, contacts 0"
    )
    assert result.total == 2


async def test_the_daily_run_ends_with_the_purge(
    migrated: AsyncEngine, empty_database_url: str
) -> None:
    factory = Factory(migrated)
    gone = await person(factory)
    ran = await arrears("daily", url=empty_database_url)
    assert ran.returncode == 0, ran.stderr
    purged = [line for line in ran.stdout.splitlines() if line.startswith("purge as of ")]
    assert len(purged) == 1
    assert counts_in(purged[0]) == {kind: 0 for kind in KINDS} | {
        "borrowers": 1,
        "contact_points": 1,
        "borrower_flags": 1,
        "complaints": 1,
        "contacts": 1,
        "notices": 1,
    }
    async with migrated.connect() as conn:
        name = (
            await conn.execute(
                select(tables.borrowers.c.full_name).where(
                    tables.borrowers.c.id == gone.made.borrower.id
                )
            )
        ).scalar_one()
    assert name == PLACEHOLDER
    [(changes, actor)] = await purge_entries(migrated)
    assert actor == "system:daily"
    assert changes["counts"]["borrowers"] == 1
    assert (await arrears("audit", "verify", url=empty_database_url)).returncode == 0
