"""The `arrears` command: exit codes, one-line errors, tokens the server accepts, the SDL."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from api import cli
from api import settings as settings_module
from api.app import create_app
from api.auth import verify_token
from api.settings import Settings
from store import audit_queries, schema_state
from store.audit import AuditRecord, append, audit_key
from store.audit_queries import AuditFilterSpec
from store.db import create_engine
from store.migrate import alembic_config, upgrade
from tests.conftest import TEST_AUDIT_SECRET, TEST_SECRET
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def arrears(*args: str, url: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "ARREARS_SECRET_KEY": TEST_SECRET,
        "ARREARS_AUDIT_SECRET": TEST_AUDIT_SECRET,
        **env,
    }
    if url is not None:
        environment["ARREARS_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=120,
    )


def test_schema_file_equals_the_printed_sdl() -> None:
    result = arrears("schema")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "schema.graphql").read_text(encoding="utf-8")
    for name in (
        "viewer: Viewer!",
        "node(id: ID!): Node",
        "cases(",
        "assignCase(",
        "placeWithAgency(",
        "recallFromAgency(",
        "input CaseFilter",
    ):
        assert name in result.stdout


def test_token_is_accepted_by_the_verifier(engine: object, database_url: str) -> None:
    result = arrears("token", "lead1", "--ttl", "120", url=database_url)
    assert result.returncode == 0, result.stderr
    claims = verify_token(Settings(secret_key=TEST_SECRET), result.stdout.strip())
    assert claims.login == "lead1"
    assert (claims.expires_at - claims.issued_at).total_seconds() == 120


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("token", "ghost"), "arrears: unknown staff login 'ghost'"),
        (("token", "collector9"), "arrears: staff login 'collector9' is deactivated"),
    ],
)
def test_token_refuses_unknown_or_deactivated_logins(
    engine: object, database_url: str, args: tuple[str, ...], message: str
) -> None:
    result = arrears(*args, url=database_url)
    assert result.returncode == 1
    assert result.stderr.strip() == message
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql://x@y/z", "unsupported database driver 'mysql'"),
        ("not a url", "invalid database URL"),
        ("postgresql+asyncpg://postgres@127.0.0.1:1/none", "cannot reach the database"),
    ],
)
def test_migrate_fails_with_one_line_for_a_bad_database(url: str, fragment: str) -> None:
    result = arrears("migrate", url=url)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_production_refuses_the_development_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ARREARS_SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "token", "admin"],
        capture_output=True,
        text=True,
        env={**env, "ARREARS_ENV": "production"},
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 1
    assert "ARREARS_SECRET_KEY must be set when ARREARS_ENV=production" in result.stderr


def test_migrate_and_demo_on_a_fresh_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    migrated = arrears("migrate", url=url)
    assert migrated.returncode == 0, migrated.stderr
    assert "database at revision 0013" in migrated.stdout
    seeded = arrears("demo", "--cases", "30", "--seed", "3", url=url)
    assert seeded.returncode == 0, seeded.stderr
    assert "seeded 30 demo cases" in seeded.stdout
    assert "acme.manager" in seeded.stdout
    again = arrears("demo", "--cases", "30", url=url)
    assert again.returncode == 1
    assert len(again.stderr.strip().splitlines()) == 1
    assert "only seeded into an empty database" in again.stderr


def test_serve_refuses_a_public_interface_with_the_development_key() -> None:
    """Anyone reaching the port could mint an admin token with the key printed in the source."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARREARS_")}
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 1
    assert "refusing to serve on 0.0.0.0 with the development key" in result.stderr
    assert "Traceback" not in result.stderr


# ---- A database that is missing or not migrated (run from the wrong directory) ---------------

runner = CliRunner()

READING_COMMANDS = [
    ("token", "collector1"),
    ("audit", "verify"),
    ("audit", "export"),
    ("audit", "checkpoint"),
]


@pytest.fixture
def test_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The CLI's environment for in-process runs: the test secrets, no ARREARS_DATABASE_URL,
    checkpoints in a directory of their own; returns that directory."""
    for name in list(os.environ):
        if name.startswith("ARREARS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ARREARS_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("ARREARS_AUDIT_SECRET", TEST_AUDIT_SECRET)
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    monkeypatch.setenv("ARREARS_AUDIT_CHECKPOINT_DIR", str(checkpoints))
    return checkpoints


@pytest.mark.parametrize("command", READING_COMMANDS, ids=" ".join)
def test_a_command_run_where_there_is_no_database_says_so_and_creates_nothing(
    command: tuple[str, ...],
    test_environment: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = runner.invoke(cli.app, list(command))
    assert result.exit_code == 1
    assert result.stderr == (
        f"arrears: the database sqlite+aiosqlite:///./arrears.db ({elsewhere}/arrears.db) "
        "does not exist; run `arrears migrate` first (or set ARREARS_DATABASE_URL)\n"
    )
    assert result.stdout == ""
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("command", READING_COMMANDS, ids=" ".join)
def test_a_command_on_an_empty_sqlite_file_names_it_and_leaves_it_untouched(
    command: tuple[str, ...],
    test_environment: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    monkeypatch.setenv("ARREARS_DATABASE_URL", f"sqlite+aiosqlite:///{empty}")
    result = runner.invoke(cli.app, list(command))
    assert result.exit_code == 1
    assert result.stderr == (
        f"arrears: the database sqlite+aiosqlite:///{empty} has no schema (not migrated); "
        "run `arrears migrate` first\n"
    )
    assert empty.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints", "empty.db"]


@pytest.mark.parametrize("command", READING_COMMANDS, ids=" ".join)
def test_a_command_on_an_unmigrated_database_of_the_backend_under_test_asks_for_migrate(
    command: tuple[str, ...],
    test_environment: Path,
    empty_database_url: str,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = make_url(empty_database_url)
    if backend == "postgresql":
        # The test server trusts every local connection: the password only has to be hidden.
        url = url.set(password="s3cret-password")
    monkeypatch.setenv("ARREARS_DATABASE_URL", url.render_as_string(hide_password=False))
    result = runner.invoke(cli.app, list(command))
    assert result.exit_code == 1
    shown = url.render_as_string(hide_password=True)
    if backend == "postgresql":
        assert shown.startswith("postgresql+asyncpg://postgres:***@")
        expected = f"the database {shown} has no schema (not migrated)"
        assert result.stderr == f"arrears: {expected}; run `arrears migrate` first\n"
    else:
        assert result.stderr == (
            f"arrears: the database {shown} ({url.database}) does not exist; "
            "run `arrears migrate` first (or set ARREARS_DATABASE_URL)\n"
        )
    assert "s3cret-password" not in result.stderr


async def test_a_database_behind_the_newest_revision_is_refused_until_migrated(
    empty_database_url: str,
) -> None:
    engine = create_engine(empty_database_url)
    try:
        await upgrade(engine, "0001")
    finally:
        await engine.dispose()
    heads = tuple(ScriptDirectory.from_config(alembic_config()).get_heads())
    assert "0001" not in heads
    shown = make_url(empty_database_url).render_as_string(hide_password=True)
    problem = (
        f"the database {shown} is at revision 0001, not the newest ({', '.join(heads)}); "
        "run `arrears migrate` first"
    )
    state = await schema_state.schema_state(empty_database_url)
    assert (state.exists, state.revision, state.heads, state.current) == (
        True,
        "0001",
        heads,
        False,
    )
    assert state.problem() == problem
    with pytest.raises(schema_state.SchemaNotReady) as refused:
        await schema_state.require_current_schema(empty_database_url)
    assert str(refused.value) == problem
    result = await asyncio.to_thread(arrears, "token", "admin", url=empty_database_url)
    assert result.returncode == 1
    assert result.stderr == f"arrears: {problem}\n"
    migrated = await asyncio.to_thread(arrears, "migrate", url=empty_database_url)
    assert migrated.returncode == 0, migrated.stderr
    assert (await schema_state.schema_state(empty_database_url)).problem() is None


async def test_a_database_newer_than_the_code_asks_for_a_newer_arrears(
    migrated: AsyncEngine, empty_database_url: str
) -> None:
    async with migrated.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    shown = make_url(empty_database_url).render_as_string(hide_password=True)
    with pytest.raises(schema_state.SchemaNotReady) as refused:
        await schema_state.require_current_schema(empty_database_url)
    assert str(refused.value) == (
        f"the database {shown} is at revision f00d, which this version of arrears does not "
        "know; upgrade arrears"
    )


def test_display_url_hides_the_password() -> None:
    assert (
        schema_state.display_url("postgresql+asyncpg://app:hunter2@db.internal:5432/arrears")
        == "postgresql+asyncpg://app:***@db.internal:5432/arrears"
    )
    assert schema_state.display_url("sqlite+aiosqlite:///./arrears.db") == (
        "sqlite+aiosqlite:///./arrears.db"
    )


def test_reading_commands_still_work_on_a_migrated_database(
    engine: object, database_url: str, test_environment: Path
) -> None:
    result = runner.invoke(
        cli.app, ["token", "auditor1"], env={"ARREARS_DATABASE_URL": database_url}
    )
    assert result.exit_code == 0, result.stderr
    assert verify_token(Settings(secret_key=TEST_SECRET), result.stdout.strip()).login == "auditor1"
    assert result.stderr == ""


# ---- The audit export counts through the store; the CLI holds no SQL ---------------------------


async def test_audit_export_counts_and_writes_the_entries_of_its_period(
    migrated: AsyncEngine, empty_database_url: str, tmp_path: Path
) -> None:
    times = [datetime(2026, 10, 31, 23, 59, tzinfo=UTC)] + [
        datetime(2026, 11, day, 9, tzinfo=UTC) for day in (1, 2, 3)
    ]
    records = [
        AuditRecord(at=at, action="api.read", outcome="ALLOWED", actor_login=f"user{n}")
        for n, at in enumerate(times)
    ]
    async with migrated.begin() as conn:
        await append(conn, audit_key(TEST_AUDIT_SECRET), records, chain=0)
    spec = AuditFilterSpec(since=datetime(2026, 11, 1, tzinfo=UTC))
    async with migrated.connect() as conn:
        assert await audit_queries.stream_count(conn, spec) == 3
        assert await audit_queries.stream_count(conn, AuditFilterSpec()) == 4
        streamed = [row.actor_login async for row in audit_queries.stream(conn, spec)]
    assert streamed == ["user1", "user2", "user3"]

    output = tmp_path / "november.jsonl"
    result = await asyncio.to_thread(
        arrears,
        "audit",
        "export",
        "--since",
        "2026-11-01",
        "--output",
        str(output),
        url=empty_database_url,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "exported 3 audit entries\n"
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [line["actor_login"] for line in lines] == ["user1", "user2", "user3"]


def test_the_cli_imports_no_sqlalchemy() -> None:
    tree = ast.parse((ROOT / "api" / "cli.py").read_text(encoding="utf-8"))
    imported = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ] + [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert [name for name in imported if name.split(".")[0] in ("sqlalchemy", "alembic")] == []


# ---- arrears --version --------------------------------------------------------------------------


def test_version_prints_the_installed_version() -> None:
    with (ROOT / "pyproject.toml").open("rb") as project:
        declared = tomllib.load(project)["project"]["version"]
    assert metadata.version("arrears") == declared
    result = runner.invoke(cli.app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"arrears {declared}\n"
    assert result.stderr == ""


def test_version_as_a_process() -> None:
    result = arrears("--version")
    assert result.returncode == 0
    assert result.stdout == f"arrears {metadata.version('arrears')}\n"


# ---- The development warnings, once per process -------------------------------------------------

SECRET_WARNING = (
    "arrears: WARNING: ARREARS_SECRET_KEY is not set: tokens are signed with the development key "
    "printed in the source; anyone can forge them (ARREARS_ENV=development only)\n"
)
AUDIT_WARNING = (
    "arrears: WARNING: ARREARS_AUDIT_SECRET is not set: the audit chain's key is derived from the "
    "token key (ARREARS_ENV=development only)\n"
)


def test_development_warnings_are_said_once_per_process(
    engine: object,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A process of its own, as far as the warnings go (and the next test's is untouched).
    monkeypatch.setattr(settings_module, "_said", set())
    for name in list(os.environ):
        if name.startswith("ARREARS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ARREARS_DATABASE_URL", database_url)

    first = runner.invoke(cli.app, ["token", "collector1"])
    second = runner.invoke(cli.app, ["token", "collector2"])
    create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    settings_module.say_development_warnings(Settings())

    assert first.exit_code == 0, first.stderr
    assert first.stderr == SECRET_WARNING + AUDIT_WARNING
    assert second.exit_code == 0, second.stderr
    assert second.stderr == ""
    assert capsys.readouterr().err == ""
    assert Settings().development_warnings() != []  # the list itself is not consumed


def test_a_configured_development_process_says_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(settings_module, "_said", set())
    quiet = Settings(env="development", secret_key=TEST_SECRET, audit_secret=TEST_AUDIT_SECRET)
    settings_module.say_development_warnings(quiet)
    create_app(quiet)
    assert capsys.readouterr().err == ""


def test_serve_says_each_development_warning_once(
    engine: object, database_url: str, tmp_path: Path
) -> None:
    """`arrears serve` builds settings in the CLI, again in api.asgi, and then the app: the
    reader is told once."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARREARS_")}
    env["ARREARS_DATABASE_URL"] = database_url
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        finally:
            process.terminate()
            process.wait(timeout=10)
    said = log.read_text()
    assert said.count(SECRET_WARNING) == 1, said
    assert said.count(AUDIT_WARNING) == 1, said
    assert said.count("ARREARS_SECRET_KEY is not set") == 2, said  # the line, and its log event
