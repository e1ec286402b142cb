"""Whether a placement is current, on the portfolio's own calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.agencies.placement import placement_is_current
from domain.portfolios import DEFAULT_TIME_ZONE, local_today, time_zone_of

TODAY = date(2025, 3, 11)


@pytest.mark.parametrize(
    ("ends_on", "current"),
    [
        (date(2025, 3, 10), False),  # ended yesterday
        (TODAY, True),  # the last day is inclusive
        (date(2025, 3, 12), True),
        (None, False),  # no end date: not a placement one can rely on
    ],
)
def test_placement_is_current_until_its_end_date_inclusive(
    ends_on: date | None, current: bool
) -> None:
    assert placement_is_current(ends_on, TODAY) is current


def test_the_demo_portfolio_and_unknown_ones_keep_shanghai_time() -> None:
    assert time_zone_of("retail") == "Asia/Shanghai"
    assert time_zone_of("no-such-portfolio") == DEFAULT_TIME_ZONE == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("instant", "today"),
    [
        (datetime(2025, 3, 10, 15, 59, 59, tzinfo=UTC), date(2025, 3, 10)),
        (datetime(2025, 3, 10, 16, 0, tzinfo=UTC), date(2025, 3, 11)),  # Shanghai midnight
    ],
)
def test_local_today_is_the_portfolio_date_not_the_utc_date(instant: datetime, today: date) -> None:
    assert local_today("retail", instant) == today


def test_local_today_needs_an_aware_instant() -> None:
    with pytest.raises(ValueError):
        local_today("retail", datetime(2025, 3, 10, 12, 0))
