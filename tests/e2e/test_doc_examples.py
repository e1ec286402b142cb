"""Every shell example of README.md and docs/API.md, run as written against a real server.

Each ```bash / ```sh / ```shell / ```console block is one test case, run with bash (``set -euo
pipefail``) in a scratch directory, with the virtualenv's ``arrears`` first on PATH and ARREARS_*
pointing at this module's own migrated, seeded database (SQLite, or PostgreSQL when
ARREARS_TEST_DATABASE_URL is set) and the test secrets. The only change made to a block is the
server's address: ``http://127.0.0.1:8000`` becomes the test server's. ``curl`` is wrapped so
that every response is kept: each must be JSON without ``errors``.

HTML comments just above a block (no blank line between) say how to treat it:

- ``<!-- not-run: reason -->`` — not run (an install, a server that runs until stopped); the
  case is reported as skipped with that reason, never left out silently;
- ``<!-- expect-errors: CODE -->`` — every response must carry GraphQL errors, one of them with
  ``extensions.code`` CODE;
- ``<!-- expect-output: text -->`` — the block's output must contain the text.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from store.db import create_engine
from store.demo import seed_demo
from store.migrate import upgrade
from tests.conftest import (
    DEMO_CASES,
    DEMO_SEED,
    PG_URL,
    TEST_AUDIT_SECRET,
    TEST_SECRET,
    _create_pg_database,
)
from tests.servers import running_server

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ("README.md", "docs/API.md")
SHELL = {"bash", "sh", "shell", "console"}
DOCUMENTED_SERVER = re.compile(r"https?://(?:127\.0\.0\.1|localhost):8000")
ANY_URL = re.compile(r"https?://[^\s'\"<>)]+")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[^\s`]*)")
MARKER = re.compile(r"^\s*<!--\s*(?P<name>[a-z][a-z-]*)\s*:\s*(?P<value>.*?)\s*-->\s*$")
MARKERS = {"not-run", "expect-errors", "expect-output"}
# Fewer runnable examples than this means examples were lost or marked not-run by mistake.
MIN_RUNNABLE = 8

# Prepended to every block: fail on the first failing command, and keep each curl response.
PRELUDE = r"""set -euo pipefail
curl() {
  local response status=0
  response="$(mktemp "$DOC_RESPONSES/response.XXXXXX")"
  command curl -q "$@" >"$response" || status=$?
  cat "$response"
  return "$status"
}
"""


@dataclass(frozen=True)
class Block:
    document: str
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    markers: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.document}:{self.line}"

    def script(self) -> str:
        """Returns the commands of the block (a console block's lines after its ``$`` prompt)."""
        if self.lang != "console":
            return self.text
        return "\n".join(
            line.lstrip()[2:] for line in self.text.splitlines() if line.lstrip().startswith("$ ")
        )


def fenced_blocks(document: str) -> list[Block]:
    """Returns every fenced block of a Markdown document, with the markers just above it."""
    lines = (ROOT / document).read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence, indent = opening["fence"], opening["indent"]
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not (
            lines[end].strip().startswith(fence[0] * len(fence))
            and not lines[end].strip().strip(fence[0])
        ):
            body.append(lines[end].removeprefix(indent))
            end += 1
        markers: dict[str, str] = {}
        above = index - 1
        while above >= 0 and (marker := MARKER.match(lines[above])):
            markers[marker["name"]] = marker["value"]
            above -= 1
        blocks.append(Block(document, index + 1, opening["lang"].lower(), "\n".join(body), markers))
        index = end + 1
    return blocks


def shell_blocks() -> list[Block]:
    return [block for doc in DOCUMENTS for block in fenced_blocks(doc) if block.lang in SHELL]


BLOCKS = shell_blocks()


def test_every_shell_example_is_found_and_most_of_them_run() -> None:
    runnable = [block.name for block in BLOCKS if "not-run" not in block.markers]
    assert len(runnable) >= MIN_RUNNABLE, runnable
    skipped = [block for block in BLOCKS if "not-run" in block.markers]
    assert all(block.markers["not-run"] for block in skipped), "not-run needs a reason"


def test_every_fenced_block_names_its_language_and_every_marker_is_known() -> None:
    """A block without a language could hide a shell example from this test; a misspelt
    marker, or one above a block that is not a shell example, would be silently ignored."""
    for document in DOCUMENTS:
        for block in fenced_blocks(document):
            assert block.lang, f"{block.name}: fenced block without a language"
            assert set(block.markers) <= MARKERS, (block.name, block.markers)
            assert not block.markers or block.lang in SHELL, (block.name, block.markers)
        lines = (ROOT / document).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if not re.match(r"\s*<!--\s*(not-run|expect-)", line):
                continue
            after = number  # index of the next line
            while after < len(lines) and MARKER.match(lines[after]):
                after += 1
            assert MARKER.match(line), f"{document}:{number}: malformed marker {line!r}"
            assert after < len(lines) and FENCE.match(lines[after]), (
                f"{document}:{number}: marker not directly above a fenced block"
            )


@dataclass(frozen=True)
class DocServer:
    base: str
    environment: dict[str, str]


@pytest.fixture(scope="module")
async def doc_database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A database of its own, migrated and seeded like the suite's: the examples reveal,
    write audit entries and count them, which must not disturb the other tests."""
    if PG_URL:
        url, drop = await _create_pg_database(PG_URL)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('docdb') / 'arrears.db'}"
        drop = None
    engine = create_engine(url)
    try:
        await upgrade(engine)
        await seed_demo(engine, cases=DEMO_CASES, seed=DEMO_SEED)
    finally:
        await engine.dispose()
    try:
        yield url
    finally:
        if drop is not None:
            await drop()


@pytest.fixture(scope="module")
def doc_server(
    doc_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DocServer]:
    """One development server (as `arrears serve` runs for a reader) for every example."""
    bin_dir = Path(sys.executable).parent
    assert shutil.which("arrears", path=str(bin_dir)), f"no arrears script in {bin_dir}"
    assert shutil.which("curl"), "the examples need curl"
    log = tmp_path_factory.mktemp("docserver") / "server.log"
    with running_server(doc_database_url, log, env=None) as base:
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("ARREARS_") and not name.lower().endswith("_proxy")
        }
        environment |= {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "ARREARS_DATABASE_URL": doc_database_url,
            "ARREARS_SECRET_KEY": TEST_SECRET,
            "ARREARS_AUDIT_SECRET": TEST_AUDIT_SECRET,
            "NO_PROXY": "*",
        }
        yield DocServer(base, environment)


def _error_codes(response: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in response.get("errors", [])]


@pytest.mark.parametrize("block", BLOCKS, ids=[block.name for block in BLOCKS])
def test_shell_example_runs_as_written(block: Block, doc_server: DocServer, tmp_path: Path) -> None:
    if "not-run" in block.markers:
        pytest.skip(f"{block.name} is marked not-run: {block.markers['not-run']}")
    script = DOCUMENTED_SERVER.sub(doc_server.base, block.script())
    foreign = [url for url in ANY_URL.findall(script) if not url.startswith(doc_server.base)]
    assert not foreign, f"{block.name} reaches beyond the test server: {foreign}"
    responses = tmp_path / "responses"
    responses.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        ["bash", "-c", PRELUDE + script],
        cwd=work,
        env={**doc_server.environment, "DOC_RESPONSES": str(responses)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"{block.name} exited {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    )
    assert "Traceback" not in result.stderr, result.stderr

    recorded = sorted(responses.iterdir())
    if re.search(r"(^|[\s|;&(])curl\s", script):
        assert recorded, f"{block.name} runs curl but no response was recorded"
    expected_code = block.markers.get("expect-errors")
    for path in recorded:
        body = path.read_text(encoding="utf-8")
        try:
            response = json.loads(body)
        except json.JSONDecodeError:
            pytest.fail(f"{block.name}: the response is not JSON: {body[:500]!r}")
        assert isinstance(response, dict), body
        if expected_code:
            assert expected_code in _error_codes(response), body
        else:
            assert "errors" not in response, body
    if "expect-output" in block.markers:
        assert block.markers["expect-output"] in result.stdout, result.stdout
