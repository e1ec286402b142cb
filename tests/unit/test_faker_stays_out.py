"""Faker is installed with the package (``serve --demo`` seeds) but only seeding imports it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import sys
from datetime import date

import api.asgi, api.cli, store.demo  # the server's modules, and the demo's for DEMO_LOGINS

print("after import:", "faker" in sys.modules)
from domain.cases.classification import DEFAULT_POLICY

store.demo._Generator(1, date(2026, 3, 31), DEFAULT_POLICY)
print("after seeding starts:", "faker" in sys.modules)
"""


def test_the_server_never_imports_faker_and_seeding_does(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARREARS_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["after import: False", "after seeding starts: True"]
