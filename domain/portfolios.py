"""Portfolios and the time zone each keeps its calendar in (there is no portfolio table yet).

A portfolio's dates (placement end dates, for one) are calendar dates in its own time zone, so
"today" for a portfolio is the local date of the current instant there, not the UTC date.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from types import MappingProxyType
from zoneinfo import ZoneInfo

DEFAULT_TIME_ZONE = "Asia/Shanghai"

# The known portfolios' IANA time zones; a portfolio not listed keeps DEFAULT_TIME_ZONE.
TIME_ZONES: Mapping[str, str] = MappingProxyType({"retail": "Asia/Shanghai"})


def time_zone_of(portfolio: str) -> str:
    """Returns the IANA time zone a portfolio keeps its calendar in."""
    return TIME_ZONES.get(portfolio, DEFAULT_TIME_ZONE)


def local_date(time_zone: str, now: datetime) -> date:
    """Returns the calendar date in a time zone at an aware instant."""
    if now.tzinfo is None:
        raise ValueError("local_date needs an aware datetime")
    return now.astimezone(ZoneInfo(time_zone)).date()


def local_today(portfolio: str, now: datetime) -> date:
    """Returns the portfolio's local date at an aware instant."""
    return local_date(time_zone_of(portfolio), now)
