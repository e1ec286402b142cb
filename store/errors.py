"""Database failures: as one line for people (the CLI prints them; no traceback, no values),
and which of them mean the database cannot be reached (the API answers those with 503)."""

from __future__ import annotations

import errno
import socket

from sqlalchemy.exc import DBAPIError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# PostgreSQL's SQLSTATEs of a database that is not there: class 08 (connection exception),
# 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting, stopping).
_UNAVAILABLE_STATES = ("57P01", "57P02", "57P03")
_NETWORK_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
    errno.EPIPE,
}
# SQLAlchemy's "Can't reconnect until invalid transaction is rolled back": the connection of
# the transaction was lost and the code carried on (a commit after the failed statement).
_INVALID_TRANSACTION = "8s2b"


def database_error_message(exc: BaseException) -> str | None:
    """Returns ``database error: <first line of the driver's message>`` for an error raised by
    the database or its driver, or None for any other exception.

    Engines hide bound parameters (store.db.create_engine), so the line holds no values."""
    if not isinstance(exc, DBAPIError):
        return None
    detail = str(exc.orig).splitlines()[0] if exc.orig is not None and str(exc.orig) else ""
    return f"database error: {detail or type(exc).__name__}"


def is_unavailable(exc: BaseException) -> bool:
    """Says whether an exception means the database cannot be reached right now (refused, lost,
    restarting, or no pooled connection free in time), as opposed to a fault of the request.

    It looks along the exception's causes: drivers wrap each other's errors."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _unavailable_itself(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _unavailable_itself(exc: BaseException) -> bool:
    if isinstance(exc, PoolTimeout):
        return True  # every pooled connection busy, or a new one not made, within pool_timeout
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True  # SQLAlchemy saw a disconnect and dropped the connection from the pool
    if isinstance(exc, PendingRollbackError) and exc.code == _INVALID_TRANSACTION:
        return True
    state = getattr(exc, "sqlstate", None)
    if isinstance(state, str) and (state.startswith("08") or state in _UNAVAILABLE_STATES):
        return True
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return True  # refused, reset, timed out while connecting, host name not resolved
    if isinstance(exc, OSError):
        # asyncio's connect reports several addresses failing at once without an errno.
        return exc.errno in _NETWORK_ERRNOS or str(exc).startswith("Multiple exceptions:")
    return False
