"""The allocation rule: priority order, LEAST_LOADED and ROUND_ROBIN, capacity as a strict
maximum, and what is left over when every collector is full."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.allocation.rule import (
    AllocationStrategy,
    Candidate,
    Collector,
    may_take_cases,
    plan,
    priority_key,
    room,
)
from domain.staff.model import Staff

LEAST, ROUND = AllocationStrategy.LEAST_LOADED, AllocationStrategy.ROUND_ROBIN


def cases(n: int) -> list[Candidate]:
    """n cases whose priority order is their id order (DPD falls as the id grows)."""
    return [Candidate(i, 100 - i, Decimal("10.00")) for i in range(1, n + 1)]


def test_cases_go_out_most_days_past_due_then_largest_outstanding_then_lowest_id() -> None:
    pool = [
        Candidate(5, 30, Decimal("100.00")),
        Candidate(3, 90, Decimal("1.00")),
        Candidate(4, 30, Decimal("100.01")),
        Candidate(2, 30, Decimal("100.00")),
        Candidate(1, 0, Decimal("9999.00")),
    ]
    assert [c.id for c in sorted(pool, key=priority_key)] == [3, 4, 2, 5, 1]
    result = plan(pool, [Collector(7, "a", 10, 0)], LEAST)
    assert result.assignments == ((3, 7), (4, 7), (2, 7), (5, 7), (1, 7))
    assert result.left_over == ()


def test_least_loaded_gives_each_case_to_whoever_carries_fewest_ties_by_login() -> None:
    team = [
        Collector(1, "carol", 10, 2),
        Collector(2, "alice", 10, 3),
        Collector(3, "bob", 10, 2),
    ]
    result = plan(cases(5), team, LEAST)
    # bob and carol carry 2: bob (b < c) first, then carol; then all three at 3: alice, bob,
    # carol by login.
    assert [staff for _, staff in result.assignments] == [3, 1, 2, 3, 1]
    assert result.left_over == ()


def test_least_loaded_never_goes_beyond_capacity() -> None:
    team = [Collector(1, "a", 3, 0), Collector(2, "b", 2, 2), Collector(3, "c", 4, 3)]
    result = plan(cases(6), team, LEAST)
    assert [staff for _, staff in result.assignments] == [1, 1, 1, 3]
    assert result.left_over == (5, 6)  # the lowest in priority


def test_round_robin_takes_turns_by_login_and_skips_the_full() -> None:
    team = [Collector(3, "c", 9, 0), Collector(1, "a", 2, 1), Collector(2, "b", 9, 8)]
    result = plan(cases(6), team, ROUND)
    # a has room for 1, b for 1, c for 9: a, b, c, then c alone.
    assert [staff for _, staff in result.assignments] == [1, 2, 3, 3, 3, 3]


def test_round_robin_ignores_the_load_it_starts_with() -> None:
    team = [Collector(1, "a", 50, 40), Collector(2, "b", 50, 0)]
    assert [s for _, s in plan(cases(4), team, ROUND).assignments] == [1, 2, 1, 2]
    assert [s for _, s in plan(cases(4), team, LEAST).assignments] == [2, 2, 2, 2]


@pytest.mark.parametrize("strategy", list(AllocationStrategy))
@pytest.mark.parametrize(
    ("capacity", "load", "assigned"), [(5, 0, 5), (5, 4, 1), (5, 5, 0), (5, 9, 0)]
)
def test_capacity_is_a_strict_maximum(
    strategy: AllocationStrategy, capacity: int, load: int, assigned: int
) -> None:
    team = [Collector(1, "a", capacity, load)]
    result = plan(cases(8), team, strategy)
    assert len(result.assignments) == assigned
    assert len(result.left_over) == 8 - assigned
    assert room(team) == assigned


@pytest.mark.parametrize("strategy", list(AllocationStrategy))
def test_nobody_with_room_leaves_every_case(strategy: AllocationStrategy) -> None:
    result = plan(cases(3), [], strategy)
    assert (result.assignments, result.left_over) == ((), (1, 2, 3))


@pytest.mark.parametrize("strategy", list(AllocationStrategy))
def test_an_empty_pool_assigns_nothing(strategy: AllocationStrategy) -> None:
    result = plan([], [Collector(1, "a", 3, 0)], strategy)
    assert (result.assignments, result.left_over) == ((), ())


@pytest.mark.parametrize(
    ("staff", "takes"),
    [
        (Staff("c", "C", ["collector"], team="East", capacity=5, id=1), True),
        (Staff("l", "L", ["team_lead"], team="East", capacity=5, id=2), True),
        (Staff("x", "X", ["collector"], team="East", capacity=5, active=False, id=3), False),
        (Staff("m", "M", ["manager"], team="East", capacity=5, id=4), False),
        (Staff("g", "G", ["agency_agent"], agency_id=1, capacity=5, id=5), False),
        (Staff("a", "A", ["collector"], agency_id=1, capacity=5, id=6), False),
    ],
)
def test_who_may_take_cases(staff: Staff, takes: bool) -> None:
    assert may_take_cases(staff) is takes
