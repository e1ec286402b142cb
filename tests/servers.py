"""Real `arrears serve` processes on loopback for the end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import TEST_AUDIT_SECRET, TEST_SECRET
from tests.logcapture import server_log


def free_port() -> int:
    """Returns a loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    database_url: str,
    log_path: Path,
    env: str | None = "production",
    extra_env: dict[str, str] | None = None,
    workers: int = 1,
) -> Iterator[Served]:
    """Starts `arrears serve` with the test secrets on a free loopback port and waits until
    /readyz answers 200; kills it at the end if the test has not stopped it.

    Its output goes to ``log_path``, registered with the log capture (test_logs.py greps it);
    ``env`` None leaves ARREARS_ENV unset (development)."""
    environment = {
        **os.environ,
        "ARREARS_DATABASE_URL": database_url,
        "ARREARS_SECRET_KEY": TEST_SECRET,
        "ARREARS_AUDIT_SECRET": TEST_AUDIT_SECRET,
    }
    environment.pop("ARREARS_ENV", None)
    if env is not None:
        environment["ARREARS_ENV"] = env
    environment.update(extra_env or {})
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with server_log(log_path).open("wb") as log:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1"),
                *("--port", str(port), "--workers", str(workers)),
            ],
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


@contextmanager
def running_server(
    database_url: str,
    log_path: Path,
    env: str | None = "production",
    extra_env: dict[str, str] | None = None,
    workers: int = 1,
) -> Iterator[str]:
    """Runs `arrears serve` until the block ends (then stops it as an operator would, with
    SIGTERM); yields its base URL."""
    with serve_process(database_url, log_path, env, extra_env, workers) as served:
        try:
            yield served.base
        finally:
            served.process.terminate()
            with suppress(subprocess.TimeoutExpired):  # else serve_process kills it
                served.process.wait(timeout=10)
