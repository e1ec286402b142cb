"""Everything the test run logs, kept for tests/e2e/test_logs.py to search for personal data:
stdlib log records, structlog lines (configured as `arrears serve` configures them), and the
log files of the real servers the end-to-end tests start (registered with ``server_log``)."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

from api.logging import configure_logging

_SERVER_LOGS: list[Path] = []
# The tests' own HTTP client logs each request URL (a GET's query included): not the service's.
_TEST_CLIENT_LOGGERS = {"httpx", "httpcore"}


def server_log(path: Path) -> Path:
    """Registers the log file of a server started by a test; returns the path."""
    _SERVER_LOGS.append(path)
    return path


class _Echo(io.StringIO):
    """Keeps what structlog prints and passes it on to stdout, as structlog did before."""

    def write(self, text: str) -> int:
        sys.stdout.write(text)
        return super().write(text)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.partition(".")[0] not in _TEST_CLIENT_LOGGERS:
            self.lines.append(self.format(record))


class LogCapture:
    """The lines logged so far, from every source."""

    def __init__(self, structlog_lines: io.StringIO, records: _Records) -> None:
        self._structlog = structlog_lines
        self._records = records

    def structlog_lines(self) -> list[str]:
        return self._structlog.getvalue().splitlines()

    def stdlib_lines(self) -> list[str]:
        return list(self._records.lines)

    @staticmethod
    def server_logs() -> list[Path]:
        return list(_SERVER_LOGS)

    def lines(self) -> list[tuple[str, str]]:
        """Returns (source, line) for every line logged so far."""
        found = [("structlog", line) for line in self.structlog_lines()]
        found += [("logging", line) for line in self.stdlib_lines()]
        for path in self.server_logs():
            if path.exists():
                text = path.read_text(encoding="utf-8", errors="replace")
                found += [(path.name, line) for line in text.splitlines()]
        return found


@contextmanager
def capturing(level: int = logging.INFO) -> Iterator[LogCapture]:
    """Captures logs from here on: structlog as production configures it (JSON), and every
    stdlib record from ``level`` up, which is stricter than production (WARNING)."""
    root = logging.getLogger()
    previous_level = root.level
    previous_factory = logging.getLogRecordFactory()
    lines = _Echo()
    records = _Records()
    configure_logging("DEBUG", json=True, stream=lines)
    root.addHandler(records)
    root.setLevel(min(level, previous_level))
    try:
        yield LogCapture(lines, records)
    finally:
        root.removeHandler(records)
        root.setLevel(previous_level)
        logging.setLogRecordFactory(previous_factory)
        structlog.reset_defaults()
