"""The audit chain: appends under concurrency stay valid; out-of-band edits are detected."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, event, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, NoResultFound
from sqlalchemy.ext.asyncio import AsyncEngine

from store import audit, tables
from store.audit import (
    AUDIT_CHAINS,
    GENESIS,
    AuditRecord,
    append,
    audit_key,
    canonical,
    prepare,
    verify,
)
from tests.conftest import PG_URL, TEST_AUDIT_SECRET, TEST_SECRET

KEY = audit_key(TEST_AUDIT_SECRET)
ROOT = Path(__file__).resolve().parents[2]
e = tables.audit_entries.c


def record(n: int, request_id: str = "r") -> AuditRecord:
    return AuditRecord(
        at=datetime(2026, 11, 28, 10, 0, n % 60, n, tzinfo=UTC),
        action="case.read",
        outcome="ALLOWED",
        actor_login=f"user{n % 3}",
        actor_roles=["collector"],
        request_id=request_id,
        borrower_ids=[n],
        case_ids=[n],
        fields=[{"name": "phone", "clear": False}],
        changes={"n": n},
    )


async def write(engine: AsyncEngine, records: list[AuditRecord], chain: int | None = None) -> None:
    # As the application does: SQLite writers take the write lock when they begin.
    async with engine.connect() as conn:
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            await append(conn, KEY, records, chain=chain)


async def tamper(engine: AsyncEngine, statement: object) -> None:
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # The trigger refuses edits; a superuser can still bypass it, which is exactly
            # why the chain must catch them.
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(statement)  # type: ignore[arg-type]


def cli_verify(url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ARREARS_DATABASE_URL": url,
        "ARREARS_SECRET_KEY": TEST_SECRET,
        "ARREARS_AUDIT_SECRET": TEST_AUDIT_SECRET,
    }
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "audit", "verify"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


async def test_intact_trail_verifies(migrated: AsyncEngine, empty_database_url: str) -> None:
    for chain in range(3):
        await write(migrated, [record(chain * 10 + i) for i in range(4)], chain=chain)
    async with migrated.connect() as conn:
        assert await verify(conn, KEY) == (12, [])
    result = cli_verify(empty_database_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"audit trail verified: 12 entries in {AUDIT_CHAINS} chains"


async def test_concurrent_appends_lose_nothing_and_keep_every_chain_valid(
    migrated: AsyncEngine,
) -> None:
    async def one(n: int) -> None:
        await write(migrated, [record(n, request_id=f"req-{n}"), record(n + 1000)])

    await asyncio.gather(*(one(n) for n in range(40)))
    async with migrated.connect() as conn:
        count = (
            await conn.execute(select(func.count()).select_from(tables.audit_entries))
        ).scalar()
        checked, breaks = await verify(conn, KEY)
        chains = (
            await conn.execute(select(e.chain, func.count(), func.max(e.seq)).group_by(e.chain))
        ).all()
    assert count == checked == 80
    assert breaks == []
    assert all(n == top for _chain, n, top in chains)  # seq 1..n in every chain
    assert len(chains) > 1  # requests spread over several chains


@pytest.mark.parametrize("kind", ["modified", "deleted-middle", "deleted-last", "inserted"])
async def test_out_of_band_changes_are_named(
    migrated: AsyncEngine, empty_database_url: str, kind: str
) -> None:
    await write(migrated, [record(i) for i in range(5)], chain=2)
    async with migrated.connect() as conn:
        ids = (await conn.execute(select(e.id).order_by(e.seq))).scalars().all()
    if kind == "modified":
        await tamper(
            migrated,
            update(tables.audit_entries).where(e.id == ids[2]).values(actor_login="someone-else"),
        )
        expected = f"entry {ids[2]} (chain 2, seq 3): content does not match its hash (modified)"
    elif kind == "deleted-middle":
        await tamper(migrated, delete(tables.audit_entries).where(e.id == ids[1]))
        expected = f"entry {ids[2]} (chain 2, seq 3): entry missing before this one (deleted)"
    elif kind == "deleted-last":
        await tamper(migrated, delete(tables.audit_entries).where(e.id == ids[4]))
        expected = f"after entry {ids[3]} (chain 2, seq 5): entries after this point are missing"
    else:
        forged = {**record(99).row(), "chain": 2, "seq": 6, "prev_hash": "f" * 64, "hash": "0" * 64}
        await tamper(migrated, insert(tables.audit_entries).values(**forged))
        async with migrated.connect() as conn:
            new_id = (await conn.execute(select(func.max(e.id)))).scalar_one()
        expected = f"entry {new_id} (chain 2, seq 6): previous hash does not match (inserted)"
    result = cli_verify(empty_database_url)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"arrears: audit trail broken at {expected}"), lines[0]


async def test_a_forged_entry_with_a_recomputed_plain_hash_is_still_caught(
    migrated: AsyncEngine,
) -> None:
    await write(migrated, [record(1)], chain=0)
    async with migrated.connect() as conn:
        head = (
            await conn.execute(select(tables.audit_heads).where(tables.audit_heads.c.chain == 0))
        ).one()
    forged = {**record(2).row(), "chain": 0, "seq": 2, "prev_hash": head.hash}
    forged["hash"] = audit.entry_hash(audit_key("not-the-server-key"), head.hash, forged)
    await tamper(migrated, insert(tables.audit_entries).values(**forged))
    await tamper(
        migrated,
        update(tables.audit_heads)
        .where(tables.audit_heads.c.chain == 0)
        .values(seq=2, hash=forged["hash"]),
    )
    async with migrated.connect() as conn:
        _checked, breaks = await verify(conn, KEY)
    assert [b.problem for b in breaks] == ["content does not match its hash (modified)"]


def test_the_bytes_prepared_around_the_sequence_number_are_the_canonical_bytes() -> None:
    tricky = AuditRecord(
        at=datetime(2026, 11, 28, 18, 0, 0, 1, tzinfo=UTC),
        action="case.read",
        outcome="ALLOWED",
        user_agent='agent ,"user_agent":"x" 上海',
        reason_text='{"seq":1}',
        changes={"user_agent": "nested", "seq": 2, "when": datetime(2026, 1, 1), "pair": (1, 2)},
    )
    for made in (tricky, record(7)):
        prepared = prepare([made], chain=5)
        (before, after), row = prepared.around_seq[0], prepared.rows[0]
        for seq in (1, 42, 10**9):
            assert f"{before}{seq}{after}".encode() == canonical({**row, "seq": seq})


async def test_one_entry_and_several_are_stored_and_chained_alike(migrated: AsyncEngine) -> None:
    # One entry takes the single-entry path (SQLite: the head read inside the INSERT), several
    # the other; both must store the same values and chain as verify recomputes them.
    await write(migrated, [record(3)], chain=1)
    await write(migrated, [record(3), record(3)], chain=2)
    await write(migrated, [record(4)], chain=1)
    async with migrated.connect() as conn:
        assert await verify(conn, KEY) == (4, [])
        stored = (
            await conn.execute(
                select(tables.audit_entries).where(e.chain.in_([1, 2])).order_by(e.chain, e.seq)
            )
        ).all()
    skip = ("id", "chain", "seq", "prev_hash", "hash")
    content = [{k: v for k, v in row._mapping.items() if k not in skip} for row in stored]
    assert content[0] == content[2] == content[3]
    assert [(row.chain, row.seq) for row in stored] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert stored[1].prev_hash == stored[0].hash and stored[3].prev_hash == stored[2].hash


@pytest.mark.parametrize("entries", [1, 3, 501])
async def test_an_append_takes_few_statements_under_the_heads_lock(
    migrated: AsyncEngine, entries: int
) -> None:
    statements: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(" ".join(statement.split()))

    async with migrated.connect() as conn:
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            event.listen(migrated.sync_engine, "before_cursor_execute", note)
            try:
                await append(conn, KEY, [record(n) for n in range(entries)], chain=6)
            finally:
                event.remove(migrated.sync_engine, "before_cursor_execute", note)
    if migrated.dialect.name == "postgresql" and entries <= 500:
        # The head locked and read, then the head moved and every entry inserted at once.
        assert [s.split(" ")[0] for s in statements] == ["SELECT", "WITH"], statements
        assert "FOR UPDATE" in statements[0] and "INSERT INTO audit_entries" in statements[1]
    else:
        # SQLite, or many entries (more than one statement's parameters on PostgreSQL): the
        # head read (the HMAC stays in Python), the rows, then the head.
        assert [s.split(" ")[0] for s in statements] == ["SELECT", "INSERT", "UPDATE"], statements
    async with migrated.connect() as conn:
        assert await verify(conn, KEY) == (entries, [])


@pytest.mark.parametrize("entries", [1, 2])
async def test_an_append_to_a_chain_whose_head_is_gone_writes_nothing(
    migrated: AsyncEngine, entries: int
) -> None:
    await tamper(migrated, delete(tables.audit_heads).where(tables.audit_heads.c.chain == 3))
    with pytest.raises(NoResultFound):
        await write(migrated, [record(n) for n in range(entries)], chain=3)
    async with migrated.connect() as conn:
        count = await conn.execute(select(func.count()).select_from(tables.audit_entries))
        assert count.scalar_one() == 0


async def test_chains_start_at_genesis(migrated: AsyncEngine) -> None:
    async with migrated.connect() as conn:
        heads = (await conn.execute(select(tables.audit_heads))).all()
    assert sorted((h.chain, h.seq, h.hash) for h in heads) == [
        (c, 0, GENESIS) for c in range(AUDIT_CHAINS)
    ]


@pytest.mark.skipif(not PG_URL, reason="the append-only trigger exists on PostgreSQL")
@pytest.mark.parametrize("statement", ["update", "delete"])
async def test_postgresql_refuses_update_and_delete(migrated: AsyncEngine, statement: str) -> None:
    await write(migrated, [record(1)], chain=0)
    change = (
        update(tables.audit_entries).values(actor_login="x")
        if statement == "update"
        else delete(tables.audit_entries)
    )
    with pytest.raises(DBAPIError, match="append-only"):
        async with migrated.begin() as conn:
            await conn.execute(change)
    async with migrated.connect() as conn:
        assert (await conn.execute(select(e.actor_login))).scalars().all() == ["user1"]
