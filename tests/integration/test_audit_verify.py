"""`arrears audit verify` and `arrears audit export` as an operator runs them, on a database of
each test's own (the export tests share one, which they only read): an intact trail verifies;
each kind of out-of-band tampering is named in one line; the export holds exactly the entries
of its time range, oldest first, and parses back.

The commands run in-process (typer's CliRunner on ``api.cli.app``, in a worker thread because
the CLI runs its own event loop), with the environment an operator's shell would give them;
one test runs the installed `arrears audit verify` as a process, end to end."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.app import create_app
from api.auth import mint_token
from api.cli import EXPORT_COLUMNS
from api.settings import Settings
from store import audit, tables
from store.audit import AUDIT_CHAINS, GENESIS, AuditRecord, append, audit_key, entry_hash
from store.db import create_engine
from store.demo import seed_demo
from store.migrate import upgrade
from tests.cli import Ran, invoke, spawn
from tests.conftest import PG_URL, TEST_AUDIT_SECRET, TEST_SECRET, _create_pg_database

KEY = audit_key(TEST_AUDIT_SECRET)
BASE = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
JSON_COLUMNS = ("actor_roles", "resource_ids", "borrower_ids", "case_ids", "fields", "changes")
e = tables.audit_entries.c
h = tables.audit_heads.c


async def arrears(*args: str, url: str) -> Ran:
    """Runs `arrears ARGS` in-process, in a worker thread: the CLI runs its own event loop."""
    return await asyncio.to_thread(invoke, *args, url=url)


def one_line(result: Ran) -> str:
    """The single line a failed command printed on stderr (and nothing on stdout)."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    return lines[0]


def record(n: int) -> AuditRecord:
    """Entry n of a trail written at BASE + n minutes; its text needs CSV quoting."""
    return AuditRecord(
        at=BASE + timedelta(minutes=n),
        action=("case.read", "borrower.reveal", "case.assign")[n % 3],
        outcome="DENIED" if n % 4 == 3 else "ALLOWED",
        actor_id=n % 5 + 1,
        actor_login=f"collector{n % 3 + 1}",
        actor_roles=["collector"],
        request_id=f"req-{n:03d}",
        client_ip="10.0.0.7",
        user_agent="agent/1.0",
        operation_name="Op",
        operation_type="query",
        document_hash="ab" * 32,
        resource_type="Case",
        resource_ids=[f"Case:{n}"],
        borrower_ids=[100 + n],
        case_ids=[n],
        fields=[{"name": "phone", "clear": n % 2 == 0}],
        reason_code="CONTACT_BORROWER",
        reason_text=f'call back, "soon" — 回电 #{n}\nsecond line',
        changes={"n": n, "refused": None} if n % 2 else None,
    )


async def write(engine: AsyncEngine, records: list[AuditRecord], chain: int) -> None:
    # As the application does: SQLite writers take the write lock when they begin.
    async with engine.connect() as conn:
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            await append(conn, KEY, records, chain=chain)


async def seed_trail(engine: AsyncEngine, count: int = 12) -> list[Any]:
    """Writes entries 0..count-1, one transaction each, over chains 0, 1 and 2 (n % 3)."""
    for n in range(count):
        await write(engine, [record(n)], chain=n % 3)
    return await all_rows(engine)


async def all_rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(tables.audit_entries).order_by(e.id))).all())


async def tamper(engine: AsyncEngine, *statements: Any) -> None:
    """Runs statements out of band, as someone with direct database access would."""
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # The append-only trigger refuses edits; a superuser can switch it off for this
            # transaction, which is exactly why the chain itself must catch the edit.
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
        for statement in statements:
            await conn.execute(statement)


def chain_of(rows: list[Any], chain: int) -> list[Any]:
    return sorted((r for r in rows if r.chain == chain), key=lambda r: r.seq)


# ---- verify ---------------------------------------------------------------------------------


async def test_verify_counts_an_intact_trail(
    migrated: AsyncEngine, empty_database_url: str
) -> None:
    empty = await arrears("audit", "verify", url=empty_database_url)
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout == f"audit trail verified: 0 entries in {AUDIT_CHAINS} chains\n"

    rows = await seed_trail(migrated, 12)
    await write(migrated, [record(20), record(21), record(22)], chain=7)  # one request, 3 entries
    result = await arrears("audit", "verify", url=empty_database_url)
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout == f"audit trail verified: {len(rows) + 3} entries in {AUDIT_CHAINS} chains\n"
    )
    assert "truncation of a chain cannot be detected without checkpoints" in result.stderr


async def test_verify_passes_on_a_trail_the_application_wrote(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        await upgrade(engine)
        await seed_demo(engine, cases=20, seed=5)
        settings = Settings(
            database_url=empty_database_url,
            secret_key=TEST_SECRET,
            audit_secret=TEST_AUDIT_SECRET,
            env="test",
        )
        app = create_app(settings, engine=engine)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                for login, query in [
                    ("collector1", "{ cases(first: 5) { edges { node { borrower { phone } } } } }"),
                    ("manager", "{ viewer { login } }"),
                    ("collector1", "{ auditTrail(first: 1) { totalCount } }"),
                    ("auditor1", "{ auditTrail(first: 50) { totalCount } }"),
                ]:
                    token = mint_token(settings, login)
                    response = await client.post(
                        "/graphql",
                        json={"query": query},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    assert response.status_code == 200, response.text
                failed = await client.post(
                    "/graphql", json={"query": "{ viewer { login } }"}, headers={}
                )
                assert failed.status_code == 401
        async with engine.connect() as conn:
            count = (
                await conn.execute(select(func.count()).select_from(tables.audit_entries))
            ).scalar_one()
    finally:
        await engine.dispose()
    # A read, a plain read, a denial with its request entry, an audit read, a failed login.
    assert count == 6
    result = await arrears("audit", "verify", url=empty_database_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"audit trail verified: 6 entries in {AUDIT_CHAINS} chains\n"


MODIFIED = "content does not match its hash (modified)"


async def test_verify_names_an_edited_entry(migrated: AsyncEngine, empty_database_url: str) -> None:
    """The one test that runs the installed command as a process, end to end."""
    rows = await seed_trail(migrated, 12)
    target = chain_of(rows, 1)[2]  # chain 1 holds entries 1, 4, 7, 10: this is entry 7
    await tamper(
        migrated,
        update(tables.audit_entries).where(e.id == target.id).values(actor_login="someone-else"),
    )
    line = one_line(spawn("audit", "verify", url=empty_database_url))
    assert line == f"arrears: audit trail broken at entry {target.id} (chain 1, seq 3): {MODIFIED}"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        pytest.param("action", "case.read.nothing", id="action"),
        pytest.param("outcome", "ALLOWED", id="outcome"),
        pytest.param("at", BASE + timedelta(minutes=7, microseconds=1), id="at"),
        pytest.param(
            "fields",
            [{"name": "phone", "clear": False}, {"name": "email", "clear": False}],
            id="fields",
        ),
        pytest.param("borrower_ids", [999], id="borrower_ids"),
        pytest.param("changes", {"n": 0}, id="changes"),
        pytest.param("changes", None, id="changes-null"),
        pytest.param("reason_text", "nothing to see", id="reason_text"),
        pytest.param("client_ip", "203.0.113.9", id="client_ip"),
        pytest.param("actor_roles", ["collector", "admin"], id="actor_roles"),
        pytest.param("hash", "e" * 64, id="hash"),
    ],
)
async def test_every_hashed_column_is_covered(
    migrated: AsyncEngine, column: str, value: Any
) -> None:
    rows = await seed_trail(migrated, 12)
    target = chain_of(rows, 1)[2]
    assert getattr(target, column) != value
    await tamper(
        migrated, update(tables.audit_entries).where(e.id == target.id).values({column: value})
    )
    async with migrated.connect() as conn:
        checked, breaks = await audit.verify(conn, KEY)
    assert [str(b) for b in breaks] == [f"entry {target.id} (chain 1, seq 3): {MODIFIED}"]
    assert checked == 12 - 1  # the rest of chain 1 (entry 10) is not reached


async def test_verify_names_an_entry_whose_link_was_edited(
    migrated: AsyncEngine, empty_database_url: str
) -> None:
    rows = await seed_trail(migrated, 12)
    target = chain_of(rows, 2)[1]
    await tamper(
        migrated, update(tables.audit_entries).where(e.id == target.id).values(prev_hash="0" * 64)
    )
    line = one_line(await arrears("audit", "verify", url=empty_database_url))
    assert line == (
        f"arrears: audit trail broken at entry {target.id} (chain 2, seq 2): "
        "previous hash does not match (inserted)"
    )


@pytest.mark.parametrize("position", ["first", "middle"])
async def test_verify_names_the_entry_after_a_deleted_one(
    migrated: AsyncEngine, empty_database_url: str, position: str
) -> None:
    rows = await seed_trail(migrated, 12)
    chain = chain_of(rows, 0)
    index = 0 if position == "first" else 1
    await tamper(migrated, delete(tables.audit_entries).where(e.id == chain[index].id))
    following = chain[index + 1]
    line = one_line(await arrears("audit", "verify", url=empty_database_url))
    assert line == (
        f"arrears: audit trail broken at entry {following.id} (chain 0, seq {index + 2}): "
        "entry missing before this one (deleted)"
    )


async def test_verify_names_the_entry_before_a_deleted_last_entry(
    migrated: AsyncEngine, empty_database_url: str
) -> None:
    rows = await seed_trail(migrated, 12)
    chain = chain_of(rows, 1)
    await tamper(migrated, delete(tables.audit_entries).where(e.id == chain[-1].id))
    line = one_line(await arrears("audit", "verify", url=empty_database_url))
    assert line == (
        f"arrears: audit trail broken at after entry {chain[-2].id} (chain 1, seq {len(chain)}): "
        "entries after this point are missing (deleted)"
    )


@pytest.mark.parametrize("kind", ["forged-link", "forged-key", "new-chain"])
async def test_verify_names_an_entry_inserted_out_of_band(
    migrated: AsyncEngine, empty_database_url: str, kind: str
) -> None:
    rows = await seed_trail(migrated, 12)
    chain, seq, prev = 2, len(chain_of(rows, 2)) + 1, chain_of(rows, 2)[-1].hash
    if kind == "new-chain":
        chain, seq, prev = 6, 1, GENESIS  # chain 6 is still empty
    forged = {**record(50).row(), "chain": chain, "seq": seq}
    if kind == "forged-link":
        forged.update(prev_hash="f" * 64, hash="0" * 64)
        problem = "previous hash does not match (inserted)"
    else:
        # Linked correctly, but signed without the server's key.
        forged["prev_hash"] = prev
        forged["hash"] = entry_hash(audit_key("not-the-server-secret-" * 2), prev, forged)
        problem = MODIFIED
    await tamper(migrated, insert(tables.audit_entries).values(**forged))
    async with migrated.connect() as conn:
        new_id = (await conn.execute(select(func.max(e.id)))).scalar_one()
    assert new_id > rows[-1].id
    line = one_line(await arrears("audit", "verify", url=empty_database_url))
    assert (
        line
        == f"arrears: audit trail broken at entry {new_id} (chain {chain}, seq {seq}): {problem}"
    )


async def test_verify_reports_every_broken_chain_earliest_first(
    migrated: AsyncEngine, empty_database_url: str
) -> None:
    rows = await seed_trail(migrated, 12)
    late, early = chain_of(rows, 0)[3], chain_of(rows, 2)[0]
    await tamper(
        migrated,
        update(tables.audit_entries).where(e.id == late.id).values(actor_login="x"),
        update(tables.audit_entries).where(e.id == early.id).values(actor_login="y"),
    )
    result = await arrears("audit", "verify", url=empty_database_url)
    assert result.returncode == 1
    assert result.stdout == ""
    # The earliest break is the error; any other broken chain is listed before it.
    assert result.stderr.strip().splitlines() == [
        f"also broken: entry {late.id} (chain 0, seq 4): {MODIFIED}",
        f"arrears: audit trail broken at entry {early.id} (chain 2, seq 1): {MODIFIED}",
    ]


@pytest.mark.skipif(not PG_URL, reason="the append-only trigger exists on PostgreSQL only")
@pytest.mark.parametrize("statement", ["update", "delete"])
async def test_postgresql_refuses_plain_updates_and_deletes(
    migrated: AsyncEngine, empty_database_url: str, statement: str
) -> None:
    rows = await seed_trail(migrated, 6)
    change = (
        update(tables.audit_entries).where(e.id == rows[2].id).values(actor_login="x")
        if statement == "update"
        else delete(tables.audit_entries).where(e.id == rows[2].id)
    )
    with pytest.raises(DBAPIError, match=f"append-only \\({statement.upper()} refused\\)"):
        async with migrated.begin() as conn:
            await conn.execute(change)
    assert await all_rows(migrated) == rows
    result = await arrears("audit", "verify", url=empty_database_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("audit trail verified: 6 entries")


@pytest.mark.skipif(not PG_URL, reason="the append-only trigger exists on PostgreSQL only")
async def test_postgresql_refuses_truncate(migrated: AsyncEngine) -> None:
    rows = await seed_trail(migrated, 6)
    with pytest.raises(DBAPIError, match="append-only"):
        async with migrated.begin() as conn:
            await conn.execute(text("TRUNCATE audit_entries"))
    assert await all_rows(migrated) == rows


async def test_verify_notices_an_emptied_trail(
    migrated: AsyncEngine, empty_database_url: str
) -> None:
    await seed_trail(migrated, 6)
    await tamper(migrated, delete(tables.audit_entries))
    result = await arrears("audit", "verify", url=empty_database_url)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    # Chains 0, 1 and 2 lost everything: nothing is left to name but their start.
    assert lines[-1] == (
        "arrears: audit trail broken at the start (chain 0, seq 1): "
        "entries after this point are missing (deleted)"
    )
    assert sorted(lines[:-1]) == [
        f"also broken: the start (chain {n}, seq 1): entries after this point are missing (deleted)"
        for n in (1, 2)
    ]


async def test_verify_of_a_live_trail_reports_no_break_for_a_concurrent_append(
    migrated: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_trail(migrated, 6)
    original = audit._entries
    appended = False

    async def entries_with_a_concurrent_append(conn: AsyncConnection, chain: int) -> Any:
        nonlocal appended
        if not appended:
            appended = True  # the application appends to chain 1 while verify is at chain 0
            await write(migrated, [record(40)], chain=1)
        async for row in original(conn, chain):
            yield row

    monkeypatch.setattr(audit, "_entries", entries_with_a_concurrent_append)
    async with migrated.connect() as conn:
        checked, breaks = await audit.verify(conn, KEY)
    assert appended
    assert breaks == []
    assert checked in (6, 7)


# ---- export ---------------------------------------------------------------------------------


def as_export(row: Any) -> dict[str, Any]:
    """What an exported entry must hold: every export column, the time in ISO-8601."""
    data = {name: getattr(row, name) for name in EXPORT_COLUMNS}
    data["at"] = row.at.isoformat()
    return data


def from_csv(line: dict[str, str]) -> dict[str, Any]:
    """Parses a CSV row back: JSON columns from JSON, numbers from text, empty as None."""
    data: dict[str, Any] = {}
    for name, value in line.items():
        if name in JSON_COLUMNS:
            data[name] = json.loads(value) if value != "" else None
        elif name in ("id", "chain", "seq"):
            data[name] = int(value)
        else:
            data[name] = value if value != "" else None
    return data


@pytest.fixture(scope="module")
async def trail_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A database the export tests share: they only read it."""
    if not PG_URL:
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('trail') / 'trail.db'}"
        return
    url, drop = await _create_pg_database(PG_URL)
    try:
        yield url
    finally:
        await drop()


@pytest.fixture(scope="module")
async def trail(trail_url: str) -> AsyncIterator[list[Any]]:
    """Entries 0..11 at BASE + n minutes (ids in time order)."""
    engine = create_engine(trail_url)
    try:
        await upgrade(engine)
        rows = await seed_trail(engine, 12)
        assert [r.at for r in rows] == [BASE + timedelta(minutes=n) for n in range(12)]
        yield rows
    finally:
        await engine.dispose()


RANGE = [
    "--since",
    (BASE + timedelta(minutes=3)).isoformat(),
    "--until",
    (BASE + timedelta(minutes=9)).isoformat(),
]


async def test_export_jsonl_holds_exactly_the_range_oldest_first(
    trail: list[Any], trail_url: str
) -> None:
    result = await arrears("audit", "export", *RANGE, "--format", "jsonl", url=trail_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n")
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    # since inclusive (entry 3), until exclusive (entry 9 is out).
    assert entries == [as_export(r) for r in trail[3:9]]
    assert [list(entry) for entry in entries] == [list(EXPORT_COLUMNS)] * 6
    assert entries[0]["reason_text"] == 'call back, "soon" — 回电 #3\nsecond line'
    assert [datetime.fromisoformat(x["at"]) for x in entries] == [r.at for r in trail[3:9]]
    assert result.stderr.strip().splitlines()[-1] == "exported 6 audit entries"

    everything = await arrears("audit", "export", url=trail_url)
    assert everything.returncode == 0, everything.stderr
    assert [json.loads(line)["id"] for line in everything.stdout.splitlines()] == [
        r.id for r in trail
    ]


async def test_export_csv_holds_exactly_the_range_and_parses_back(
    trail: list[Any], trail_url: str
) -> None:
    result = await arrears("audit", "export", *RANGE, "--format", "csv", url=trail_url)
    assert result.returncode == 0, result.stderr
    reader = csv.DictReader(io.StringIO(result.stdout, newline=""))
    assert reader.fieldnames == list(EXPORT_COLUMNS)
    parsed = [from_csv(line) for line in reader]
    assert parsed == [as_export(r) for r in trail[3:9]]
    assert parsed[1]["fields"] == [{"name": "phone", "clear": True}]
    assert parsed[0]["changes"] == {"n": 3, "refused": None}
    assert parsed[1]["changes"] is None
    assert result.stderr.strip().splitlines()[-1] == "exported 6 audit entries"


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
async def test_export_to_a_file(trail: list[Any], trail_url: str, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"audit.{fmt}"
    result = await arrears(
        "audit", "export", *RANGE, "--format", fmt, "--output", str(target), url=trail_url
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == "exported 6 audit entries"
    content = target.read_text(encoding="utf-8")
    if fmt == "jsonl":
        parsed = [json.loads(line) for line in content.splitlines()]
    else:
        parsed = [from_csv(line) for line in csv.DictReader(io.StringIO(content, newline=""))]
    assert parsed == [as_export(r) for r in trail[3:9]]


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        # The same instants written in another zone, or without a zone (taken as UTC).
        ("2026-03-01T17:03:00+08:00", "2026-03-01T17:09:00+08:00", range(3, 9)),
        ("2026-03-01T09:03:00", "2026-03-01T09:09:00", range(3, 9)),
        # Just after an entry excludes it; just after the last included one includes it.
        ("2026-03-01T09:03:00.000001+00:00", "2026-03-01T09:09:00.000001+00:00", range(4, 10)),
        (None, "2026-03-01T09:02:00Z", range(0, 2)),
        ("2026-03-01T09:10:00Z", None, range(10, 12)),
        ("2026-03-02T00:00:00Z", None, range(0)),
    ],
)
async def test_export_time_bounds(
    trail: list[Any],
    trail_url: str,
    since: str | None,
    until: str | None,
    expected: range,
) -> None:
    args = [*(["--since", since] if since else []), *(["--until", until] if until else [])]
    result = await arrears("audit", "export", *args, url=trail_url)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [
        trail[n].id for n in expected
    ]
    assert result.stderr.strip().splitlines()[-1] == f"exported {len(expected)} audit entries"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "xml"), "arrears: --format must be jsonl or csv, not 'xml'"),
        (("--format", "JSONL"), "arrears: --format must be jsonl or csv, not 'JSONL'"),
        (
            ("--since", "yesterday"),
            "arrears: --since is not an ISO-8601 date or time: 'yesterday'",
        ),
        (
            ("--until", "2026-13-01"),
            "arrears: --until is not an ISO-8601 date or time: '2026-13-01'",
        ),
    ],
)
async def test_export_refuses_bad_options_in_one_line(
    trail: list[Any], trail_url: str, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    target = tmp_path / "never.jsonl"
    result = await arrears("audit", "export", *args, "--output", str(target), url=trail_url)
    assert one_line(result) == message
    assert not target.exists()
