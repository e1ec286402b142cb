"""``cases { totalCountEstimate { count exact } }``: exact up to the threshold, PostgreSQL's
planner estimate beyond it (saying so) for a caller who sees every case, and for anyone else
the exact count of their own cases."""

from __future__ import annotations

from typing import Any

import pytest

from store import case_queries
from tests.helpers import Gql

COUNTS = """
query Counts($filter: CaseFilter) {
  cases(first: 1, filter: $filter) { totalCount totalCountEstimate { count exact } }
}
"""


async def counts(gql: Gql, login: str, where: dict[str, Any] | None = None) -> dict[str, Any]:
    data = await gql(login, COUNTS, {"filter": where})
    found: dict[str, Any] = data["cases"]
    return found


@pytest.mark.parametrize(
    ("login", "where"),
    [
        ("manager", None),
        ("manager", {"classification": ["SEVERE"]}),
        ("manager", {"minDaysPastDue": 31, "maxDaysPastDue": 90}),
        ("collector1", None),
        ("acme.agent1", None),
    ],
)
async def test_up_to_the_threshold_the_estimate_is_the_exact_count(
    gql: Gql, login: str, where: dict[str, Any] | None
) -> None:
    found = await counts(gql, login, where)
    assert found["totalCountEstimate"] == {"count": found["totalCount"], "exact": True}


async def test_beyond_the_threshold_postgresql_estimates_and_says_so(
    gql: Gql, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    total = (await counts(gql, "manager"))["totalCount"]
    monkeypatch.setattr(case_queries, "EXACT_COUNT_UP_TO", 10)
    estimate = (await counts(gql, "manager"))["totalCountEstimate"]
    if backend == "postgresql":
        # The planner's figure, never below what is known: more than the threshold match.
        assert estimate["exact"] is False and estimate["count"] >= 11
    else:
        # SQLite has no estimate to offer: it counts, and says the count is exact.
        assert estimate == {"count": total, "exact": True}


async def test_a_narrower_scope_always_gets_the_exact_count_of_its_own_cases(
    gql: Gql, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Statistics over the whole table could tell a team lead or a collector of cases outside
    # their scope: whoever does not see every case gets an exact count, whatever its size.
    book = (await counts(gql, "manager"))["totalCount"]
    monkeypatch.setattr(case_queries, "EXACT_COUNT_UP_TO", 0)
    for login in ("collector1", "lead1", "acme.agent1"):
        found = await counts(gql, login)
        assert 0 < found["totalCount"] < book
        assert found["totalCountEstimate"] == {"count": found["totalCount"], "exact": True}
    # Nothing the caller can see matches: zero, exactly, whatever the book holds.
    for login, where in [
        ("collector1", {"assigneeLogin": "collector2"}),
        ("acme.agent1", {"assigneeLogin": "collector1"}),
    ]:
        found = await counts(gql, login, where)
        assert found == {"totalCount": 0, "totalCountEstimate": {"count": 0, "exact": True}}
    assert (await counts(gql, "manager", {"assigneeLogin": "collector2"}))["totalCount"] > 0
