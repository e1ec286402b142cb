"""`arrears import`: exit 0 when every row was imported, 1 when rows were rejected (nothing
imported without --skip-invalid), the summary on stdout, problems on stderr without values."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from jobs.locks import DAILY_CYCLE, job_lock
from tests.cli import invoke_aside
from tests.feeds.support import AS_OF, SAMPLE, SAMPLE_CSV, borrower, count, write_feed


async def test_a_clean_feed_exits_0_with_a_summary(
    migrated: AsyncEngine, empty_database_url: str
) -> None:
    ran = invoke_aside("import", str(SAMPLE), url=empty_database_url)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[0] == (
        "imported the core-banking feed of 2026-11-27: 14 rows, 0 rejected"
    )
    assert "  debt: 3 rows, 3 inserted, 0 updated, 0 unchanged" in ran.stdout
    assert "  cases: 2 opened, 0 reopened, 0 new episodes, 2 refigured; 2 debts attached" in (
        ran.stdout
    )
    again = invoke_aside("import", str(SAMPLE_CSV), "--format", "csv", url=empty_database_url)
    assert again.returncode == 0, again.stderr
    assert "  debt: 3 rows, 0 inserted, 0 updated, 3 unchanged" in again.stdout


async def test_a_bad_row_exits_1_naming_it_and_imports_nothing(
    migrated: AsyncEngine, empty_database_url: str, tmp_path: Path
) -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace('"+86 139 0000 1001"', '"+86 139 0000 1001 ext 9"')
    bad = tmp_path / "feed.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ran = invoke_aside("import", str(bad), url=empty_database_url)
    assert ran.returncode == 1
    assert ran.stderr.splitlines() == [
        "  feed.jsonl:2: phone: invalid phone number",
        "arrears: nothing imported: 1 of 14 rows have problems "
        "(fix them, or pass --skip-invalid to import the rest)",
    ]
    assert "0000 1001" not in ran.stderr + ran.stdout
    assert await count(migrated, "borrowers") == 0
    skipped = invoke_aside("import", str(bad), "--skip-invalid", url=empty_database_url)
    assert skipped.returncode == 1
    assert "rejected rows written to" in skipped.stderr
    assert (tmp_path / "feed.jsonl.rejects.jsonl").exists()
    assert await count(migrated, "borrowers") == 1


async def test_usage_errors_exit_1(migrated: AsyncEngine, empty_database_url: str) -> None:
    missing = invoke_aside("import", "/no/such/feed.jsonl", url=empty_database_url)
    assert (missing.returncode, missing.stderr) == (
        1,
        "arrears: no such file or directory: /no/such/feed.jsonl\n",
    )
    wrong = invoke_aside("import", str(SAMPLE), "--format", "xml", url=empty_database_url)
    assert wrong.returncode == 1 and "--format must be jsonl or csv" in wrong.stderr


async def test_rejects_without_skip_invalid_is_refused_in_one_line(
    migrated: AsyncEngine, empty_database_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "r.jsonl"
    ran = invoke_aside("import", str(SAMPLE), "--rejects", str(target), url=empty_database_url)
    assert (ran.returncode, ran.stderr) == (
        1,
        "arrears: --rejects needs --skip-invalid (without it nothing is imported)\n",
    )
    assert not target.exists() and await count(migrated, "borrowers") == 0


async def test_an_unwritable_rejects_file_an_older_feed_and_a_held_lock_fail_in_one_line(
    migrated: AsyncEngine, empty_database_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "missing" / "r.jsonl"
    ran = invoke_aside(
        "import", str(SAMPLE), "--skip-invalid", "--rejects", str(target), url=empty_database_url
    )
    assert ran.returncode == 1
    assert ran.stderr.startswith(f"arrears: cannot write the rejects file {target}: ")
    assert len(ran.stderr.splitlines()) == 1 and await count(migrated, "borrowers") == 0
    async with job_lock(migrated, "daily", lock=DAILY_CYCLE):
        held = invoke_aside("import", str(SAMPLE), url=empty_database_url)
    assert (held.returncode, held.stderr) == (
        1,
        "arrears: another import or daily run is in progress\n",
    )
    newer = write_feed(tmp_path / "newer.jsonl", [borrower(9)], as_of=AS_OF + timedelta(days=1))
    assert invoke_aside("import", str(newer), url=empty_database_url).returncode == 0
    older = invoke_aside("import", str(SAMPLE), url=empty_database_url)
    assert (older.returncode, older.stderr) == (
        1,
        f"arrears: the feed of {AS_OF} is older than the newest imported "
        f"({AS_OF + timedelta(days=1)}): nothing imported\n",
    )
    assert await count(migrated, "borrowers") == 1
