"""Structured logs (structlog): one JSON or console line per event, never personal data.

A log line names what failed and where (error type, operation name, path); it never carries
query text, variables, or exception messages and tracebacks, which can hold the values bound
into them (a searched phone number in a driver's error, say)."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import structlog

log = structlog.get_logger("arrears.graphql")

_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,119}")
_default_record_factory = logging.getLogRecordFactory()


def configure_logging(
    level: str = "INFO", json: bool = False, stream: TextIO | None = None
) -> None:
    """Configures structlog once for the process (to stderr unless a stream is given), and keeps
    exception messages and tracebacks out of every stdlib log record (uvicorn's included)."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _exception_types_only,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.setLogRecordFactory(_record_without_exception_text)


def error_types(error: BaseException) -> str:
    """Returns the class names of an exception and of what caused it, e.g. ``StatementError <
    OverflowError``: names only, since messages can quote the values involved."""
    names = [type(error).__name__]
    cause = _cause(error)
    while cause is not None and len(names) < 5:
        names.append(type(cause).__name__)
        cause = _cause(cause)
    return " < ".join(names)


def _cause(error: BaseException) -> BaseException | None:
    if error.__cause__ is not None:
        return error.__cause__
    return None if error.__suppress_context__ else error.__context__


def log_unexpected_error(
    error: BaseException, operation: str | None, path: Sequence[str | int] | None
) -> None:
    """Logs an unexpected GraphQL error as one line: its type, the operation and the path."""
    log.error(
        "graphql.unexpected_error",
        error=error_types(error),
        operation=operation if operation and _NAME.fullmatch(operation) else None,
        path=".".join(map(str, path)) if path else None,
    )


def _exception_types_only(
    _logger: Any, _method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """Replaces ``exc_info`` (as ``log.exception`` sets it) by the exception's type names."""
    exc_info = event_dict.pop("exc_info", None)
    event_dict.pop("exception", None)
    error: BaseException | None
    if isinstance(exc_info, BaseException):
        error = exc_info
    elif isinstance(exc_info, tuple):
        error = exc_info[1]
    else:
        error = sys.exc_info()[1] if exc_info else None
    if error is not None:
        event_dict.setdefault("error", error_types(error))
    return event_dict


def _record_without_exception_text(*args: Any, **kwargs: Any) -> logging.LogRecord:
    # A traceback, or an exception logged as the message, quotes the exception's message: the
    # record keeps only the type names.
    record = _default_record_factory(*args, **kwargs)
    if isinstance(record.msg, BaseException):
        record.msg, record.args = error_types(record.msg), ()
    if record.exc_info:
        error = record.exc_info[1]
        record.exc_info = None
        if error is not None and isinstance(record.msg, str):
            record.msg = f"{record.msg.rstrip()} [{error_types(error)}]"
    return record
