"""Running the `arrears` CLI from tests: in-process (fast) or as a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from tests.conftest import TEST_AUDIT_SECRET, TEST_SECRET

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Ran:
    """How a command ended: its exit status and what it wrote."""

    returncode: int
    stdout: str
    stderr: str


def environment(url: str, **env: str) -> dict[str, str | None]:
    """The test database and secrets, ``env`` on top, and no other audit or environment
    setting of the caller's shell (None unsets a variable)."""
    unset: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith("ARREARS_AUDIT_")
    }
    return {
        **unset,
        "ARREARS_ENV": None,
        "ARREARS_DATABASE_URL": url,
        "ARREARS_SECRET_KEY": TEST_SECRET,
        "ARREARS_AUDIT_SECRET": TEST_AUDIT_SECRET,
        **env,
    }


def invoke(*args: str, url: str, **env: str) -> Ran:
    """Runs `arrears ARGS` in-process, in the calling thread (the CLI runs its own event loop:
    call it from a thread without one, e.g. through ``asyncio.to_thread``)."""
    result = CliRunner().invoke(
        app, list(args), env=environment(url, **env), catch_exceptions=False
    )
    return Ran(result.exit_code, result.stdout, result.stderr)


def invoke_aside(*args: str, url: str, **env: str) -> Ran:
    """Runs `arrears ARGS` in-process in a worker thread, waiting for it (from a test that holds
    an event loop but may block it)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(invoke, *args, url=url, **env).result()


def spawn(*args: str, url: str, **env: str) -> Ran:
    """Runs the `arrears` console script (else ``python -m api.cli``) as a process of its own, on
    the code of this checkout."""
    script = Path(sys.executable).with_name("arrears")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    settings = environment(url, **env)
    inherited = {k: v for k, v in os.environ.items() if k not in settings}
    result = subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={
            **inherited,
            **{k: v for k, v in settings.items() if v is not None},
            "PYTHONPATH": path,
        },
        cwd=ROOT,
        timeout=120,
    )
    return Ran(result.returncode, result.stdout, result.stderr)
