"""Checks on filter arguments the database could not take: refused as BAD_USER_INPUT here,
where the argument's name is known, rather than failing in the driver as INTERNAL."""

from __future__ import annotations

from datetime import UTC, datetime

from api.errors import BadUserInput
from store.keys import is_text


def check_text(name: str, value: str | None) -> None:
    """Refuses a string holding NUL, which PostgreSQL text cannot store or compare, or a lone
    surrogate, which is not text at all (no driver can encode it)."""
    if value is None:
        return
    if "\x00" in value:
        raise BadUserInput(f"{name} must not contain NUL characters")
    if not is_text(value):
        raise BadUserInput(f"{name} is not valid Unicode text")


def utc_instant(name: str, value: datetime | None) -> datetime | None:
    """Returns the instant in UTC; refuses one without a time zone or outside years 1…9999 in
    UTC (e.g. 9999-12-31T23:59:59-14:00), which no timestamp column can hold."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise BadUserInput(f"{name} needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise BadUserInput(f"{name} is out of range: years 1 to 9999 in UTC") from None
