"""Portfolios: the currency, time zone and conduct profile each one keeps (no table yet: a
portfolio is configuration released with the code, like the rules it selects).

A portfolio's dates (placement end dates, promise due dates, "today" of a payment) are calendar
dates in its own time zone, so "today" for a portfolio is the local date of the current instant
there, not the UTC date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from types import MappingProxyType
from zoneinfo import ZoneInfo

DEFAULT_TIME_ZONE = "Asia/Shanghai"
DEFAULT_CONDUCT_PROFILE = "CN"


@dataclass(frozen=True)
class Portfolio:
    """A portfolio's configuration: its currency, calendar, conduct profile, and what its notices
    say and in which language (``language``: the notices' default language; ``lender``: the
    lender's name; ``hotline``: the number a borrower calls back; ``mailing_address``: where the
    lender takes letters and disputes, printed in notices as the collector's address)."""

    name: str
    currency: str
    time_zone: str
    conduct_profile: str
    language: str = "zh"
    lender: str = "示范消费金融有限公司"
    hotline: str = "400-800-1234"
    mailing_address: str = "上海市浦东新区示范路1号示范金融大厦20层（邮编200120）"


PORTFOLIOS: Mapping[str, Portfolio] = MappingProxyType(
    {
        "retail": Portfolio("retail", "CNY", "Asia/Shanghai", "CN"),
        "us-cards": Portfolio(
            "us-cards",
            "USD",
            "America/New_York",
            "US_REG_F",
            language="en",
            lender="Demo Card Services, N.A.",
            hotline="1-800-555-0199",
            mailing_address="1 Example Plaza, Suite 100, Wilmington, DE 19801",
        ),
    }
)

# The known portfolios' IANA time zones; a portfolio not listed keeps DEFAULT_TIME_ZONE.
TIME_ZONES: Mapping[str, str] = MappingProxyType(
    {name: p.time_zone for name, p in PORTFOLIOS.items()}
)


def time_zone_of(portfolio: str) -> str:
    """Returns the IANA time zone a portfolio keeps its calendar in."""
    return TIME_ZONES.get(portfolio, DEFAULT_TIME_ZONE)


def conduct_profile_of(portfolio: str) -> str:
    """Returns the name of the conduct profile that governs contact in a portfolio."""
    known = PORTFOLIOS.get(portfolio)
    return known.conduct_profile if known else DEFAULT_CONDUCT_PROFILE


def local_date(time_zone: str, now: datetime) -> date:
    """Returns the calendar date in a time zone at an aware instant."""
    if now.tzinfo is None:
        raise ValueError("local_date needs an aware datetime")
    return now.astimezone(ZoneInfo(time_zone)).date()


def local_today(portfolio: str, now: datetime) -> date:
    """Returns the portfolio's local date at an aware instant."""
    return local_date(time_zone_of(portfolio), now)


DEFAULT_PORTFOLIO = Portfolio("default", "CNY", DEFAULT_TIME_ZONE, DEFAULT_CONDUCT_PROFILE)


def portfolio_of(portfolio: str) -> Portfolio:
    """Returns a portfolio's configuration (a portfolio not listed: the defaults, under its own
    name)."""
    known = PORTFOLIOS.get(portfolio)
    return known if known else replace(DEFAULT_PORTFOLIO, name=portfolio)


def start_of_day(portfolio: str, day: date) -> datetime:
    """The instant a date of the portfolio's calendar begins (00:00 in its time zone), in UTC."""
    return start_of_day_in(time_zone_of(portfolio), day)


def start_of_day_in(time_zone: str, day: date) -> datetime:
    """The instant a date begins (00:00) in a time zone, in UTC."""
    return datetime.combine(day, time(), ZoneInfo(time_zone)).astimezone(UTC)
