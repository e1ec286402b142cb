"""The report's outcomes on a hand-built dataset, on a fresh database of the backend under test:
recoveries from the classification history (gaps and islands), the distribution of days to
recovery, the share resolved within 30 days (young spells left out), the promise kept rate and
the complaints per 1,000 cases, by group and scoped. Every figure is worked out by hand below.

The period is March 2026. Completed runs: 28 February (the opening), 15 March, 31 March (the
closing) and 1 April (after the period); the run of 20 March never finished. So days 1-14 stand
on the 28 February run, 15-30 on the 15 March run, 31 on the 31 March run. Spells count in the
resolved ratio when they began on or before 1 March (31 March − 30 days).

Cases (retail: CNY, Asia/Shanghai; us-cards: USD, America/New_York), team and variant from their
snapshots:

- A (retail, two debts): M0, M1 on 20 Feb, M0 on 2 Mar: recovered in 10 days. North, CHAMPION.
- B: M1 on 10 Feb, M0 on 12 Mar: 30 days (resolved within 30). North, CHAMPION.
- C: M1 on 10 Feb, M0 on 13 Mar: 31 days. North, CHALLENGER; no snapshot at the closing.
- D: opened at M1 on 1 Jan, M2, M3, M0 on 17 Mar: 75 days. North on 28 Feb, South from 15 Mar.
  CHALLENGER.
- E (us-cards): M1 on 1 Sep 2025 … M0 on 20 Mar: 200 days. South, CHAMPION (the unfinished run
  of 20 Mar says North, CHALLENGER: never read).
- F: M0, M1 on 1 Jan, M2, M0 on 5 Mar (63 days), M1 on 6 Mar, M2, M0 on 25 Mar (19 days, a
  spell begun after 1 Mar: not in the ratio). South, CHAMPION.
- G: opened at M0 on 3 Mar (pre-due: not a recovery); snapshots from 15 Mar only. North.
- H: M1 since 11 Mar (20 days before the end: too young). North.
- I: M1 since 1 Mar (exactly 30 days: counted, open). North, CHALLENGER.
- J (us-cards): M1 since 2025, M7, still open. South, CHALLENGER.
- K: M3 since 2024, written off at both runs: not in collection, not counted.
- L: M1 on 15 Jan, M0 on 2 Apr (after the period: open at its end). South, CHAMPION.
- M: M1 on 10 Jan, M0 on 20 Feb (before the period); CLOSED at the closing run. North.
- N: M1 on 25 Feb, M0 on 3 Mar (6 days). North, CHAMPION. The scope of most tests hides it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import ColumnElement, event, insert, select, true, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.reports.goals import DEFAULT_GOALS, Goals, goals_from
from domain.reports.model import Grouping, Period
from store import tables
from store.report_basis import GroupId, Observations, observe
from store.report_outcomes import Outcomes, outcomes, recoveries
from tests.factories import Factory, writing
from tests.report_support import spell_starts

PERIOD = Period(date(2026, 3, 1), date(2026, 3, 31))
OPENING, MIDDLE, UNFINISHED, CLOSING, AFTER = (
    date(2026, 2, 28),
    date(2026, 3, 15),
    date(2026, 3, 20),
    date(2026, 3, 31),
    date(2026, 4, 1),
)
CH, CL = "STANDARD/CHAMPION", "STANDARD/CHALLENGER"
LABELS = ["0-30", "31-60", "61-90", "91-180", "181+"]


def d(year: int, month: int, day: int) -> date:
    return date(year, month, day)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class Spec:
    """A case: its portfolio, number of debts, classification history (bucket, first day) and
    its snapshot per run (team login, variant or None, other columns)."""

    portfolio: str
    history: list[tuple[str, date]]
    snapshots: dict[date, tuple[str, str | None, dict[str, Any]]]
    debts: int = 1


def snap(team: str, variant: str | None = None, **columns: Any) -> tuple[str, str | None, Any]:
    return team, variant, columns


def every(team: str, variant: str | None, *runs: date) -> dict[date, Any]:
    return {run: snap(team, variant) for run in runs or (OPENING, MIDDLE, CLOSING)}


WRITTEN_OFF = {"case_stage": "WRITTEN_OFF", "status": "WRITTEN_OFF"}
CASES: dict[str, Spec] = {
    "A": Spec(
        "retail",
        [("M0", d(2025, 12, 1)), ("M1", d(2026, 2, 20)), ("M0", d(2026, 3, 2))],
        every("north", "CHAMPION"),
        debts=2,
    ),
    "B": Spec(
        "retail",
        [("M0", d(2025, 12, 1)), ("M1", d(2026, 2, 10)), ("M0", d(2026, 3, 12))],
        every("north", "CHAMPION"),
    ),
    "C": Spec(
        "retail",
        [("M0", d(2025, 12, 1)), ("M1", d(2026, 2, 10)), ("M0", d(2026, 3, 13))],
        every("north", "CHALLENGER", OPENING, MIDDLE),
    ),
    "D": Spec(
        "retail",
        [
            ("M1", d(2026, 1, 1)),
            ("M2", d(2026, 1, 31)),
            ("M3", d(2026, 3, 2)),
            ("M0", d(2026, 3, 17)),
        ],
        {
            OPENING: snap("north", "CHALLENGER"),
            MIDDLE: snap("south", "CHALLENGER"),
            CLOSING: snap("south", "CHALLENGER"),
        },
    ),
    "E": Spec(
        "us-cards",
        [
            ("M1", d(2025, 9, 1)),
            ("M2", d(2025, 10, 1)),
            ("M7", d(2026, 2, 28)),
            ("M0", d(2026, 3, 20)),
        ],
        {**every("south", "CHAMPION"), UNFINISHED: snap("north", "CHALLENGER")},
    ),
    "F": Spec(
        "retail",
        [
            ("M0", d(2025, 10, 1)),
            ("M1", d(2026, 1, 1)),
            ("M2", d(2026, 1, 31)),
            ("M0", d(2026, 3, 5)),
            ("M1", d(2026, 3, 6)),
            ("M2", d(2026, 3, 8)),
            ("M0", d(2026, 3, 25)),
        ],
        every("south", "CHAMPION"),
    ),
    "G": Spec("retail", [("M0", d(2026, 3, 3))], every("north", None, MIDDLE, CLOSING)),
    "H": Spec("retail", [("M0", d(2025, 6, 1)), ("M1", d(2026, 3, 11))], every("north", None)),
    "I": Spec(
        "retail", [("M0", d(2025, 6, 1)), ("M1", d(2026, 3, 1))], every("north", "CHALLENGER")
    ),
    "J": Spec(
        "us-cards",
        [("M1", d(2025, 1, 1)), ("M2", d(2025, 1, 31)), ("M7", d(2025, 7, 1))],
        every("south", "CHALLENGER"),
    ),
    "K": Spec(
        "retail",
        [("M3", d(2024, 5, 1))],
        {
            OPENING: snap("north", None, **WRITTEN_OFF),
            CLOSING: snap("north", None, **WRITTEN_OFF),
        },
    ),
    "L": Spec(
        "retail", [("M1", d(2026, 1, 15)), ("M0", d(2026, 4, 2))], every("south", "CHAMPION")
    ),
    "M": Spec(
        "retail",
        [("M1", d(2026, 1, 10)), ("M0", d(2026, 2, 20))],
        {OPENING: snap("north"), CLOSING: snap("north", None, case_status="CLOSED")},
    ),
    "N": Spec(
        "retail", [("M1", d(2026, 2, 25)), ("M0", d(2026, 3, 3))], every("north", "CHAMPION")
    ),
}

# Promises: case, status, created_at, resolved_at (UTC). Shanghai's March begins at
# 2026-02-28T16:00Z and ends at 2026-03-31T16:00Z; New York's at 05:00Z and 04:00Z (EDT).
PROMISES = [
    ("A", "KEPT", "2026-02-20T02:00", "2026-03-05T02:00"),  # made before: opening → North
    ("B", "BROKEN", "2026-03-16T02:00", "2026-03-25T02:00"),  # made 16 Mar: 15 Mar run
    ("D", "PARTIALLY_KEPT", "2026-03-10T02:00", "2026-03-20T02:00"),  # 28 Feb run: North
    ("D", "SUPERSEDED", "2026-03-10T02:00", "2026-03-12T02:00"),  # never judged
    ("C", "KEPT", "2026-02-01T02:00", "2026-02-28T15:59:59"),  # resolved 28 Feb local: out
    ("C", "KEPT", "2026-02-01T02:00", "2026-02-28T16:00:00"),  # resolved 1 Mar 00:00: in
    ("E", "KEPT", "2026-03-14T12:00", "2026-04-01T03:59:59"),  # 31 Mar 23:59:59 EDT: in
    ("E", "BROKEN", "2026-03-14T12:00", "2026-04-01T04:00:00"),  # 1 Apr 00:00 EDT: out
    ("N", "KEPT", "2026-03-02T02:00", "2026-03-06T02:00"),  # the hidden case
    ("A", "OPEN", "2026-03-20T02:00", None),
    ("F", "BROKEN", "2026-03-14T16:00", "2026-03-20T02:00"),  # made 15 Mar 00:00 local: South
]

# Complaints: case, filed_at (UTC).
COMPLAINTS = [
    ("D", "2026-02-28T15:59:59"),  # 28 Feb local: out
    ("D", "2026-02-28T16:00:00"),  # 1 Mar 00:00: in, 28 Feb run: North
    ("D", "2026-03-14T15:59:59"),  # 14 Mar 23:59:59: 28 Feb run: North
    ("D", "2026-03-14T16:00:00"),  # 15 Mar 00:00: 15 Mar run: South
    ("A", "2026-03-31T15:59:59"),  # 31 Mar 23:59:59: closing run (two debts, counted once)
    ("A", "2026-03-31T16:00:00"),  # 1 Apr: out
    ("N", "2026-03-10T02:00"),  # the hidden case
    ("E", "2026-03-01T04:59:59"),  # 28 Feb 23:59:59 EST: out
    ("E", "2026-03-01T05:00:00"),  # 1 Mar 00:00 EST: in, South
    ("J", "2026-04-01T03:59:59"),  # 31 Mar 23:59:59 EDT: in, closing run
    ("J", "2026-04-01T04:00:00"),  # out
    ("G", "2026-03-05T02:00"),  # 28 Feb run, where G has no snapshot: key NULL
]


@dataclass
class World:
    engine: AsyncEngine
    cases: dict[str, int] = field(default_factory=dict)
    staff: dict[str, int] = field(default_factory=dict)

    def hiding(self, *names: str) -> ColumnElement[bool]:
        return tables.cases.c.id.not_in([self.cases[n] for n in names])


async def add_case(world: World, factory: Factory, name: str, spec: Spec) -> None:
    made = await factory.case(portfolio=spec.portfolio, debts=spec.debts)
    currency = "USD" if spec.portfolio == "us-cards" else "CNY"
    world.cases[name] = made.case.id
    async with writing(world.engine) as conn:
        await conn.execute(
            update(tables.cases).where(tables.cases.c.id == made.case.id).values(currency=currency)
        )
        history = []
        spells = spell_starts(spec.history)
        for n, (bucket, first) in enumerate(spec.history):
            following = spec.history[n + 1][1] if n + 1 < len(spec.history) else None
            history.append(
                {
                    "case_id": made.case.id,
                    "classification": "CURRENT" if bucket == "M0" else "MILD",
                    "bucket": bucket,
                    "from_date": first,
                    "to_date": following - timedelta(days=1) if following else None,
                    "policy_version": "2026.1",
                    "spell_from": spells[n],
                }
            )
        await conn.execute(insert(tables.classification_history), history)
        rows = []
        for run, (team, variant, columns) in spec.snapshots.items():
            for debt in made.debts:
                rows.append(
                    {
                        "debt_id": debt.id,
                        "as_of": run,
                        "case_id": made.case.id,
                        "portfolio": spec.portfolio,
                        "product_type": "CONSUMER_LOAN",
                        "currency": currency,
                        "balance": Decimal("1000.00"),
                        "principal": Decimal("900.00"),
                        "days_past_due": 10,
                        "bucket": "M1",
                        "classification": "MILD",
                        "status": "DELINQUENT",
                        "assignee_id": world.staff[team],
                        "strategy": "STANDARD" if variant else None,
                        "variant": variant,
                        "case_status": "OPEN",
                        "case_stage": "COLLECTION",
                        **columns,
                    }
                )
        await conn.execute(insert(tables.debt_snapshots), rows)


async def add_events(world: World, promises: Sequence[Any], complaints: Sequence[Any]) -> None:
    c = tables.cases.c
    async with writing(world.engine) as conn:
        rows = (await conn.execute(select(c.id, c.borrower_id, c.currency))).all()
        borrowers = {row.id: row.borrower_id for row in rows}
        currencies = {row.id: row.currency for row in rows}
        if promises:
            await conn.execute(
                insert(tables.promises),
                [
                    {
                        "case_id": world.cases[name],
                        "amount": Decimal("500.00"),
                        "currency": currencies[world.cases[name]],
                        "promised_on": d(2026, 3, 1),
                        "due_date": d(2026, 3, 10),
                        "grace_days": 3,
                        "status": status,
                        "paid_amount": Decimal("0.00"),
                        "created_at": utc(created),
                        "resolved_at": utc(resolved) if resolved else None,
                        "version": 1,
                    }
                    for name, status, created, resolved in promises
                ],
            )
        if complaints:
            await conn.execute(
                insert(tables.complaints),
                [
                    {
                        "case_id": world.cases[name],
                        "borrower_id": borrowers[world.cases[name]],
                        "kind": "CONDUCT",
                        "channel": "PHONE",
                        "written": False,
                        "description": "Called too often.",
                        "status": "OPEN",
                        "filed_at": utc(filed),
                        "version": 1,
                    }
                    for name, filed in complaints
                ],
            )


@pytest.fixture
async def world(migrated: AsyncEngine) -> World:
    world = World(migrated)
    factory = Factory(migrated)
    for login, team in (("north", "North"), ("south", "South")):
        world.staff[login] = (await factory.staff(login, team=team)).id
    for name, spec in CASES.items():
        await add_case(world, factory, name, spec)
    await add_events(world, PROMISES, COMPLAINTS)
    async with writing(migrated) as conn:
        await conn.execute(
            insert(tables.daily_runs),
            [
                {
                    "as_of": run,
                    "started_at": utc(f"{run}T01:00"),
                    "finished_at": None if run == UNFINISHED else utc(f"{run}T01:30"),
                    "summary": {},
                }
                for run in (OPENING, MIDDLE, UNFINISHED, CLOSING, AFTER)
            ],
        )
    return world


async def report(
    world: World,
    grouping: Grouping | None,
    scope: ColumnElement[bool],
    goals: Goals = DEFAULT_GOALS,
    period: Period = PERIOD,
) -> dict[GroupId, Outcomes]:
    async with world.engine.connect() as conn:
        observations = await observe(conn, period)
        return await outcomes(conn, observations, grouping, scope, goals)


def figures(o: Outcomes) -> tuple[Any, ...]:
    """Resolved within 30 days (numerator, denominator, value, meets goal), the days to recovery
    counts, promise kept rate and complaints per 1,000 (numerator, denominator, value)."""
    r, p, k = o.resolved_within_30_days, o.promise_kept_rate, o.complaints_per_1000
    assert [b.label for b in o.days_to_recovery] == LABELS
    assert r.goal is not None and p.goal is None and k.goal is None
    assert (r.scale, p.scale, k.scale) == (1, 1, 1000)
    return (
        (r.numerator, r.denominator, str(r.value), r.meets_goal),
        [b.cases for b in o.days_to_recovery],
        (p.numerator, p.denominator, str(p.value)),
        (k.numerator, k.denominator, str(k.value)),
    )


def by_group(found: dict[GroupId, Outcomes]) -> dict[GroupId, tuple[Any, ...]]:
    return {gid: figures(o) for gid, o in found.items()}


# The figures without N. The resolved ratio counts the spells begun by 1 March that were open in
# March: recovered A (10 days), B (30), C (31), D (75), F's first (63), E (200); open at the end
# I (since 1 March), L (its return on 2 April is after the period), J. Not: F's second spell and
# H (begun after 1 March), K (written off), M (recovered in February), G (never delinquent).
ZERO_DAYS = [0, 0, 0, 0, 0]
TOTALS = {
    # CNY: within 30 days A, B over A, B, C, D, F1, I, L = 2/7; days: A, B, F2 | C | D, F1;
    # promises kept: A's and C's (in at 16:00Z) over those and B's, D's partly kept, F's = 2/5;
    # complaints: D ×3, A, G over A, B, C, D, F, G, H, I, L, M (K written off) = 5/10.
    (None, "CNY"): (
        (2, 7, "0.2857", False),
        [3, 1, 2, 0, 0],
        (2, 5, "0.4000"),
        (5, 10, "500.0000"),
    ),
    # USD: E (200 days), J open = 0/2; E's promise resolved at 23:59:59 EDT; complaints E, J.
    (None, "USD"): (
        (0, 2, "0.0000", False),
        [0, 0, 0, 0, 1],
        (1, 1, "1.0000"),
        (2, 2, "1000.0000"),
    ),
}


async def test_recoveries_are_the_returns_to_current_of_the_period(world: World) -> None:
    """One row per recovery (F recovers twice), days between the spell's first delinquent day
    and the return; not G's first period at M0, M's February return, L's April one. Unscoped,
    usable as a subquery."""
    async with world.engine.connect() as conn:
        observations = await observe(conn, PERIOD)
        query = recoveries(conn, observations)
        assert list(query.selected_columns.keys()) == ["case_id", "recovered_on", "days"]
        found = query.subquery("found")
        stmt = select(found).order_by(found.c.recovered_on, found.c.case_id)
        rows = [tuple(row) for row in (await conn.execute(stmt)).all()]
    ids = world.cases
    expected = [
        (ids["A"], d(2026, 3, 2), (d(2026, 3, 2) - d(2026, 2, 20)).days),
        (ids["N"], d(2026, 3, 3), (d(2026, 3, 3) - d(2026, 2, 25)).days),
        (ids["F"], d(2026, 3, 5), (d(2026, 3, 5) - d(2026, 1, 1)).days),
        (ids["B"], d(2026, 3, 12), (d(2026, 3, 12) - d(2026, 2, 10)).days),
        (ids["C"], d(2026, 3, 13), (d(2026, 3, 13) - d(2026, 2, 10)).days),
        (ids["D"], d(2026, 3, 17), (d(2026, 3, 17) - d(2026, 1, 1)).days),
        (ids["E"], d(2026, 3, 20), (d(2026, 3, 20) - d(2025, 9, 1)).days),
        (ids["F"], d(2026, 3, 25), (d(2026, 3, 25) - d(2026, 3, 6)).days),
    ]
    assert [days for *_, days in expected] == [10, 6, 63, 30, 31, 75, 200, 19]
    assert rows == expected


async def test_totals_count_only_what_the_scope_shows(world: World) -> None:
    found = await report(world, None, world.hiding("N"))
    assert by_group(found) == TOTALS


async def test_totals_with_every_case(world: World) -> None:
    """N adds a recovery in 6 days (3/8), a kept promise (3/6), a complaint and a case (6/11)."""
    found = await report(world, None, true())
    assert by_group(found) == {
        (None, "CNY"): (
            (3, 8, "0.3750", False),
            [4, 1, 2, 0, 0],
            (3, 6, "0.5000"),
            (6, 11, "545.4545"),
        ),
        (None, "USD"): TOTALS[None, "USD"],
    }


async def test_by_portfolio(world: World) -> None:
    """As the totals, but G's complaint (no snapshot on its day) has no key: its own group, with
    no case to count it over."""
    found = await report(world, Grouping.PORTFOLIO, world.hiding("N"))
    assert by_group(found) == {
        ("retail", "CNY"): (
            (2, 7, "0.2857", False),
            [3, 1, 2, 0, 0],
            (2, 5, "0.4000"),
            (4, 10, "400.0000"),
        ),
        (None, "CNY"): ((0, 0, "0.0000", None), ZERO_DAYS, (0, 0, "0.0000"), (1, 0, "0.0000")),
        ("us-cards", "USD"): TOTALS[None, "USD"],
    }


async def test_by_team_follows_the_snapshot_of_the_day(world: World) -> None:
    """D is North on 28 February and South from 15 March: its recovery (17 Mar) and its last
    complaint are South's, its promise made on 10 March and two complaints North's. E's
    recovery reads the 15 March run, not the unfinished one of 20 March."""
    found = await report(world, Grouping.TEAM, world.hiding("N"))
    assert by_group(found) == {
        # A, B within 30 days over A, B, C, I: 0.5 is not above the goal of 0.5; days A, B | C;
        # promises A (kept), B (broken), D (partly), C (kept); complaints D ×2, A over A, B,
        # C (its opening row), G, H, I, M (its closing row, CLOSED) = 3/7.
        ("North", "CNY"): (
            (2, 4, "0.5000", False),
            [2, 1, 0, 0, 0],
            (2, 4, "0.5000"),
            (3, 7, "428.5714"),
        ),
        # D, F's first, L: 0/3; days F2 | D, F1; F's broken promise; D's complaint over D, F, L.
        ("South", "CNY"): (
            (0, 3, "0.0000", False),
            [1, 0, 2, 0, 0],
            (0, 1, "0.0000"),
            (1, 3, "333.3333"),
        ),
        (None, "CNY"): ((0, 0, "0.0000", None), ZERO_DAYS, (0, 0, "0.0000"), (1, 0, "0.0000")),
        ("South", "USD"): TOTALS[None, "USD"],
    }


async def test_the_goal_of_resolved_within_30_days_at_its_boundary(world: World) -> None:
    """North's 0.5 does not meet a goal of 0.5, meets one of 0.4999; with N (6 days) North's
    3/5 = 0.6 meets the manual's."""
    north = ("North", "CNY")
    lower = goals_from(resolved_within_30_days=Decimal("0.4999"))
    at_goal = (await report(world, Grouping.TEAM, world.hiding("N")))[north]
    below_value = (await report(world, Grouping.TEAM, world.hiding("N"), lower))[north]
    with_n = (await report(world, Grouping.TEAM, true()))[north]
    ratio = at_goal.resolved_within_30_days
    assert (ratio.value, ratio.meets_goal) == (Decimal("0.5000"), False)
    ratio = below_value.resolved_within_30_days
    assert (ratio.value, ratio.meets_goal) == (Decimal("0.5000"), True)
    ratio = with_n.resolved_within_30_days
    assert (ratio.numerator, ratio.denominator, ratio.value, ratio.meets_goal) == (
        Decimal(3),
        Decimal(5),
        Decimal("0.6000"),
        True,
    )


async def test_by_variant(world: World) -> None:
    found = await report(world, Grouping.VARIANT, world.hiding("N"))
    assert by_group(found) == {
        # A, B within over A, B, F1, L; days A, B, F2 | F1; promises A (kept), B and F (broken);
        # A's complaint over A, B, F, L.
        (CH, "CNY"): (
            (2, 4, "0.5000", False),
            [3, 0, 1, 0, 0],
            (1, 3, "0.3333"),
            (1, 4, "250.0000"),
        ),
        # C, D, I: 0/3; days C | D; D partly kept, C kept; D's three complaints over C, D, I.
        (CL, "CNY"): (
            (0, 3, "0.0000", False),
            [0, 1, 1, 0, 0],
            (1, 2, "0.5000"),
            (3, 3, "1000.0000"),
        ),
        # No strategy: G's complaint over G, H, M.
        (None, "CNY"): ((0, 0, "0.0000", None), ZERO_DAYS, (0, 0, "0.0000"), (1, 3, "333.3333")),
        (CH, "USD"): (
            (0, 1, "0.0000", False),
            [0, 0, 0, 0, 1],
            (1, 1, "1.0000"),
            (1, 1, "1000.0000"),
        ),
        (CL, "USD"): ((0, 1, "0.0000", False), ZERO_DAYS, (0, 0, "0.0000"), (1, 1, "1000.0000")),
    }


async def test_a_period_before_any_run(world: World) -> None:
    """1-27 February has no run: M's recovery on 20 Feb (41 days, begun by 28 Jan) is counted,
    keyless; no spell is known to be open, no case to count complaints over."""
    february = Period(d(2026, 2, 1), d(2026, 2, 27))
    async with world.engine.connect() as conn:
        observations = await observe(conn, february)
    assert (observations.opening, observations.closing) == (None, None)
    found = await report(world, Grouping.TEAM, world.hiding("N"), period=february)
    assert (d(2026, 2, 20) - d(2026, 1, 10)).days == 41
    assert by_group(found) == {
        (None, "CNY"): (
            (0, 1, "0.0000", False),
            [0, 1, 0, 0, 0],
            (0, 0, "0.0000"),
            (0, 0, "0.0000"),
        )
    }


async def test_the_statements_do_not_grow_with_the_number_of_cases(world: World) -> None:
    """Two statements for the dataset (the spells with the complaints, the promises), and two
    again with 20 more cases (each recovered in 12 days with a kept promise and a complaint)."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    async def counted() -> dict[GroupId, Outcomes]:
        async with world.engine.connect() as conn:
            observations: Observations = await observe(conn, PERIOD)
            statements.clear()
            event.listen(world.engine.sync_engine, "before_cursor_execute", count)
            try:
                return await outcomes(conn, observations, None, world.hiding("N"), DEFAULT_GOALS)
            finally:
                event.remove(world.engine.sync_engine, "before_cursor_execute", count)

    assert by_group(await counted()) == TOTALS
    assert len(statements) == 2
    factory = Factory(world.engine)
    more = [f"X{n}" for n in range(20)]
    for name in more:
        spec = Spec(
            "retail",
            [("M0", d(2025, 1, 1)), ("M1", d(2026, 2, 26)), ("M0", d(2026, 3, 10))],
            every("north", "CHAMPION"),
        )
        await add_case(world, factory, name, spec)
    await add_events(
        world,
        [(n, "KEPT", "2026-03-02T02:00", "2026-03-09T02:00") for n in more],
        [(n, "2026-03-03T02:00") for n in more],
    )
    found = by_group(await counted())
    assert len(statements) == 2
    assert found[None, "CNY"] == (
        (22, 27, "0.8148", True),
        [23, 1, 2, 0, 0],
        (22, 25, "0.8800"),
        (25, 30, "833.3333"),
    )
