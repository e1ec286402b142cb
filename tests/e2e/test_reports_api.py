"""Reports over HTTP, on a hand-built book of its own (factories, daily runs and their snapshots,
payments, promises, complaints, contacts, classification history, the loan book and cost
records), October 2026 from the runs of 30 September, 15 October and 31 October:

- the portfolio report's figures, worked out by hand below, in totals and by team;
- for each role that may read it, the report equals the store's over exactly the cases that role
  lists through ``cases``, with no figure over the loan book for a scoped caller;
- scorecards restricted per role (a collector's own, a team lead's team, an agency manager's
  agency), with figures worked out by hand;
- the champion/challenger comparison of STANDARD, values and intervals worked out by hand, over
  the cases each role sees;
- refusals: FORBIDDEN without the permission, BAD_USER_INPUT for a bad period;
- the statements of one report do not grow with the number of cases, and a closed period's
  report does not change with today's state.

Every case is in the retail portfolio (Asia/Shanghai) and in CNY; every instant is noon on a
Shanghai day unless said otherwise. The book (balance, principal, days past due on each run):

| case | owner now and then | 30 Sep | 15 Oct | 31 Oct | paid in October |
|---|---|---|---|---|---|
| A | collector1 (East) | 10000, 9000, 45 | 10000, 9000, 60 | 4000, 4000, 0 | 6000 on 20 Oct |
| B | collector2 (East) | 5000, 5000, 20 | 5000, 5000, 35 | 5000, 5000, 51 | 300 reversed |
| C | collector3 (West) | 4000, 4000, 0 | 3000, 3000, 0 | 3000, 3000, 10 | 1000 on 2 Oct |
| D1 | Acme (15%) | 8000, 7000, 100 | 7000, 6500, 115 | 7000, 6500, 131 | 1000 on 12 Oct |
| D2 | Acme | 2000, 2000, 100 | 0 settled | 0 settled | 2000 on 10 Oct |
| E | Zenith | 6000, 6000, 200 | 6000, 6000, 215 | written off | |
| F | nobody | 1000, 1000, 5 | 1000, 1000, 20 | 1000, 1000, 36 | |
| G | collector1 (East) | 2000, 2000, 10 | 0, case closed | 0, case closed | 2000 on 8 Oct |
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.settings import Settings
from domain.reports.model import Grouping, Period, ScorecardLevel
from store import scorecard_queries, tables, variant_queries
from store.db import create_engine
from store.migrate import upgrade
from store.report_basis import observe
from tests.access import LOGINS
from tests.conftest import PG_URL, TEST_AUDIT_SECRET, TEST_SECRET, _create_pg_database
from tests.factories import Factory, MadeCase, classify, writing
from tests.helpers import Gql, assert_bad_input, assert_forbidden
from tests.matrix import AGENCIES
from tests.operations_reports import (
    COMPARISON,
    REPORT,
    SCORECARDS,
    comparison_json,
    documented_rows,
    scorecard_json,
    stored_report,
)
from tests.report_support import spell_starts

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPENING, MIDDLE, CLOSING = date(2026, 9, 30), date(2026, 10, 15), date(2026, 10, 31)
OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}
# The statement count's own months, apart from October's book.
JUNE_END, JULY_END = date(2026, 6, 30), date(2026, 7, 31)
JULY = {"from": "2026-07-01", "to": "2026-07-31"}
# The goal of the loss rate set below the manual's 20%, as ARREARS_GOAL_LOSS_RATE would.
LOSS_GOAL = Decimal("0.15")
CASES = """
query($after: String) {
  cases(first: 100, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } }
}
"""


def noon(day: date, hour: int = 12) -> datetime:
    """``hour`` o'clock on a Shanghai day, in UTC."""
    return datetime.combine(day, time(hour), SHANGHAI).astimezone(UTC)


@dataclass(frozen=True)
class State:
    """A debt as one run left it."""

    balance: str
    principal: str
    dpd: int
    status: str = "DELINQUENT"
    case_status: str = "OPEN"
    case_stage: str = "COLLECTION"


SETTLED = State("0.00", "0.00", 0, "SETTLED")
# case → its owner now (factory arguments) and each debt's history on the three runs.
SHAPES: dict[str, dict[str, Any]] = {
    "A": {"assignee": "collector1"},
    "B": {"assignee": "collector2"},
    "C": {"assignee": "collector3"},
    "D": {"agency": "Acme Recovery", "debts": 2},
    "E": {"agency": "Zenith Collections"},
    "F": {},
    "G": {"assignee": "collector1"},
}
HISTORY: dict[str, list[dict[date, State]]] = {
    "A": [
        {
            OPENING: State("10000.00", "9000.00", 45),
            MIDDLE: State("10000.00", "9000.00", 60),
            CLOSING: State("4000.00", "4000.00", 0, "CURRENT"),
        }
    ],
    "B": [
        {
            OPENING: State("5000.00", "5000.00", 20),
            MIDDLE: State("5000.00", "5000.00", 35),
            CLOSING: State("5000.00", "5000.00", 51),
        }
    ],
    "C": [
        {
            OPENING: State("4000.00", "4000.00", 0, "CURRENT"),
            MIDDLE: State("3000.00", "3000.00", 0, "CURRENT"),
            CLOSING: State("3000.00", "3000.00", 10),
        }
    ],
    "D": [
        {
            OPENING: State("8000.00", "7000.00", 100),
            MIDDLE: State("7000.00", "6500.00", 115),
            CLOSING: State("7000.00", "6500.00", 131),
        },
        {OPENING: State("2000.00", "2000.00", 100), MIDDLE: SETTLED, CLOSING: SETTLED},
    ],
    "E": [
        {
            OPENING: State("6000.00", "6000.00", 200),
            MIDDLE: State("6000.00", "6000.00", 215),
            CLOSING: State("6000.00", "6000.00", 231, "WRITTEN_OFF", "OPEN", "WRITTEN_OFF"),
        }
    ],
    "F": [
        {
            OPENING: State("1000.00", "1000.00", 5),
            MIDDLE: State("1000.00", "1000.00", 20),
            CLOSING: State("1000.00", "1000.00", 36),
        }
    ],
    "G": [
        {
            OPENING: State("2000.00", "2000.00", 10),
            MIDDLE: State("0.00", "0.00", 0, "SETTLED", "CLOSED"),
            CLOSING: State("0.00", "0.00", 0, "SETTLED", "CLOSED"),
        }
    ],
}
# The treatment on the opening run (for the variant comparison): strategy, variant.
TREATED = {
    "A": "CHAMPION",
    "B": "CHAMPION",
    "C": "CHAMPION",
    "F": "CHALLENGER",
    "G": "CHALLENGER",
}
# Classification periods (bucket, from, to): A back to current after 65 days (61-90), G after
# 18 (0-30, within 30 days); B and F still delinquent; C overdue since 21 October (younger than
# 30 days at the period's end: not in resolvedWithin30Days).
PERIODS: dict[str, list[tuple[str, date, date | None]]] = {
    "A": [
        ("M0", date(2026, 1, 1), date(2026, 8, 15)),
        ("M1", date(2026, 8, 16), date(2026, 9, 14)),
        ("M2", date(2026, 9, 15), date(2026, 10, 19)),
        ("M0", date(2026, 10, 20), None),
    ],
    "B": [
        ("M0", date(2026, 1, 1), date(2026, 9, 9)),
        ("M1", date(2026, 9, 10), date(2026, 10, 9)),
        ("M2", date(2026, 10, 10), None),
    ],
    "C": [("M0", date(2026, 1, 1), date(2026, 10, 20)), ("M1", date(2026, 10, 21), None)],
    "F": [
        ("M0", date(2026, 1, 1), date(2026, 9, 25)),
        ("M1", date(2026, 9, 26), date(2026, 10, 25)),
        ("M2", date(2026, 10, 26), None),
    ],
    "G": [
        ("M0", date(2026, 1, 1), date(2026, 9, 19)),
        ("M1", date(2026, 9, 20), date(2026, 10, 7)),
        ("M0", date(2026, 10, 8), None),
    ],
}
CLASSIFICATIONS = {"M0": "CURRENT", "M1": "MILD", "M2": "MODERATE"}


@dataclass
class Book:
    gql: Gql
    engine: AsyncEngine
    factory: Factory
    cases: dict[str, MadeCase]
    statements: list[str] = field(default_factory=list)

    async def r(self, login: str, document: str, variables: dict[str, Any]) -> Any:
        return (await self.gql(login, document, variables))["r"]

    def id_of(self, name: str) -> int:
        return int(self.cases[name].case.id)


def snapshot(name: str, made: MadeCase, debt: Any, as_of: date, state: State) -> dict[str, Any]:
    """The snapshot row of one of case ``name``'s debts on a run."""
    bucket, classification = classify(state.dpd)
    variant = TREATED.get(name) if as_of == OPENING else None
    return {
        "debt_id": debt.id,
        "as_of": as_of,
        "case_id": made.case.id,
        "portfolio": made.case.portfolio,
        "product_type": debt.product_type,
        "currency": "CNY",
        "balance": Decimal(state.balance),
        "principal": Decimal(state.principal),
        "days_past_due": state.dpd,
        "bucket": bucket,
        "classification": classification,
        "status": state.status,
        "assignee_id": made.case.assignee_id,
        "agency_id": made.case.agency_id,
        "strategy": "STANDARD" if variant else None,
        "strategy_version": "2026.1" if variant else None,
        "variant": variant,
        "case_status": state.case_status,
        "case_stage": state.case_stage,
    }


def payment(made: MadeCase, debt: int, amount: str, at: datetime, **values: Any) -> dict[str, Any]:
    return {
        "case_id": made.case.id,
        "debt_id": made.debts[debt].id,
        "amount": Decimal(amount),
        "currency": "CNY",
        "paid_at": at,
        "reference": f"RP-{made.case.reference}-{at:%m%d%H}",
        "source": "FEED",
        "created_at": at,
        "reversed": False,
        "reversed_at": None,
        "closed_case": False,
        "version": 1,
        **values,
    }


def contact(made: MadeCase, staff: int, at: datetime, **values: Any) -> dict[str, Any]:
    return {
        "case_id": made.case.id,
        "borrower_id": made.borrower.id,
        "staff_id": staff,
        "at": at,
        "channel": "PHONE",
        "direction": "OUTBOUND",
        "party": "BORROWER",
        "notes": "",
        "outcome": None,
        "agency_id": None,
        "blocked": False,
        "rule": None,
        "breaches": [],
        **values,
    }


async def build_book(engine: AsyncEngine) -> tuple[Factory, dict[str, MadeCase]]:
    """The logins of tests/access.py, the matrix's agencies (Acme's contract 15%) and the book
    of the module's docstring."""
    factory = Factory(engine)
    for name, active in AGENCIES:
        await factory.agency(name, active=active)
    staff = {}
    for login, role in LOGINS.items():
        row = await factory.staff(login, roles=role.roles, team=role.team, agency=role.agency)
        staff[login] = row.id
    cases = {name: await factory.case(**shape) for name, shape in SHAPES.items()}
    a, b, c, d, f, g = (cases[k] for k in "ABCDFG")
    async with writing(engine) as conn:
        for day in (OPENING, MIDDLE, CLOSING):
            started = noon(day, 23)
            await conn.execute(
                insert(tables.daily_runs).values(
                    as_of=day, started_at=started, finished_at=started, summary={}
                )
            )
        rows = [
            snapshot(name, cases[name], debt, day, state)
            for name, debts in HISTORY.items()
            for debt, history in zip(cases[name].debts, debts, strict=True)
            for day, state in history.items()
        ]
        await conn.execute(insert(tables.debt_snapshots), rows)
        await conn.execute(
            insert(tables.payments),
            [
                payment(a, 0, "6000.00", noon(date(2026, 10, 20))),
                payment(c, 0, "1000.00", noon(date(2026, 10, 2))),
                payment(d, 1, "2000.00", noon(date(2026, 10, 10))),
                payment(d, 0, "1000.00", noon(date(2026, 10, 12))),
                payment(g, 0, "2000.00", noon(date(2026, 10, 8))),
                # Before the period, and reversed within it: neither counts.
                payment(a, 0, "500.00", noon(date(2026, 9, 29))),
                payment(
                    b,
                    0,
                    "300.00",
                    noon(date(2026, 10, 6)),
                    reversed=True,
                    reversed_at=noon(date(2026, 10, 7)),
                ),
            ],
        )
        promise = {
            "currency": "CNY",
            "amount": Decimal("1000.00"),
            "grace_days": 3,
            "paid_amount": Decimal("0.00"),
            "version": 1,
        }
        await conn.execute(
            insert(tables.promises),
            [
                {
                    **promise,
                    "case_id": a.case.id,
                    "staff_id": staff["collector1"],
                    "promised_on": date(2026, 10, 2),
                    "due_date": date(2026, 10, 6),
                    "status": "BROKEN",
                    "created_at": noon(date(2026, 10, 2)),
                    "resolved_at": noon(date(2026, 10, 9)),
                },
                {
                    **promise,
                    "case_id": f.case.id,
                    "staff_id": None,
                    "promised_on": date(2026, 10, 3),
                    "due_date": date(2026, 10, 8),
                    "status": "KEPT",
                    "created_at": noon(date(2026, 10, 3)),
                    "resolved_at": noon(date(2026, 10, 10)),
                },
            ],
        )
        await conn.execute(
            insert(tables.complaints).values(
                case_id=b.case.id,
                borrower_id=b.borrower.id,
                kind="COMPLAINT",
                channel="PHONE",
                written=False,
                description="calls at work",
                status="OPEN",
                filed_at=noon(date(2026, 10, 5)),
                version=1,
            )
        )
        acme = d.case.agency_id
        await conn.execute(
            insert(tables.contacts),
            [
                contact(
                    a, staff["collector1"], noon(date(2026, 10, 2)), outcome="RIGHT_PARTY_CONTACT"
                ),
                contact(a, staff["collector1"], noon(date(2026, 10, 3)), outcome="NO_ANSWER"),
                contact(
                    a,
                    staff["collector1"],
                    noon(date(2026, 10, 4), 22),
                    blocked=True,
                    rule="QUIET_HOURS",
                ),
                contact(
                    a,
                    staff["collector1"],
                    noon(date(2026, 10, 6)),
                    outcome="LEFT_MESSAGE",
                    breaches=["CALL_FREQUENCY"],
                ),
                contact(
                    d,
                    staff["acme.agent1"],
                    noon(date(2026, 10, 5)),
                    agency_id=acme,
                    outcome="PROMISE_TO_PAY",
                ),
            ],
        )
        await conn.execute(
            insert(tables.classification_history),
            [
                {
                    "case_id": cases[name].case.id,
                    "classification": CLASSIFICATIONS[bucket],
                    "bucket": bucket,
                    "from_date": start,
                    "to_date": end,
                    "policy_version": "2026.1",
                    "spell_from": spell,
                }
                for name, periods in PERIODS.items()
                for (bucket, start, end), spell in zip(
                    periods, spell_starts([(b, s) for b, s, _ in periods]), strict=True
                )
            ],
        )
        book = {"portfolio": "retail", "product_type": "CONSUMER_LOAN", "currency": "CNY"}
        await conn.execute(
            insert(tables.loan_book),
            [
                # The latest on or before the period's end is the denominator.
                {**book, "date": OPENING, "principal": Decimal("90000.00")},
                {**book, "date": CLOSING, "principal": Decimal("100000.00")},
                {**book, "date": date(2026, 11, 15), "principal": Decimal("999999.00")},
            ],
        )
        cost = {"portfolio": "retail", "currency": "CNY"}
        await conn.execute(
            insert(tables.cost_records),
            [
                {**cost, "date": MIDDLE, "category": "CALL_CENTRE", "amount": Decimal("550.00")},
                {
                    **cost,
                    "date": date(2026, 9, 20),
                    "category": "LETTERS",
                    "amount": Decimal("77.00"),
                },
            ],
        )
    return factory, cases


@pytest.fixture(scope="module")
async def book(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Book]:
    """The real app over the book, with the loss-rate goal set as ARREARS_GOAL_LOSS_RATE sets it,
    and every statement the app sends recorded."""
    drop = None
    if PG_URL:
        url, drop = await _create_pg_database(PG_URL)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('reports') / 'arrears.db'}"
    engine = create_engine(url)
    try:
        await upgrade(engine)
        factory, cases = await build_book(engine)
        settings = Settings(
            database_url=url,
            secret_key=TEST_SECRET,
            audit_secret=TEST_AUDIT_SECRET,
            env="test",
            goal_loss_rate=LOSS_GOAL,
        )
        app = create_app(settings, engine=engine)
        statements: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", record)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://r.test") as h:
                yield Book(Gql(h, settings), engine, factory, cases, statements)
    finally:
        await engine.dispose()
        if drop is not None:
            await drop()


def ratio(value: str, numerator: str, denominator: str, **extra: Any) -> dict[str, Any]:
    """A Ratio as the API writes it, compared by value (not by how many places are shown)."""
    return {
        "value": Decimal(value),
        "numerator": Decimal(numerator),
        "denominator": Decimal(denominator),
        "goal": Decimal(extra["goal"]) if extra.get("goal") else None,
        "meetsGoal": extra.get("meets"),
    }


def numbers(found: Any) -> Any:
    """The answer with every decimal string of a ratio or an amount read as a Decimal."""
    if isinstance(found, dict):
        return {
            k: Decimal(v)
            if k in ("value", "numerator", "denominator", "goal", "amount") and v is not None
            else numbers(v)
            for k, v in found.items()
        }
    if isinstance(found, list):
        return [numbers(v) for v in found]
    return found


def cny(amount: str) -> dict[str, Any]:
    return {"amount": Decimal(amount), "currency": "CNY"}


# ---- The figures, by hand -----------------------------------------------------------------------


async def test_the_totals_are_the_figures_worked_out_by_hand(book: Book) -> None:
    report = await book.r("admin", REPORT, {**OCTOBER, "groupBy": None})
    assert (report["from"], report["to"], report["groups"]) == ("2026-10-01", "2026-10-31", [])
    [total] = numbers(report["totals"])
    assert (total["key"], total["currency"]) == (None, "CNY")
    # In collection on 31 October: A current, C 10 days, B and F in M2, D in M5 (its worst
    # debt; the settled one adds nothing); E written off and G closed are not.
    assert total["aging"] == [
        {"bucket": "M0", "cases": 1, "outstanding": cny("4000.00")},
        {"bucket": "M1", "cases": 1, "outstanding": cny("3000.00")},
        {"bucket": "M2", "cases": 2, "outstanding": cny("6000.00")},
        {"bucket": "M5", "cases": 1, "outstanding": cny("7000.00")},
    ]
    # 6000 (A) + 1000 (C) + 2000 + 1000 (D) + 2000 (G); the reversal and September's not.
    assert total["recovered"] == cny("12000.00")
    # What was paid on the debts delinquent on 30 September (all but C: C's 1000 is recovered but
    # not in the rate) over their balance then, 34000.
    assert total["recoveryRate"] == ratio("0.3235", "11000.00", "34000.00")
    # Principal of the loans in collection at DPD ≥ 1, 30, 90 on 31 October (B 5000, C 3000,
    # D1 6500, F 1000) over the loan book of 31 October; only DPD ≥ 1 has the 5% goal.
    assert total["overdueRates"] == [
        {
            "minDaysPastDue": 1,
            "ratio": ratio("0.1550", "15500", "100000", goal="0.05", meets=False),
        },
        {"minDaysPastDue": 30, "ratio": ratio("0.1250", "12500", "100000")},
        {"minDaysPastDue": 90, "ratio": ratio("0.0650", "6500", "100000")},
    ]
    # Seven delinquent debts on 30 September (34000): where each was on 31 October.
    assert total["rollRates"] == [
        {"fromBucket": "M1", "toBucket": "M2", "byCount": ratio("0.6667", "2", "3"),
         "byBalance": ratio("0.7500", "6000", "8000")},
        {"fromBucket": "M1", "toBucket": "PAID", "byCount": ratio("0.3333", "1", "3"),
         "byBalance": ratio("0.2500", "2000", "8000")},
        {"fromBucket": "M2", "toBucket": "CURED", "byCount": ratio("1.0000", "1", "1"),
         "byBalance": ratio("1.0000", "10000", "10000")},
        {"fromBucket": "M4", "toBucket": "M5", "byCount": ratio("0.5000", "1", "2"),
         "byBalance": ratio("0.8000", "8000", "10000")},
        {"fromBucket": "M4", "toBucket": "PAID", "byCount": ratio("0.5000", "1", "2"),
         "byBalance": ratio("0.2000", "2000", "10000")},
        {"fromBucket": "M7", "toBucket": "WRITTEN_OFF", "byCount": ratio("1.0000", "1", "1"),
         "byBalance": ratio("1.0000", "6000", "6000")},
    ]  # fmt: skip
    # Cured (A) and paid (D2, G) over the seven.
    assert total["cureRate"] == ratio("0.4286", "3", "7")
    # E's 6000 written off, nothing recovered on it, over 34000: above the goal set to 15%.
    assert total["lossRate"] == ratio("0.1765", "6000", "34000", goal="0.15", meets=False)
    # Acme's 15% of 3000 plus the call centre's 550 of 15 October, over what was collected.
    assert total["costOfCollection"] == ratio("0.0833", "1000", "12000")
    # 1000 × 365 / 31 = 11774.19 a year over the loan book: above the 1% goal.
    assert total["annualisedCostVsLoanBook"] == ratio(
        "0.1177", "11774.19", "100000", goal="0.01", meets=False
    )
    # Recoveries: G after 18 days, A after 65.
    assert total["daysToRecovery"] == [
        {"label": "0-30", "cases": 1},
        {"label": "31-60", "cases": 0},
        {"label": "61-90", "cases": 1},
        {"label": "91-180", "cases": 0},
        {"label": "181+", "cases": 0},
    ]
    # Spells begun by 1 October and open in it: A, B, F, G; only G ended within 30 days.
    assert total["resolvedWithin30Days"] == ratio("0.2500", "1", "4", goal="0.5", meets=False)
    # F's kept, A's broken.
    assert total["promiseKeptRate"] == ratio("0.5000", "1", "2")
    # B's complaint per 1,000 of the seven cases in collection at either end.
    assert total["complaintsPer1000"] == ratio("142.8571", "1", "7")


async def test_by_team_the_key_is_the_team_of_the_case_collector_that_day(book: Book) -> None:
    report = await book.r("admin", REPORT, {**OCTOBER, "groupBy": "TEAM"})
    groups = {g["key"]: g for g in numbers(report["groups"])}
    assert [g["key"] for g in report["groups"]] == ["East", "West", None]
    east, west, nobody = groups["East"], groups["West"], groups[None]
    assert east["recovered"] == cny("8000.00")  # A and G
    assert east["recoveryRate"] == ratio("0.4706", "8000.00", "17000.00")  # A, B, G
    assert east["aging"] == [
        {"bucket": "M0", "cases": 1, "outstanding": cny("4000.00")},
        {"bucket": "M2", "cases": 1, "outstanding": cny("5000.00")},
    ]
    # C was current on 30 September: its 1000 is recovered but in no recovery rate, which has no
    # denominator, a value of 0 and no verdict.
    assert west["recoveryRate"] == ratio("0", "0", "0")
    # Only agency commission by team: Acme's 450 on D's 3000.
    assert east["costOfCollection"] == ratio("0", "0", "8000")
    assert nobody["costOfCollection"] == ratio("0.1500", "450", "3000")
    for group in report["groups"]:
        assert group["overdueRates"] == [] and group["annualisedCostVsLoanBook"] is None
    # The totals of a grouped report are the report's totals.
    plain = await book.r("admin", REPORT, {**OCTOBER, "groupBy": None})
    assert report["totals"] == plain["totals"]


# ---- Each role's report is the report over exactly the cases it sees ----------------------------


async def listed_case_ids(book: Book, login: str) -> list[int]:
    """Every case the login lists through ``cases``, page by page."""
    ids: list[int] = []
    after = None
    while True:
        page = (await book.gql(login, CASES, {"after": after}))["cases"]
        for edge in page["edges"]:
            kind, _, pk = base64.b64decode(edge["node"]["id"]).decode().partition(":")
            assert kind == "Case"
            ids.append(int(pk))
        if not page["pageInfo"]["hasNextPage"]:
            return ids
        after = page["pageInfo"]["endCursor"]


REPORT_LOGINS = ("admin", "manager", "lead1", "auditor1", "acme.manager")
# The book's cases a scoped login lists (the others list them all): East's, Acme's.
VISIBLE = {"lead1": {"A", "B", "G"}, "acme.manager": {"D"}}


@pytest.mark.parametrize("login", REPORT_LOGINS)
async def test_each_role_reports_on_exactly_the_cases_it_sees(book: Book, login: str) -> None:
    ids = await listed_case_ids(book, login)
    whole_book = LOGINS[login].sees_all_cases
    scope = tables.cases.c.id.in_(ids)
    period = Period(date(2026, 10, 1), date(2026, 10, 31))
    for grouping in (None, Grouping.PORTFOLIO, Grouping.TEAM, Grouping.AGENCY):
        variables = {**OCTOBER, "groupBy": grouping.value if grouping else None}
        found = await book.r(login, REPORT, variables)
        async with book.engine.connect() as conn:
            expected = await stored_report(
                conn, period, grouping, scope, whole_book=whole_book, goals=book.gql.settings.goals
            )
        assert found == expected, grouping
        if not whole_book:
            for group in (*found["groups"], *found["totals"]):
                assert group["overdueRates"] == [] and group["annualisedCostVsLoanBook"] is None
    listed = {name for name in SHAPES if book.id_of(name) in ids}
    assert listed == VISIBLE.get(login, set(SHAPES))


async def test_a_team_lead_and_an_agency_manager_see_their_own_figures(book: Book) -> None:
    [lead] = numbers((await book.r("lead1", REPORT, OCTOBER))["totals"])
    assert lead["recovered"] == cny("8000.00")  # A and G: East's cases
    assert lead["recoveryRate"] == ratio("0.4706", "8000.00", "17000.00")
    [acme] = numbers((await book.r("acme.manager", REPORT, OCTOBER))["totals"])
    assert acme["recovered"] == cny("3000.00")  # D's
    assert acme["aging"] == [{"bucket": "M5", "cases": 1, "outstanding": cny("7000.00")}]
    assert acme["complaintsPer1000"] == ratio("0", "0", "1")


# ---- Scorecards ---------------------------------------------------------------------------------


async def cards(book: Book, login: str, level: ScorecardLevel) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await book.r(login, SCORECARDS, {**OCTOBER, "level": level.value})
    return found


async def test_a_collector_scorecard_is_worked_out_by_hand(book: Book) -> None:
    by_key = {
        card["key"]: card for card in numbers(await cards(book, "admin", ScorecardLevel.COLLECTOR))
    }
    assert by_key["collector1"] == {
        "key": "collector1",
        "currency": "CNY",
        "recovered": cny("8000.00"),  # A's 6000 and G's 2000
        "recoveryRate": ratio("0.6667", "8000.00", "12000.00"),  # over A's and G's 30 Sep
        "casesCured": 2,  # A and G back to current
        "casesClosed": 1,  # G
        "contacts": 3,  # the refused attempt is not a contact
        "rightPartyContactRate": ratio("0.3333", "1", "3"),
        "promisesMade": 1,
        "promiseKeptRate": ratio("0", "0", "1"),  # broken
        "complaints": 0,
        "refusedAttempts": 1,
        "breaches": 1,
        "averageDaysToRecovery": "41.5",  # (65 + 18) / 2
        "commission": None,
    }
    assert by_key["acme.agent1"]["contacts"] == 1
    assert by_key["acme.agent1"]["rightPartyContactRate"] == ratio("1.0000", "1", "1")


async def test_an_agency_scorecard_carries_its_commission_statement(book: Book) -> None:
    by_key = {
        card["key"]: card for card in numbers(await cards(book, "admin", ScorecardLevel.AGENCY))
    }
    acme = by_key["Acme Recovery"]
    assert acme["recovered"] == cny("3000.00")
    assert acme["recoveryRate"] == ratio("0.3000", "3000.00", "10000.00")
    commission = acme["commission"]
    assert Decimal(commission.pop("rate")) == Decimal("0.15")
    assert commission == {
        "tailDays": 0,
        "collected": cny("3000.00"),
        "tailCollected": cny("0.00"),
        "commission": cny("450.00"),
        "payments": 2,
    }
    east = {c["key"]: c for c in numbers(await cards(book, "admin", ScorecardLevel.TEAM))}["East"]
    assert (east["recovered"], east["complaints"], east["commission"]) == (cny("8000.00"), 1, None)


# login → level → the keys of the rows it gets (None: every row the store has).
SCORECARD_KEYS: dict[str, dict[ScorecardLevel, set[str] | None]] = {
    "admin": dict.fromkeys(ScorecardLevel),
    "manager": dict.fromkeys(ScorecardLevel),
    "auditor1": dict.fromkeys(ScorecardLevel),
    "lead1": {
        ScorecardLevel.COLLECTOR: {"collector1", "collector2"},
        ScorecardLevel.TEAM: {"East"},
        ScorecardLevel.AGENCY: set(),
    },
    "collector1": {
        ScorecardLevel.COLLECTOR: {"collector1"},
        ScorecardLevel.TEAM: set(),
        ScorecardLevel.AGENCY: set(),
    },
    "acme.agent1": {
        ScorecardLevel.COLLECTOR: {"acme.agent1"},
        ScorecardLevel.TEAM: set(),
        ScorecardLevel.AGENCY: set(),
    },
    "acme.manager": {
        ScorecardLevel.COLLECTOR: {"acme.agent1"},
        ScorecardLevel.TEAM: set(),
        ScorecardLevel.AGENCY: {"Acme Recovery"},
    },
}


@pytest.mark.parametrize("login", sorted(SCORECARD_KEYS))
async def test_scorecards_are_restricted_per_role(book: Book, login: str) -> None:
    ids = await listed_case_ids(book, login)
    async with book.engine.connect() as conn:
        observations = await observe(conn, Period(date(2026, 10, 1), date(2026, 10, 31)))
        for level, keys in SCORECARD_KEYS[login].items():
            found = await cards(book, login, level)
            if keys == set():
                assert found == [], level
                continue
            rows = await documented_rows(conn, login, level)
            assert rows is not None, level
            expected = await scorecard_queries.scorecards(
                conn, observations, level, tables.cases.c.id.in_(ids), rows
            )
            assert found == [scorecard_json(card) for card in expected], level
            assert found, level
            if keys is not None:
                assert {card["key"] for card in found} == keys, level


# ---- Champion against challenger ---------------------------------------------------------------

Z = Decimal("1.959963984540054")  # the standard normal quantile of 0.975
PLACES = Decimal("0.0001")


def ratio_of_means(pairs: list[tuple[str, str]]) -> tuple[Decimal, Decimal]:
    """Σx / Σy over per-case (x, y) and its delta-method variance Σ(x − Ry)² / (n(n − 1)ȳ²)."""
    zero = Decimal(0)
    xs = [Decimal(x) for x, _ in pairs]
    ys = [Decimal(y) for _, y in pairs]
    n, rate = len(pairs), sum(xs, zero) / sum(ys, zero)
    mean_y = sum(ys, zero) / n
    residuals = sum(((x - rate * y) ** 2 for x, y in zip(xs, ys, strict=True)), zero)
    return rate, residuals / (n * (n - 1) * mean_y**2)


def compared(metric: str, champion: Any, challenger: Any, cases: tuple[int, int]) -> Any:
    """A VariantComparison as the API writes it, from each variant's (value, variance)."""
    (v1, var1), (v2, var2) = champion, challenger
    difference, half = v2 - v1, Z * (var1 + var2).sqrt()
    rounded = [
        str(value.quantize(PLACES))
        for value in (v1, v2, difference, difference - half, difference + half)
    ]
    return dict(
        zip(
            ("champion", "challenger", "difference", "confidenceLow", "confidenceHigh"),
            rounded,
            strict=True,
        ),
        metric=metric,
        championCases=cases[0],
        challengerCases=cases[1],
    )


async def test_the_variant_comparison_is_worked_out_by_hand(book: Book) -> None:
    variables = {**OCTOBER, "strategy": "STANDARD"}
    found = await book.r("manager", COMPARISON, variables)
    # Delinquent under STANDARD on 30 September: A and B the champion's (C, current then, is
    # not in the cohort), F and G the challenger's. Per case (recovered in October, balance on
    # 30 September): A (6000, 10000), B (0, 5000); F (0, 1000), G (2000, 2000). Cured at the
    # closing: A (current) and G (closed). B's complaint. No agency worked them: no commission.
    half = Decimal("0.5")
    assert found == [
        compared(
            "recoveryRate",
            ratio_of_means([("6000", "10000"), ("0", "5000")]),
            ratio_of_means([("0", "1000"), ("2000", "2000")]),
            (2, 2),
        ),
        compared("cureRate", (half, half * half / 2), (half, half * half / 2), (2, 2)),
        compared("costOfCollection", (Decimal(0), Decimal(0)), (Decimal(0), Decimal(0)), (2, 2)),
        compared(
            "complaintsPer1000",
            (Decimal(500), Decimal(1000**2) / 4),
            (Decimal(0), Decimal(0)),
            (2, 2),
        ),
    ]
    unknown = await book.r("manager", COMPARISON, {**OCTOBER, "strategy": "NO_SUCH"})
    assert unknown == []


@pytest.mark.parametrize("login", ["admin", "lead1", "auditor1"])
async def test_the_variant_comparison_counts_the_cases_each_role_sees(
    book: Book, login: str
) -> None:
    ids = await listed_case_ids(book, login)
    found = await book.r(login, COMPARISON, {**OCTOBER, "strategy": "STANDARD"})
    async with book.engine.connect() as conn:
        observations = await observe(conn, Period(date(2026, 10, 1), date(2026, 10, 31)))
        rows = await variant_queries.variant_comparison(
            conn, observations, "STANDARD", tables.cases.c.id.in_(ids)
        )
    assert found == [comparison_json(row) for row in rows]
    # The team's cohort: A and B against G.
    cohorts = {(row["championCases"], row["challengerCases"]) for row in found}
    assert cohorts == ({(2, 1)} if login == "lead1" else {(2, 2)})


# ---- Refusals -----------------------------------------------------------------------------------

PERIOD_ARGUMENTS = "query($from: Date!, $to: Date!) "
BRIEF = {
    "portfolioReport": PERIOD_ARGUMENTS + "{ portfolioReport(from: $from, to: $to) { from } }",
    "scorecards": PERIOD_ARGUMENTS
    + "{ scorecards(from: $from, to: $to, level: COLLECTOR) { key } }",
    "variantComparison": PERIOD_ARGUMENTS
    + '{ variantComparison(strategy: "STANDARD", from: $from, to: $to) { metric } }',
}


@pytest.mark.parametrize(
    ("field", "login"),
    [
        ("portfolioReport", "collector1"),
        ("portfolioReport", "acme.agent1"),
        ("portfolioReport", "legal1"),
        ("portfolioReport", "core.banking"),
        ("scorecards", "legal1"),
        ("scorecards", "core.banking"),
        ("variantComparison", "collector1"),
        ("variantComparison", "acme.manager"),
    ],
)
async def test_roles_without_the_permission_are_refused(book: Book, field: str, login: str) -> None:
    assert_forbidden(await book.gql.errors(login, BRIEF[field], OCTOBER))


@pytest.mark.parametrize("field", sorted(BRIEF))
@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-10-31", "2026-10-01", "to: to is before from"),
        ("2025-10-01", "2026-10-03", "to: a report covers at most 367 days"),
        ("0001-01-01", "0001-01-31", "from is out of range: years 2 to 9998"),
        ("9999-12-01", "9999-12-31", "from is out of range: years 2 to 9998"),
    ],
)
async def test_a_bad_period_is_bad_user_input(
    book: Book, field: str, start: str, end: str, message: str
) -> None:
    errors = await book.gql.errors("admin", BRIEF[field], {"from": start, "to": end})
    assert_bad_input(errors, message)


async def test_a_strategy_name_no_snapshot_can_hold_is_bad_user_input(book: Book) -> None:
    errors = await book.gql.errors("manager", COMPARISON, {**OCTOBER, "strategy": "S" * 65})
    assert_bad_input(errors, "strategy is longer than 64 characters")


async def test_a_year_and_a_day_is_the_longest_period(book: Book) -> None:
    # 2 October 2025 to 3 October 2026: 367 days.
    report = await book.r("admin", REPORT, {"from": "2025-10-02", "to": "2026-10-03"})
    assert report["from"] == "2025-10-02"


# ---- History, and a statement count that does not grow ------------------------------------------


async def test_a_closed_period_is_the_same_whatever_today_holds(book: Book) -> None:
    variables = {**OCTOBER, "groupBy": "TEAM"}
    before = await book.r("admin", REPORT, variables)
    c = tables.cases.c
    staff = tables.staff.c
    b = book.cases["B"].case
    async with writing(book.engine) as conn:
        west = (await conn.execute(select(staff.id).where(staff.login == "collector3"))).scalar()
        await conn.execute(update(tables.cases).where(c.id == b.id).values(assignee_id=west))
    try:
        assert await book.r("admin", REPORT, variables) == before
    finally:
        async with writing(book.engine) as conn:
            await conn.execute(
                update(tables.cases).where(c.id == b.id).values(assignee_id=b.assignee_id)
            )


async def add_july_cases(book: Book, owners: list[dict[str, Any]]) -> None:
    """Cases with July's runs only (apart from October's book): delinquent on 30 June, paid and
    complained about in July, a bucket further on 31 July."""
    async with writing(book.engine) as conn:
        for day in (JUNE_END, JULY_END):
            exists = await conn.execute(
                tables.daily_runs.select().where(tables.daily_runs.c.as_of == day)
            )
            if exists.first() is None:
                started = noon(day, 23)
                await conn.execute(
                    insert(tables.daily_runs).values(
                        as_of=day, started_at=started, finished_at=started, summary={}
                    )
                )
    for owner in owners:
        made = await book.factory.case(debts=2, **owner)
        async with writing(book.engine) as conn:
            rows = [
                snapshot("", made, debt, day, State("900.00", "800.00", dpd))
                for debt in made.debts
                for day, dpd in ((JUNE_END, 40), (JULY_END, 71))
            ]
            await conn.execute(insert(tables.debt_snapshots), rows)
            await conn.execute(
                insert(tables.payments), [payment(made, 0, "100.00", noon(date(2026, 7, 9)))]
            )
            await conn.execute(
                insert(tables.complaints).values(
                    case_id=made.case.id,
                    borrower_id=made.borrower.id,
                    kind="COMPLAINT",
                    channel="PHONE",
                    written=False,
                    description="too many calls",
                    status="OPEN",
                    filed_at=noon(date(2026, 7, 10)),
                    version=1,
                )
            )


async def report_statements(book: Book) -> int:
    """The statements of one July report by agency (the audit trail's writes left out: they may
    be flushed after the response)."""
    book.statements.clear()
    report = await book.r("admin", REPORT, {**JULY, "groupBy": "AGENCY"})
    assert report["totals"]
    return len([s for s in book.statements if "audit_" not in s])


async def test_the_statements_of_a_report_do_not_grow_with_the_cases(book: Book) -> None:
    await add_july_cases(book, [{"assignee": "collector1"}])
    few = await report_statements(book)
    await add_july_cases(
        book,
        [
            {"assignee": "collector2"},
            {"assignee": "collector3"},
            {"agency": "Acme Recovery"},
            {"agency": "Zenith Collections"},
            {},
            {"assignee": "collector1"},
        ],
    )
    many = await report_statements(book)
    assert many == few, book.statements
    [total] = numbers((await book.r("admin", REPORT, JULY))["totals"])
    assert total["recovered"] == cny("700.00")
    assert total["complaintsPer1000"] == ratio("1000.0000", "7", "7")
