"""The `arrears` command: exit codes, one-line errors, tokens the server accepts, the SDL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.auth import verify_token
from api.settings import Settings
from tests.conftest import TEST_AUDIT_SECRET, TEST_SECRET

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
    assert "database at revision 0004" in migrated.stdout
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
