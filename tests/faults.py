"""A real ``arrears serve`` process the fault tests own: they signal it, and watch it exit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import TEST_AUDIT_SECRET, TEST_SECRET
from tests.logcapture import server_log
from tests.servers import free_port


@dataclass
class Served:
    """A started server: its process, base URL and log file."""

    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serve_process(
    database_url: str, log_path: Path, extra_env: dict[str, str] | None = None
) -> Iterator[Served]:
    """Starts ``arrears serve`` (production settings, test secrets) on a free loopback port and
    waits until /readyz answers 200; kills it at the end if the test has not stopped it."""
    environment = {
        **os.environ,
        "ARREARS_DATABASE_URL": database_url,
        "ARREARS_SECRET_KEY": TEST_SECRET,
        "ARREARS_AUDIT_SECRET": TEST_AUDIT_SECRET,
        "ARREARS_ENV": "production",
        **(extra_env or {}),
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with server_log(log_path).open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise AssertionError(log_path.read_text(errors="replace"))
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server did not start within 30 s"
                time.sleep(0.2)
            yield Served(process, base, log_path)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
