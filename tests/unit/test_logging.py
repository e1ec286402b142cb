"""Logging as `arrears serve` configures it (the session's log capture does the same): an
exception is logged by its type names only, whoever logs it, never by message or traceback."""

from __future__ import annotations

import json
import logging

import structlog

from api.logging import error_types
from tests.logcapture import LogCapture

SECRET = "13800000000"


def _chained() -> RuntimeError:
    try:
        try:
            raise KeyError(SECRET)
        except KeyError as exc:
            raise ValueError(SECRET) from exc
    except ValueError as exc:
        error = RuntimeError(SECRET)
        error.__cause__ = exc
        return error


def test_error_types_names_the_chain_without_messages() -> None:
    assert error_types(_chained()) == "RuntimeError < ValueError < KeyError"
    try:
        try:
            raise KeyError(SECRET)
        except KeyError:
            raise ValueError(SECRET) from None
    except ValueError as exc:
        assert error_types(exc) == "ValueError"


def test_a_stdlib_traceback_becomes_the_exception_types(log_capture: LogCapture) -> None:
    try:
        raise _chained()
    except RuntimeError:
        # What uvicorn logs for an exception that escapes the application.
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application\n")
    assert log_capture.stdlib_lines()[-1] == (
        "uvicorn.error ERROR Exception in ASGI application [RuntimeError < ValueError < KeyError]"
    )


def test_an_exception_logged_as_the_message_becomes_its_type(log_capture: LogCapture) -> None:
    # What strawberry's own error logger does: the error itself is the message.
    logging.getLogger("strawberry.execution").error(_chained())
    assert log_capture.stdlib_lines()[-1] == (
        "strawberry.execution ERROR RuntimeError < ValueError < KeyError"
    )


def test_structlog_exception_keeps_only_the_types(log_capture: LogCapture) -> None:
    try:
        raise _chained()
    except RuntimeError:
        structlog.get_logger("test").exception("failed", step="load")
    line = json.loads(log_capture.structlog_lines()[-1])
    assert SECRET not in json.dumps(line)
    assert {k: line[k] for k in ("event", "step", "error")} == {
        "event": "failed",
        "step": "load",
        "error": "RuntimeError < ValueError < KeyError",
    }
    assert "exception" not in line and "exc_info" not in line
