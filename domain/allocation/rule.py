"""The allocation rule over plain values: which collector gets which case.

The cases come in priority order (most days past due first, then the largest outstanding, then
the lowest id); each goes to a collector of the team who may carry cases (internal collector or
team lead, active) and has room for it:

- ``LEAST_LOADED``: to the collector carrying the fewest open cases at that moment (the cases
  handed out so far included), ties broken by login;
- ``ROUND_ROBIN``: to each collector in turn, by login, starting again from the first; a
  collector who is full is skipped.

Nobody is given a case beyond their capacity (a maximum of open cases, CLOSED ones aside). When
every collector is full, the remaining cases (the lowest in priority) stay unassigned.
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from domain.staff.model import Staff


class AllocationStrategy(enum.StrEnum):
    LEAST_LOADED = "LEAST_LOADED"
    ROUND_ROBIN = "ROUND_ROBIN"


@dataclass(frozen=True)
class Candidate:
    """A case of the pool, as the rule sees it."""

    id: int
    days_past_due: int
    outstanding: Decimal


@dataclass(frozen=True)
class Collector:
    """A collector who may take cases, with the open cases they carry now."""

    id: int
    login: str
    capacity: int
    open_cases: int

    @property
    def room(self) -> int:
        return max(0, self.capacity - self.open_cases)


@dataclass(frozen=True)
class Plan:
    """Who gets which case (in the order handed out), and the cases left unassigned."""

    assignments: tuple[tuple[int, int], ...]  # (case id, staff id)
    left_over: tuple[int, ...]  # case ids, in priority order


def may_take_cases(staff: Staff) -> bool:
    """Whether a staff member may be given cases by allocation: active, internal, and a
    collector or team lead."""
    return staff.active and staff.can_carry_cases


def priority_key(case: Candidate) -> tuple[int, Decimal, int]:
    """Orders cases most urgent first: DPD descending, outstanding descending, id ascending."""
    return (-case.days_past_due, -case.outstanding, case.id)


def room(collectors: Iterable[Collector]) -> int:
    """Returns how many more cases the collectors can take together."""
    return sum(c.room for c in collectors)


def plan(
    cases: Sequence[Candidate], collectors: Sequence[Collector], strategy: AllocationStrategy
) -> Plan:
    """Hands the cases out by the strategy (see the module's docstring)."""
    by_login = sorted(collectors, key=lambda c: c.login)
    take = _least_loaded(by_login) if strategy is AllocationStrategy.LEAST_LOADED else None
    take = take or _round_robin(by_login)
    assignments: list[tuple[int, int]] = []
    left: list[int] = []
    for case in sorted(cases, key=priority_key):
        chosen = take()
        if chosen is None:
            left.append(case.id)
        else:
            assignments.append((case.id, chosen))
    return Plan(tuple(assignments), tuple(left))


def _least_loaded(collectors: Sequence[Collector]) -> Callable[[], int | None]:
    """Returns a picker of the collector with the fewest open cases (then by login)."""
    heap = [(c.open_cases, c.login, c.id, c.capacity) for c in collectors if c.room > 0]
    heapq.heapify(heap)

    def take() -> int | None:
        if not heap:
            return None
        load, login, staff_id, capacity = heapq.heappop(heap)
        if load + 1 < capacity:
            heapq.heappush(heap, (load + 1, login, staff_id, capacity))
        return staff_id

    return take


def _round_robin(collectors: Sequence[Collector]) -> Callable[[], int | None]:
    """Returns a picker of each collector with room in turn (in the order given)."""
    ring = [[c.id, c.room] for c in collectors if c.room > 0]
    position = 0

    def take() -> int | None:
        nonlocal position
        if not ring:
            return None
        position %= len(ring)
        entry = ring[position]
        entry[1] -= 1
        if entry[1] == 0:
            ring.pop(position)  # the next collector moves into this position
        else:
            position += 1
        return entry[0]

    return take
