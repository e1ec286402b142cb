"""Database failures as one line for people (the CLI prints them; no traceback, no values)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError


def database_error_message(exc: BaseException) -> str | None:
    """Returns ``database error: <first line of the driver's message>`` for an error raised by
    the database or its driver, or None for any other exception.

    Engines hide bound parameters (store.db.create_engine), so the line holds no values."""
    if not isinstance(exc, DBAPIError):
        return None
    detail = str(exc.orig).splitlines()[0] if exc.orig is not None and str(exc.orig) else ""
    return f"database error: {detail or type(exc).__name__}"
