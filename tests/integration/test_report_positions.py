"""The report's positions (``store.report_positions``) on a hand-built history: aging, overdue
rates and roll rates equal the figures worked out by hand below, to the cent and to the fourth
decimal of every rate, in every grouping, under a scope, and in a fixed number of statements.

The history: three completed daily runs, J (2026-01-31, the opening of February–March), F
(2026-02-28, February's end) and M (2026-03-31, the closing), and the snapshot rows each left.
Retail (CNY, Asia/Shanghai) and us-cards (USD, America/New_York); collectors alpha (team Alpha)
and beta (team Beta); "Agency One"; strategy STANDARD's champion and challenger.

    case  portfolio  debt  product        J                 F                  M
    C1    retail     D1a   CONSUMER_LOAN  10d M1 1000.00    38d M2 1000.00     66d M3 1000.00
                     D1b   CREDIT_CARD     0d M0  500.00     5d M1  500.00      0d M0  200.00
    C2    retail     D2    CONSUMER_LOAN  45d M2 2000.00     0d M0 1500.00     20d M1 1500.00
    C3    retail     D3    CREDIT_CARD   100d M4 3000.00    gone, written off 02-20
    C4    retail     D4    CONSUMER_LOAN  70d M3  800.00    gone (a write-off only at 03-01
                                                            00:00 Shanghai: after F's day)
    C5    retail     D5    CREDIT_CARD    15d M1  400.00    45d M2  400.00     75d, the case
                                                                               written off
    C6    us-cards   D6    CREDIT_CARD    31d M2 1200.00    59d M2 1200.00     90d M3 1100.00
    C7    us-cards   D7    CONSUMER_LOAN   5d M1  600.00     0d M0    0.00     case CLOSED
    C8    us-cards   D8    CREDIT_CARD     0d M0  700.00     0d M0  700.00      0d M0  700.00
    C9    retail     D9    CONSUMER_LOAN                                        3d M1  250.00
    C10   us-cards   D10   CREDIT_CARD    40d M2  300.00    69d, the debt written off (M too)
    C11   us-cards   D11   CONSUMER_LOAN   8d M1  250.00     0d SETTLED 50.00  gone

Owners (every run unless said): C1, C3, C5, C9 alpha; C2 beta at J, then nobody's but placed with
Agency One at F and M; C4, C7, C11 beta; C6 Agency One; C8, C10 nobody's. Variants: C1, C3, C9
champion; C2, C5 challenger; the others none. Today's state of ``cases`` says the opposite of the
history (all CLOSED, M7, nobody's) so that a figure read from it would show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import ColumnElement, event, insert, true, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.reports.goals import DEFAULT_GOALS
from domain.reports.model import AgingBucket, Grouping, Period, Ratio, ThresholdRatio
from store import tables
from store.report_basis import GroupId, observe
from store.report_positions import Rolls, aging, overdue_rates, rolls
from tests.factories import Factory, classify, writing

J, F, M = date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)
FEB_MAR = Period(date(2026, 2, 1), M)
MARCH = Period(date(2026, 3, 1), M)
CENT = Decimal("0.01")
AGENCY = "Agency One"
CNY, USD = "CNY", "USD"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# case: portfolio, collector, agency, variant of STANDARD
CASES: dict[str, tuple[str, str | None, str | None, str | None]] = {
    "C1": ("retail", "alpha", None, "CHAMPION"),
    "C2": ("retail", "beta", None, "CHALLENGER"),
    "C3": ("retail", "alpha", None, "CHAMPION"),
    "C4": ("retail", "beta", None, None),
    "C5": ("retail", "alpha", None, "CHALLENGER"),
    "C6": ("us-cards", None, AGENCY, None),
    "C7": ("us-cards", "beta", None, None),
    "C8": ("us-cards", None, None, None),
    "C9": ("retail", "alpha", None, "CHAMPION"),
    "C10": ("us-cards", None, None, None),
    "C11": ("us-cards", "beta", None, None),
}
DEBTS = {
    "D1a": ("C1", "CONSUMER_LOAN"),
    "D1b": ("C1", "CREDIT_CARD"),
    "D2": ("C2", "CONSUMER_LOAN"),
    "D3": ("C3", "CREDIT_CARD"),
    "D4": ("C4", "CONSUMER_LOAN"),
    "D5": ("C5", "CREDIT_CARD"),
    "D6": ("C6", "CREDIT_CARD"),
    "D7": ("C7", "CONSUMER_LOAN"),
    "D8": ("C8", "CREDIT_CARD"),
    "D9": ("C9", "CONSUMER_LOAN"),
    "D10": ("C10", "CREDIT_CARD"),
    "D11": ("C11", "CONSUMER_LOAN"),
}
PLACED = {"assignee": None, "agency": AGENCY}
DEBT_WRITTEN_OFF = {"status": "WRITTEN_OFF"}
# debt, run, days past due, balance, principal, what else that row says
SNAPSHOTS: list[tuple[str, date, int, str, str, dict[str, Any]]] = [
    ("D1a", J, 10, "1000.00", "900.00", {}),
    ("D1b", J, 0, "500.00", "500.00", {}),
    ("D2", J, 45, "2000.00", "1400.00", {}),
    ("D3", J, 100, "3000.00", "2500.00", {}),
    ("D4", J, 70, "800.00", "700.00", {}),
    ("D5", J, 15, "400.00", "400.00", {}),
    ("D6", J, 31, "1200.00", "1000.00", {}),
    ("D7", J, 5, "600.00", "600.00", {}),
    ("D8", J, 0, "700.00", "700.00", {}),
    ("D10", J, 40, "300.00", "300.00", {}),
    ("D11", J, 8, "250.00", "250.00", {}),
    ("D1a", F, 38, "1000.00", "900.00", {}),
    ("D1b", F, 5, "500.00", "500.00", {}),
    ("D2", F, 0, "1500.00", "1400.00", PLACED),
    ("D5", F, 45, "400.00", "400.00", {}),
    ("D6", F, 59, "1200.00", "1000.00", {}),
    ("D7", F, 0, "0.00", "0.00", {}),  # paid off, its status not yet moved on
    ("D8", F, 0, "700.00", "700.00", {}),
    ("D10", F, 69, "300.00", "300.00", DEBT_WRITTEN_OFF),
    ("D11", F, 0, "50.00", "50.00", {"status": "SETTLED"}),  # settled for less
    ("D1a", M, 66, "1000.00", "900.00", {}),
    ("D1b", M, 0, "200.00", "200.00", {}),
    ("D2", M, 20, "1500.00", "1400.00", PLACED),
    ("D5", M, 75, "400.00", "400.00", {"case_stage": "WRITTEN_OFF"}),
    ("D6", M, 90, "1100.00", "1000.00", {}),
    ("D7", M, 0, "0.00", "0.00", {"status": "CLOSED", "case_status": "CLOSED"}),
    ("D8", M, 0, "700.00", "700.00", {}),
    ("D9", M, 3, "250.00", "250.00", {}),
    ("D10", M, 100, "300.00", "300.00", DEBT_WRITTEN_OFF),
]
# Retail's February–March runs from 2026-01-31 16:00 to 2026-03-31 16:00 UTC (Shanghai midnights).
# debt, amount, currency, paid at (UTC), recovery, reversed at (UTC)
PAYMENTS: list[tuple[str, str, str, datetime, bool, datetime | None]] = [
    ("D3", "7.00", CNY, utc(2026, 1, 31, 15, 59, 59), True, None),  # 01-31 local
    ("D3", "11.00", CNY, utc(2026, 1, 31, 16), True, None),  # 02-01 00:00 local
    ("D3", "250.00", CNY, utc(2026, 3, 10, 3), True, None),
    ("D3", "40.00", CNY, utc(2026, 3, 12), True, utc(2026, 3, 15)),
    # Reversed at the period's end: it still counts (a closed period never changes).
    ("D3", "60.00", CNY, utc(2026, 3, 12), True, utc(2026, 3, 31, 16)),
    ("D3", "17.00", CNY, utc(2026, 3, 31, 15, 59, 59), True, None),
    ("D3", "13.00", CNY, utc(2026, 3, 31, 16), True, None),  # 04-01 local
    ("D3", "4.00", USD, utc(2026, 3, 11), True, None),  # not the debt's currency
    ("D5", "30.00", CNY, utc(2026, 3, 20, 2), True, None),
    ("D5", "500.00", CNY, utc(2026, 3, 5, 2), False, None),  # not a recovery
    ("D6", "5.00", USD, utc(2026, 3, 20, 14), True, None),  # never written off
    # us-cards' February–March runs from 2026-02-01 05:00 to 2026-04-01 04:00 UTC (New York).
    ("D10", "20.00", USD, utc(2026, 3, 5, 15), True, None),
    ("D10", "9.00", USD, utc(2026, 4, 1, 3, 59, 59), True, None),  # 03-31 local
]
# Counted recoveries, February–March: D3 11.00 + 250.00 + 60.00 + 17.00 = 338.00; D5 30.00;
# D10 20.00 + 9.00 = 29.00.
# case, written off at (UTC)
WRITE_OFFS = [
    ("C3", utc(2026, 2, 20, 2)),
    ("C4", utc(2026, 2, 28, 16)),  # 03-01 00:00 Shanghai: after F's day
]
# date, portfolio, product, currency, principal
# Each (portfolio, product, currency) is read on its own latest date up to the period's end:
# us-cards' feed is a day behind retail's.
LOAN_BOOK = [
    (F, "retail", "CONSUMER_LOAN", CNY, "1.00"),  # older than the key's latest date: not read
    (M, "retail", "CONSUMER_LOAN", CNY, "40000.00"),
    (M, "retail", "CREDIT_CARD", CNY, "11000.00"),
    (date(2026, 3, 30), "us-cards", "CONSUMER_LOAN", USD, "5000.00"),
    (date(2026, 4, 30), "retail", "CONSUMER_LOAN", CNY, "99999.00"),  # after the period
]


@dataclass
class Book:
    """What the history's names stand for in the database."""

    cases: dict[str, int]
    debts: dict[str, int]


async def add_runs(engine: AsyncEngine, *days: date, finished: bool = True) -> None:
    async with writing(engine) as conn:
        for day in days:
            at = datetime.combine(day, datetime.min.time(), UTC)
            await conn.execute(
                insert(tables.daily_runs).values(
                    as_of=day, started_at=at, finished_at=at if finished else None, summary={}
                )
            )


def _snapshot(
    book: Book,
    owners: dict[str, int],
    debt: str,
    run: date,
    dpd: int,
    balance: str,
    principal: str,
    changes: dict[str, Any],
) -> dict[str, Any]:
    case_name, product = DEBTS[debt]
    portfolio, collector, agency, variant = CASES[case_name]
    said = {"assignee": collector, "agency": agency, **changes}
    bucket, classification = classify(dpd)
    return {
        "debt_id": book.debts[debt],
        "as_of": run,
        "case_id": book.cases[case_name],
        "portfolio": portfolio,
        "product_type": product,
        "currency": USD if portfolio == "us-cards" else CNY,
        "balance": Decimal(balance),
        "principal": Decimal(principal),
        "days_past_due": dpd,
        "bucket": bucket,
        "classification": classification,
        "status": changes.get("status", "DELINQUENT" if dpd else "CURRENT"),
        "assignee_id": owners[said["assignee"]] if said["assignee"] else None,
        "agency_id": owners[said["agency"]] if said["agency"] else None,
        "strategy": "STANDARD" if variant else None,
        "strategy_version": "2026.1" if variant else None,
        "variant": variant,
        "case_status": changes.get("case_status", "OPEN"),
        "case_stage": changes.get("case_stage", "COLLECTION"),
    }


async def build(engine: AsyncEngine) -> Book:
    """Writes the history of the module's docstring."""
    factory = Factory(engine)
    owners = {
        "alpha": (await factory.staff(team="Alpha")).id,
        "beta": (await factory.staff(team="Beta")).id,
        AGENCY: (await factory.agency(AGENCY)).id,
    }
    borrowers = {name: (await factory.borrower()).id for name in CASES}
    book = Book({}, {})
    async with writing(engine) as conn:
        for name, (portfolio, _, _, _) in CASES.items():
            currency = USD if portfolio == "us-cards" else CNY
            inserted = await conn.execute(
                insert(tables.cases).values(
                    reference=f"RP-{name}",
                    borrower_id=borrowers[name],
                    portfolio=portfolio,
                    currency=currency,
                    opened_on=date(2025, 6, 1),
                    status="CLOSED",
                    stage="COLLECTION",
                    days_past_due=200,
                    bucket="M7",
                    classification="SEVERE",
                    policy_version="2026.1",
                    outstanding_amount=Decimal("0.00"),
                    version=1,
                )
            )
            assert inserted.inserted_primary_key is not None
            book.cases[name] = int(inserted.inserted_primary_key[0])
        for debt, (case_name, product) in DEBTS.items():
            inserted = await conn.execute(
                insert(tables.debts).values(
                    case_id=book.cases[case_name],
                    borrower_id=borrowers[case_name],
                    account_number=f"RP{debt}",
                    product_type=product,
                    currency=USD if CASES[case_name][0] == "us-cards" else CNY,
                    principal=Decimal("1000.00"),
                    interest=Decimal("0.00"),
                    penalty=Decimal("0.00"),
                    fee=Decimal("0.00"),
                    opened_on=date(2025, 6, 1),
                    status="DELINQUENT",
                    paused_days=0,
                )
            )
            assert inserted.inserted_primary_key is not None
            book.debts[debt] = int(inserted.inserted_primary_key[0])
        await conn.execute(
            insert(tables.debt_snapshots),
            [_snapshot(book, owners, *row) for row in SNAPSHOTS],
        )
        for n, (debt, amount, currency, paid_at, recovery, reversed_at) in enumerate(PAYMENTS):
            case_name = DEBTS[debt][0]
            await conn.execute(
                insert(tables.payments).values(
                    case_id=book.cases[case_name],
                    debt_id=book.debts[debt],
                    amount=Decimal(amount),
                    currency=currency,
                    paid_at=paid_at,
                    reference=f"RP-PAY-{n}",
                    source="FEED",
                    created_at=paid_at,
                    reversed=reversed_at is not None,
                    reversed_at=reversed_at,
                    recovery=recovery,
                    version=1,
                )
            )
        for case_name, at in WRITE_OFFS:
            await conn.execute(
                insert(tables.write_offs).values(
                    case_id=book.cases[case_name],
                    source="CHARGE_OFF",
                    reason_code="CHARGED_OFF",
                    amount=Decimal("1.00"),
                    currency=CNY,
                    written_off_at=at,
                )
            )
        await conn.execute(
            insert(tables.loan_book),
            [
                {
                    "date": day,
                    "portfolio": portfolio,
                    "product_type": product,
                    "currency": currency,
                    "principal": Decimal(principal),
                }
                for day, portfolio, product, currency, principal in LOAN_BOOK
            ],
        )
    await add_runs(engine, J, F, M)
    return book


# ---- how the figures are compared: as short readable lines ------------------------------------


def _amount(value: Decimal) -> str:
    assert value == value.quantize(CENT), value  # an amount is to the cent, never more
    return f"{value:.2f}"


def _count(value: Decimal) -> str:
    assert value == int(value), value
    return str(int(value))


def show(ratio: Ratio, *, money: bool) -> str:
    """``numerator/denominator=value``, and whether it meets its goal when it has one."""
    shown = _amount if money else _count
    verdict = {None: "", True: " met", False: " not met"}[ratio.meets_goal]
    return f"{shown(ratio.numerator)}/{shown(ratio.denominator)}={ratio.value}{verdict}"


def show_aging(found: dict[GroupId, list[AgingBucket]]) -> dict[GroupId, list[str]]:
    shown: dict[GroupId, list[str]] = {}
    for gid, buckets in found.items():
        assert all(b.outstanding.currency == gid[1] for b in buckets)
        shown[gid] = [f"{b.bucket} {b.cases} {_amount(b.outstanding.amount)}" for b in buckets]
    return shown


def show_overdue(found: dict[GroupId, list[ThresholdRatio]]) -> dict[GroupId, list[str]]:
    for ratios in found.values():
        assert [r.ratio.goal for r in ratios] == [DEFAULT_GOALS.overdue_rate, None, None]
    return {
        gid: [f"{r.min_days_past_due}: {show(r.ratio, money=True)}" for r in ratios]
        for gid, ratios in found.items()
    }


def show_rolls(found: dict[GroupId, Rolls]) -> dict[GroupId, list[str]]:
    shown: dict[GroupId, list[str]] = {}
    for gid, group in found.items():
        assert group.cure_rate.goal is None
        assert group.loss_rate.goal == DEFAULT_GOALS.loss_rate
        shown[gid] = [
            *(
                f"{r.from_bucket}>{r.to_bucket} {show(r.by_count, money=False)} "
                f"{show(r.by_balance, money=True)}"
                for r in group.roll_rates
            ),
            f"cure {show(group.cure_rate, money=False)}",
            f"loss {show(group.loss_rate, money=True)}",
        ]
    return shown


def everything() -> ColumnElement[bool]:
    return true()


# ---- aging ---------------------------------------------------------------------------------------

# At M the rows in collection are D1a, D1b (C1: as late as D1a, 1000.00 + 200.00), D2 (C2), D6,
# D8 and D9 (C9); C5 and D10 are written off, C7 closed.
AGING: dict[Grouping | None, dict[GroupId, list[str]]] = {
    None: {
        (None, CNY): ["M1 2 1750.00", "M3 1 1200.00"],  # C2 1500.00 + C9 250.00; C1
        (None, USD): ["M0 1 700.00", "M3 1 1100.00"],  # C8; C6
    },
    Grouping.PORTFOLIO: {
        ("retail", CNY): ["M1 2 1750.00", "M3 1 1200.00"],
        ("us-cards", USD): ["M0 1 700.00", "M3 1 1100.00"],
    },
    # C1 counts once under each of its products, with that product's debts only.
    Grouping.PRODUCT: {
        ("CONSUMER_LOAN", CNY): ["M1 2 1750.00", "M3 1 1000.00"],  # C2, C9; C1's D1a
        ("CREDIT_CARD", CNY): ["M0 1 200.00"],  # C1's D1b
        ("CREDIT_CARD", USD): ["M0 1 700.00", "M3 1 1100.00"],
    },
    Grouping.CLASSIFICATION: {
        ("CURRENT", CNY): ["M0 1 200.00"],  # D1b, 0 days
        ("MILD", CNY): ["M1 2 1750.00"],  # D2 20 days, D9 3 days
        ("MODERATE", CNY): ["M3 1 1000.00"],  # D1a 66 days
        ("CURRENT", USD): ["M0 1 700.00"],
        ("MODERATE", USD): ["M3 1 1100.00"],  # D6 90 days
    },
    Grouping.TEAM: {
        ("Alpha", CNY): ["M1 1 250.00", "M3 1 1200.00"],  # C9; C1
        (None, CNY): ["M1 1 1500.00"],  # C2, nobody's at M
        (None, USD): ["M0 1 700.00", "M3 1 1100.00"],
    },
    Grouping.AGENCY: {
        (AGENCY, CNY): ["M1 1 1500.00"],  # C2, placed at M
        (None, CNY): ["M1 1 250.00", "M3 1 1200.00"],
        (AGENCY, USD): ["M3 1 1100.00"],  # C6
        (None, USD): ["M0 1 700.00"],
    },
    Grouping.VARIANT: {
        ("STANDARD/CHAMPION", CNY): ["M1 1 250.00", "M3 1 1200.00"],  # C9; C1
        ("STANDARD/CHALLENGER", CNY): ["M1 1 1500.00"],  # C2
        (None, USD): ["M0 1 700.00", "M3 1 1100.00"],
    },
}


async def test_aging_at_the_closing_run_in_every_grouping(migrated: AsyncEngine) -> None:
    await build(migrated)
    async with migrated.connect() as conn:
        observations = await observe(conn, FEB_MAR)
        for grouping, expected in AGING.items():
            found = await aging(conn, observations, grouping, everything())
            assert show_aging(found) == expected, grouping


# ---- overdue rates ----------------------------------------------------------------------------

# Principal in collection at M: D1a 900.00 (66 days), D2 1400.00 (20), D9 250.00 (3), all retail
# consumer loans; D6 1000.00 (90, us-cards credit card). C5 (75 days) and D10 (100) are written
# off. The loan book, each key on its latest date up to 03-31: retail consumer loans 40000.00
# and credit cards 11000.00 (03-31), us-cards consumer loans 5000.00 (03-30, a day behind).
# CNY: 900.00 + 1400.00 + 250.00 = 2550.00 over 51000.00 = exactly 5%: the goal is not met.
# USD: us-cards credit cards have no loan-book row, so D6 is in no numerator (like for like):
# 0.00 over 5000.00.
RETAIL = [
    "1: 2550.00/51000.00=0.0500 not met",
    "30: 900.00/51000.00=0.0176",
    "90: 0.00/51000.00=0.0000",
]
US_CARDS = [
    "1: 0.00/5000.00=0.0000 met",
    "30: 0.00/5000.00=0.0000",
    "90: 0.00/5000.00=0.0000",
]
OVERDUE: dict[Grouping | None, dict[GroupId, list[str]]] = {
    None: {(None, CNY): RETAIL, (None, USD): US_CARDS},
    Grouping.PORTFOLIO: {("retail", CNY): RETAIL, ("us-cards", USD): US_CARDS},
    Grouping.PRODUCT: {
        # 2550 / 40000 = 0.06375, to even: 0.0638; 900 / 40000 = 0.0225
        ("CONSUMER_LOAN", CNY): [
            "1: 2550.00/40000.00=0.0638 not met",
            "30: 900.00/40000.00=0.0225",
            "90: 0.00/40000.00=0.0000",
        ],
        # On the loan book with nothing overdue: zeros (and the goal met).
        ("CREDIT_CARD", CNY): [
            "1: 0.00/11000.00=0.0000 met",
            "30: 0.00/11000.00=0.0000",
            "90: 0.00/11000.00=0.0000",
        ],
        ("CONSUMER_LOAN", USD): [
            "1: 0.00/5000.00=0.0000 met",
            "30: 0.00/5000.00=0.0000",
            "90: 0.00/5000.00=0.0000",
        ],
        # us-cards credit cards (D6) have no loan-book row: absent, not zero.
    },
}


async def test_overdue_rates_over_the_loan_book(migrated: AsyncEngine) -> None:
    await build(migrated)
    async with migrated.connect() as conn:
        observations = await observe(conn, FEB_MAR)
        for grouping, expected in OVERDUE.items():
            found = await overdue_rates(conn, observations, grouping, DEFAULT_GOALS)
            assert show_overdue(found) == expected, grouping


async def test_an_overdue_rate_just_under_the_goal_meets_it(migrated: AsyncEngine) -> None:
    await build(migrated)
    lb = tables.loan_book.c
    async with writing(migrated) as conn:
        await conn.execute(
            update(tables.loan_book)
            .where(lb.date == M, lb.product_type == "CREDIT_CARD", lb.currency == CNY)
            .values(principal=Decimal("11100.00"))
        )
    async with migrated.connect() as conn:
        found = await overdue_rates(conn, await observe(conn, FEB_MAR), None, DEFAULT_GOALS)
    # 2550 / 51100 = 0.049902: 0.0499, under 5%.
    assert show_overdue(found)[(None, CNY)][0] == "1: 2550.00/51100.00=0.0499 met"


async def test_each_portfolio_reads_its_own_latest_loan_book(migrated: AsyncEngine) -> None:
    """us-cards' credit cards join the loan book on 03-30, a day behind retail's 03-31: D6 (90
    days, 1000.00) now counts, over 5000.00 + 4000.00; by product, over its own 4000.00."""
    await build(migrated)
    async with writing(migrated) as conn:
        await conn.execute(
            insert(tables.loan_book).values(
                date=date(2026, 3, 30),
                portfolio="us-cards",
                product_type="CREDIT_CARD",
                currency=USD,
                principal=Decimal("4000.00"),
            )
        )
    async with migrated.connect() as conn:
        observations = await observe(conn, FEB_MAR)
        totals = await overdue_rates(conn, observations, None, DEFAULT_GOALS)
        by_product = await overdue_rates(conn, observations, Grouping.PRODUCT, DEFAULT_GOALS)
    # 1000 / 9000 = 0.11111; 1000 / 4000 = 0.25.
    assert show_overdue(totals) == {
        (None, CNY): RETAIL,
        (None, USD): [
            f"{t}: 1000.00/9000.00=0.1111{v}" for t, v in ((1, " not met"), (30, ""), (90, ""))
        ],
    }
    assert show_overdue(by_product)[("CREDIT_CARD", USD)] == [
        f"{t}: 1000.00/4000.00=0.2500{v}" for t, v in ((1, " not met"), (30, ""), (90, ""))
    ]


# ---- roll rates -------------------------------------------------------------------------------

# February (J → F), the debts delinquent at J and where they were at F:
#   a D1a M1 1000.00 → M2        b D2 M2 2000.00 → CURED      c D3 M4 3000.00 → WRITTEN_OFF
#   d D4  M3  800.00 → PAID      e D5 M1  400.00 → M2         (C4's write-off came after F's day)
#   f D6  M2 1200.00 → M2 (USD)  g D7 M1 600.00 → PAID (USD, balance 0)
#   l D10 M2  300.00 → WRITTEN_OFF (USD, the debt)             n D11 M1 250.00 → PAID (settled)
# March (F → M), those delinquent at F:
#   h D1a M2 1000.00 → M3        i D1b M1 500.00 → CURED      j D5 M2 400.00 → WRITTEN_OFF
#   k D6  M2 1200.00 → M3 (USD)
# CNY pooled: a b c d e h i j, 8 steps (the matrix and the cure rate). The loss rate counts each
# debt once, with its balance and key in its first month: a b c d e i (h is D1a again, j D5
# again), 7700.00. Written off: D3 3000.00 + D5 400.00 (rolled in March, its February balance) =
# 3400.00, net of recoveries 338.00 (D3) + 30.00 (D5): 3032.00 / 7700.00 = 0.39377. USD: f g k l
# n pooled; the loss rate's f g l n (k is D6 again), 2350.00; written off l 300.00 net of D10's
# 29.00: 271.00 / 2350.00 = 0.11532.
ROLLS_CNY = [
    "M1>M2 2/3=0.6667 1400.00/1900.00=0.7368",  # a e of a e i
    "M1>CURED 1/3=0.3333 500.00/1900.00=0.2632",
    "M2>M3 1/3=0.3333 1000.00/3400.00=0.2941",  # h of b h j
    "M2>CURED 1/3=0.3333 2000.00/3400.00=0.5882",
    "M2>WRITTEN_OFF 1/3=0.3333 400.00/3400.00=0.1176",
    "M3>PAID 1/1=1.0000 800.00/800.00=1.0000",
    "M4>WRITTEN_OFF 1/1=1.0000 3000.00/3000.00=1.0000",
    "cure 3/8=0.3750",  # b d i
    "loss 3032.00/7700.00=0.3938 not met",
]
ROLLS_USD = [
    "M1>PAID 2/2=1.0000 850.00/850.00=1.0000",  # g n
    "M2>M2 1/3=0.3333 1200.00/2700.00=0.4444",  # f of f k l
    "M2>M3 1/3=0.3333 1200.00/2700.00=0.4444",
    "M2>WRITTEN_OFF 1/3=0.3333 300.00/2700.00=0.1111",
    "cure 2/5=0.4000",
    "loss 271.00/2350.00=0.1153 met",  # D6's recovery: never written off
]
CONSUMER_USD = [  # g n
    "M1>PAID 2/2=1.0000 850.00/850.00=1.0000",
    "cure 2/2=1.0000",
    "loss 0.00/850.00=0.0000 met",
]
CARDS_USD = [  # f k l; the loss rate's f l: 1500.00; 271.00 / 1500.00 = 0.18067
    "M2>M2 1/3=0.3333 1200.00/2700.00=0.4444",
    "M2>M3 1/3=0.3333 1200.00/2700.00=0.4444",
    "M2>WRITTEN_OFF 1/3=0.3333 300.00/2700.00=0.1111",
    "cure 0/3=0.0000",
    "loss 271.00/1500.00=0.1807 met",
]
# Keys from each step's start row.
ROLLS: dict[Grouping | None, dict[GroupId, list[str]]] = {
    None: {(None, CNY): ROLLS_CNY, (None, USD): ROLLS_USD},
    Grouping.PORTFOLIO: {("retail", CNY): ROLLS_CNY, ("us-cards", USD): ROLLS_USD},
    Grouping.PRODUCT: {
        ("CONSUMER_LOAN", CNY): [  # a b d h; the loss rate's a b d: 3800.00
            "M1>M2 1/1=1.0000 1000.00/1000.00=1.0000",
            "M2>M3 1/2=0.5000 1000.00/3000.00=0.3333",
            "M2>CURED 1/2=0.5000 2000.00/3000.00=0.6667",
            "M3>PAID 1/1=1.0000 800.00/800.00=1.0000",
            "cure 2/4=0.5000",
            "loss 0.00/3800.00=0.0000 met",
        ],
        # c e i j; the loss rate's c e i: 3900.00; (3400.00 − 368.00) / 3900.00 = 0.77744
        ("CREDIT_CARD", CNY): [
            "M1>M2 1/2=0.5000 400.00/900.00=0.4444",
            "M1>CURED 1/2=0.5000 500.00/900.00=0.5556",
            "M2>WRITTEN_OFF 1/1=1.0000 400.00/400.00=1.0000",
            "M4>WRITTEN_OFF 1/1=1.0000 3000.00/3000.00=1.0000",
            "cure 1/4=0.2500",
            "loss 3032.00/3900.00=0.7774 not met",
        ],
        ("CONSUMER_LOAN", USD): CONSUMER_USD,
        ("CREDIT_CARD", USD): CARDS_USD,
    },
    Grouping.CLASSIFICATION: {
        # a (10 days) e (15) i (5 at F), each in its first month: 1900.00. D5 (e) was written
        # off in March (j, MODERATE then): its loss counts under its first key, (400.00 − 30.00)
        # / 1900.00 = 0.19474.
        ("MILD", CNY): [
            "M1>M2 2/3=0.6667 1400.00/1900.00=0.7368",
            "M1>CURED 1/3=0.3333 500.00/1900.00=0.2632",
            "cure 1/3=0.3333",
            "loss 370.00/1900.00=0.1947 met",
        ],
        ("MODERATE", CNY): [  # b (45) d (70) h (38) j (45); the loss rate's b d: 2800.00
            "M2>M3 1/3=0.3333 1000.00/3400.00=0.2941",
            "M2>CURED 1/3=0.3333 2000.00/3400.00=0.5882",
            "M2>WRITTEN_OFF 1/3=0.3333 400.00/3400.00=0.1176",
            "M3>PAID 1/1=1.0000 800.00/800.00=1.0000",
            "cure 2/4=0.5000",
            "loss 0.00/2800.00=0.0000 met",
        ],
        ("SERIOUS", CNY): [  # c (100): (3000.00 − 338.00) / 3000.00 = 0.88733
            "M4>WRITTEN_OFF 1/1=1.0000 3000.00/3000.00=1.0000",
            "cure 0/1=0.0000",
            "loss 2662.00/3000.00=0.8873 not met",
        ],
        ("MILD", USD): CONSUMER_USD,  # g (5) n (8)
        ("MODERATE", USD): CARDS_USD,  # f (31) k (59) l (40)
    },
    Grouping.TEAM: {
        ("Alpha", CNY): [  # a c e h i j; the loss rate's a c e i: 4900.00; 3032.00 / 4900.00
            "M1>M2 2/3=0.6667 1400.00/1900.00=0.7368",
            "M1>CURED 1/3=0.3333 500.00/1900.00=0.2632",
            "M2>M3 1/2=0.5000 1000.00/1400.00=0.7143",
            "M2>WRITTEN_OFF 1/2=0.5000 400.00/1400.00=0.2857",
            "M4>WRITTEN_OFF 1/1=1.0000 3000.00/3000.00=1.0000",
            "cure 1/6=0.1667",
            "loss 3032.00/4900.00=0.6188 not met",
        ],
        ("Beta", CNY): [  # b (C2 was beta's at J) d: 2800.00
            "M2>CURED 1/1=1.0000 2000.00/2000.00=1.0000",
            "M3>PAID 1/1=1.0000 800.00/800.00=1.0000",
            "cure 2/2=1.0000",
            "loss 0.00/2800.00=0.0000 met",
        ],
        ("Beta", USD): CONSUMER_USD,  # g n
        (None, USD): CARDS_USD,  # f k l: C6 and C10 are nobody's
    },
    Grouping.AGENCY: {
        (None, CNY): ROLLS_CNY,  # C2 was placed only after J
        (AGENCY, USD): [  # f k, D6 both: the loss rate's f, 1200.00
            "M2>M2 1/2=0.5000 1200.00/2400.00=0.5000",
            "M2>M3 1/2=0.5000 1200.00/2400.00=0.5000",
            "cure 0/2=0.0000",
            "loss 0.00/1200.00=0.0000 met",
        ],
        (None, USD): [  # g l n: 1150.00; 271.00 / 1150.00 = 0.23565
            "M1>PAID 2/2=1.0000 850.00/850.00=1.0000",
            "M2>WRITTEN_OFF 1/1=1.0000 300.00/300.00=1.0000",
            "cure 2/3=0.6667",
            "loss 271.00/1150.00=0.2357 not met",
        ],
    },
    Grouping.VARIANT: {
        # a c h i; the loss rate's a c i: 4500.00; (3000.00 − 338.00) / 4500.00 = 0.59156
        ("STANDARD/CHAMPION", CNY): [
            "M1>M2 1/2=0.5000 1000.00/1500.00=0.6667",
            "M1>CURED 1/2=0.5000 500.00/1500.00=0.3333",
            "M2>M3 1/1=1.0000 1000.00/1000.00=1.0000",
            "M4>WRITTEN_OFF 1/1=1.0000 3000.00/3000.00=1.0000",
            "cure 1/4=0.2500",
            "loss 2662.00/4500.00=0.5916 not met",
        ],
        # b e j; the loss rate's b e: 2400.00; (400.00 − 30.00) / 2400.00 = 0.15417
        ("STANDARD/CHALLENGER", CNY): [
            "M1>M2 1/1=1.0000 400.00/400.00=1.0000",
            "M2>CURED 1/2=0.5000 2000.00/2400.00=0.8333",
            "M2>WRITTEN_OFF 1/2=0.5000 400.00/2400.00=0.1667",
            "cure 1/3=0.3333",
            "loss 370.00/2400.00=0.1542 met",
        ],
        (None, CNY): [  # d
            "M3>PAID 1/1=1.0000 800.00/800.00=1.0000",
            "cure 1/1=1.0000",
            "loss 0.00/800.00=0.0000 met",
        ],
        (None, USD): ROLLS_USD,
    },
}


async def test_roll_rates_of_two_months_pooled_in_every_grouping(migrated: AsyncEngine) -> None:
    await build(migrated)
    async with migrated.connect() as conn:
        observations = await observe(conn, FEB_MAR)
        assert observations.months == ((J, F), (F, M))
        for grouping, expected in ROLLS.items():
            found = await rolls(conn, observations, grouping, everything(), DEFAULT_GOALS)
            assert show_rolls(found) == expected, grouping


async def test_one_month_reads_its_own_step_and_recoveries(migrated: AsyncEngine) -> None:
    """March alone: h i j k (at F, D10 was written off and D11 current). D3 rolled to WRITTEN_OFF
    in February, outside this population, so its March recoveries do not count; D5's does."""
    await build(migrated)
    async with migrated.connect() as conn:
        observations = await observe(conn, MARCH)
        found = await rolls(conn, observations, None, everything(), DEFAULT_GOALS)
    assert observations.months == ((F, M),)
    assert show_rolls(found) == {
        (None, CNY): [  # h i j: 1900.00; (400.00 − 30.00) / 1900.00 = 0.19474
            "M1>CURED 1/1=1.0000 500.00/500.00=1.0000",
            "M2>M3 1/2=0.5000 1000.00/1400.00=0.7143",
            "M2>WRITTEN_OFF 1/2=0.5000 400.00/1400.00=0.2857",
            "cure 1/3=0.3333",
            "loss 370.00/1900.00=0.1947 met",
        ],
        (None, USD): [
            "M2>M3 1/1=1.0000 1200.00/1200.00=1.0000",
            "cure 0/1=0.0000",
            "loss 0.00/1200.00=0.0000 met",
        ],
    }


# A debt gone from a month's end run went where its case's closure says. D4 (M3, 800.00) left
# between J and F, and C4's write-off came only after F's day: its closure decides, if the case
# was closed by the end of F's day in Shanghai (2026-02-28 16:00 UTC). As PAID (the fixture has
# no closure) the CNY totals are ROLLS_CNY's. As WRITTEN_OFF: cure (b i) 2/8, loss (3400.00 +
# 800.00 − 368.00) / 7700.00 = 0.49766. A write-off by then comes first: C3, closed PAID_IN_FULL
# the day after its write-off of 02-20, is still written off.
D3_LOST = "M4>WRITTEN_OFF 1/1=1.0000 3000.00/3000.00=1.0000"
D4_PAID = "M3>PAID 1/1=1.0000 800.00/800.00=1.0000"
AS_IN_THE_FIXTURE = [D4_PAID, D3_LOST, "cure 3/8=0.3750", "loss 3032.00/7700.00=0.3938 not met"]
D4_LOST = [
    "M3>WRITTEN_OFF 1/1=1.0000 800.00/800.00=1.0000",
    D3_LOST,
    "cure 2/8=0.2500",
    "loss 3832.00/7700.00=0.4977 not met",
]
BY_CLOSURE = [
    ("C4", "PAID_IN_FULL", utc(2026, 2, 25), AS_IN_THE_FIXTURE),
    ("C4", "SETTLED", utc(2026, 2, 25), AS_IN_THE_FIXTURE),
    (
        "C4",
        "CURED",
        utc(2026, 2, 25),
        ["M3>CURED 1/1=1.0000 800.00/800.00=1.0000", *AS_IN_THE_FIXTURE[1:]],
    ),
    ("C4", "UNCOLLECTIBLE", utc(2026, 2, 25), D4_LOST),
    ("C4", "DEBT_SOLD", utc(2026, 2, 28, 15, 59, 59), D4_LOST),  # 23:59:59 on F's day
    ("C4", "UNCOLLECTIBLE", utc(2026, 2, 28, 16), AS_IN_THE_FIXTURE),  # the next day's midnight
    ("C3", "PAID_IN_FULL", utc(2026, 2, 21), AS_IN_THE_FIXTURE),
]


@pytest.mark.parametrize(
    ("case_name", "reason", "closed_at", "expected"),
    BY_CLOSURE,
    ids=[f"{name}-{reason}-{at:%m%d%H%M}" for name, reason, at, _ in BY_CLOSURE],
)
async def test_a_debt_gone_from_the_end_run_went_where_its_closure_says(
    migrated: AsyncEngine, case_name: str, reason: str, closed_at: datetime, expected: list[str]
) -> None:
    book = await build(migrated)
    async with writing(migrated) as conn:
        await conn.execute(
            update(tables.cases)
            .where(tables.cases.c.id == book.cases[case_name])
            .values(close_reason=reason, closed_at=closed_at)
        )
    async with migrated.connect() as conn:
        found = await rolls(conn, await observe(conn, FEB_MAR), None, everything(), DEFAULT_GOALS)
    shown = show_rolls(found)[(None, CNY)]
    assert [line for line in shown if line.startswith(("M3>", "M4>", "cure", "loss"))] == expected


async def test_a_case_out_of_scope_is_in_no_figure(migrated: AsyncEngine) -> None:
    """Without C1 (D1a, D1b): its rows leave numerators and denominators alike."""
    book = await build(migrated)
    hidden = tables.cases.c.id != book.cases["C1"]
    async with migrated.connect() as conn:
        observations = await observe(conn, FEB_MAR)
        found_aging = await aging(conn, observations, None, hidden)
        found_rolls = await rolls(conn, observations, None, hidden, DEFAULT_GOALS)
    assert show_aging(found_aging) == {
        (None, CNY): ["M1 2 1750.00"],  # C2, C9
        (None, USD): ["M0 1 700.00", "M3 1 1100.00"],
    }
    assert show_rolls(found_rolls) == {
        # b c d e j; the loss rate's b c d e: 6200.00; (3400.00 − 368.00) / 6200.00 = 0.48903
        (None, CNY): [
            "M1>M2 1/1=1.0000 400.00/400.00=1.0000",
            "M2>CURED 1/2=0.5000 2000.00/2400.00=0.8333",
            "M2>WRITTEN_OFF 1/2=0.5000 400.00/2400.00=0.1667",
            "M3>PAID 1/1=1.0000 800.00/800.00=1.0000",
            "M4>WRITTEN_OFF 1/1=1.0000 3000.00/3000.00=1.0000",
            "cure 2/5=0.4000",
            "loss 3032.00/6200.00=0.4890 not met",
        ],
        (None, USD): ROLLS_USD,
    }


async def test_without_a_completed_run_there_is_no_position(migrated: AsyncEngine) -> None:
    """Snapshots and a loan book, but the only run never finished: nothing to report."""
    await build(migrated)
    async with writing(migrated) as conn:
        await conn.execute(tables.daily_runs.delete())
    await add_runs(migrated, F, finished=False)
    async with migrated.connect() as conn:
        observations = await observe(conn, FEB_MAR)
        assert await aging(conn, observations, None, everything()) == {}
        assert await overdue_rates(conn, observations, None, DEFAULT_GOALS) == {}
        assert await rolls(conn, observations, None, everything(), DEFAULT_GOALS) == {}


# ---- the statement count ------------------------------------------------------------------------


async def _add_cases(engine: AsyncEngine, first: int, count: int, team_lead: int) -> None:
    """``count`` retail cases with one debt each, delinquent at J, F and M."""
    factory = Factory(engine)
    borrowers = [(await factory.borrower()).id for _ in range(count)]
    async with writing(engine) as conn:
        for n, borrower in enumerate(borrowers, start=first):
            case_id = (
                await conn.execute(
                    insert(tables.cases).values(
                        reference=f"RC-{n}",
                        borrower_id=borrower,
                        portfolio="retail",
                        currency=CNY,
                        opened_on=date(2025, 6, 1),
                        status="OPEN",
                        stage="COLLECTION",
                        days_past_due=0,
                        bucket="M0",
                        classification="CURRENT",
                        policy_version="2026.1",
                        outstanding_amount=Decimal("0.00"),
                        version=1,
                    )
                )
            ).inserted_primary_key
            assert case_id is not None
            debt_id = (
                await conn.execute(
                    insert(tables.debts).values(
                        case_id=case_id[0],
                        borrower_id=borrower,
                        account_number=f"RC{n}",
                        product_type="CONSUMER_LOAN",
                        currency=CNY,
                        principal=Decimal("1000.00"),
                        interest=Decimal("0.00"),
                        penalty=Decimal("0.00"),
                        fee=Decimal("0.00"),
                        opened_on=date(2025, 6, 1),
                        status="DELINQUENT",
                        paused_days=0,
                    )
                )
            ).inserted_primary_key
            assert debt_id is not None
            for run, dpd in ((J, 10 + n), (F, 40 + n), (M, 70 + n)):
                bucket, classification = classify(dpd)
                await conn.execute(
                    insert(tables.debt_snapshots).values(
                        debt_id=debt_id[0],
                        as_of=run,
                        case_id=case_id[0],
                        portfolio="retail",
                        product_type="CONSUMER_LOAN",
                        currency=CNY,
                        balance=Decimal("100.00"),
                        principal=Decimal("100.00"),
                        days_past_due=dpd,
                        bucket=bucket,
                        classification=classification,
                        status="DELINQUENT",
                        assignee_id=team_lead if n % 2 else None,
                    )
                )


async def test_the_statement_count_does_not_grow_with_the_cases(migrated: AsyncEngine) -> None:
    collector = (await Factory(migrated).staff(team="Alpha")).id
    await add_runs(migrated, J, F, M)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    async def positions() -> tuple[int, int]:
        """The statements of the three figures by team (keys through subqueries), and the
        debts the roll rates saw."""
        async with migrated.connect() as conn:
            observations = await observe(conn, FEB_MAR)
            statements.clear()
            event.listen(migrated.sync_engine, "before_cursor_execute", count)
            try:
                await aging(conn, observations, Grouping.TEAM, everything())
                await overdue_rates(conn, observations, Grouping.PRODUCT, DEFAULT_GOALS)
                found = await rolls(conn, observations, Grouping.TEAM, everything(), DEFAULT_GOALS)
            finally:
                event.remove(migrated.sync_engine, "before_cursor_execute", count)
        return len(statements), sum(int(g.cure_rate.denominator) for g in found.values())

    await _add_cases(migrated, 0, 3, collector)
    assert await positions() == (3, 6)  # one statement each; 3 debts × 2 months
    await _add_cases(migrated, 3, 27, collector)
    assert await positions() == (3, 60)
