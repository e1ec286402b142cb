"""A throwaway PostgreSQL cluster of the test's own, for the fault tests that stop and restart
the database: never the shared server other tests use.

PostgreSQL refuses to run as root, so when the tests run as root the cluster belongs to the
``postgres`` OS user (``runuser``). It listens on a free loopback port with trust
authentication and no Unix socket outside its own directory."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers import free_port


def postgres_bin() -> Path | None:
    """Returns the directory of the newest installed PostgreSQL's binaries, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def unavailable_reason() -> str | None:
    """Says why no cluster of our own can be started here, or None when one can."""
    if postgres_bin() is None:
        return "PostgreSQL's server binaries (initdb, pg_ctl) are not installed"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: PostgreSQL refuses to run as root"
    return None


@dataclass
class Cluster:
    """A running cluster: its data directory, port and the commands to drive it."""

    bin: Path
    root: Path
    port: int
    log: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, timeout=timeout, capture_output=True)

    def pg_ctl(self, action: str, *extra: str) -> None:
        """Runs ``pg_ctl ACTION`` on the cluster and waits for it to finish."""
        self._run("pg_ctl", action, "-D", str(self.data), "-l", str(self.log), "-w", *extra)

    def restart(self) -> None:
        """Restarts the server, cutting every connection (``-m fast``)."""
        self.pg_ctl("restart", "-m", "fast")


@contextmanager
def own_cluster() -> Iterator[Cluster]:
    """Initialises and starts a cluster in a temporary directory; stops and removes it after."""
    bin_dir = postgres_bin()
    assert bin_dir is not None, unavailable_reason()
    root = Path(tempfile.mkdtemp(prefix="arrears-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = free_port()
    cluster = Cluster(bin_dir, root, port, root / "server.log")
    started = False
    try:
        cluster._run(
            "initdb", "-D", str(cluster.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-sync",
        )  # fmt: skip
        # In the configuration file, so that a start after a stop listens where it did.
        with (cluster.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {port}\n"
                f"unix_socket_directories = '{root}'\nfsync = off\nmax_connections = 50\n"
            )
        cluster.pg_ctl("start")
        started = True
        yield cluster
    finally:
        if started:
            with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
                cluster.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(root, ignore_errors=True)
