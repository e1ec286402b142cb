"""Ranges of stored values: every id is an INTEGER column (32-bit on PostgreSQL), every amount
NUMERIC(18, 2). Anything decoded from a client (IDs, cursors) is checked against them first,
so a value out of range is refused as bad input instead of failing in the database driver."""

from __future__ import annotations

from decimal import Decimal

INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
AMOUNT_LIMIT = Decimal(10) ** 16  # NUMERIC(18, 2): at most 16 digits before the point


def is_int(value: object) -> bool:
    """Whether a value fits an INTEGER column (a bool is not an integer here)."""
    return isinstance(value, int) and not isinstance(value, bool) and INT_MIN <= value <= INT_MAX


def is_row_id(value: object) -> bool:
    """Whether a value can be a row's id: a positive INTEGER."""
    return isinstance(value, int) and is_int(value) and value > 0


def is_amount(value: Decimal) -> bool:
    """Whether a decimal fits an amount column exactly (finite, two places, in range)."""
    return (
        value.is_finite() and abs(value) < AMOUNT_LIMIT and value == value.quantize(Decimal("0.01"))
    )


def is_text(value: str) -> bool:
    """Whether a string can be stored as text: no NUL, no lone surrogate (not UTF-8 at all)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
