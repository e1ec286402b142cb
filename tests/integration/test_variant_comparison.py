"""Champion against challenger on a hand-built book: the cohort (cases delinquent under STANDARD
at the opening run), each case's figures worked out by hand below, and every metric's values,
difference and 95% interval computed here from those figures with the formulas written out
(math, the normal quantile from the standard library), to the fourth decimal.

The period is June 2026. Runs (finished): 05-31 (the opening), 06-10, 06-30 (the closing).
Agencies: Alpha 0.1500, Beta 0.2000 (no tail), Gamma 0.1000 with a 15-day tail. Retail cases
are CNY in Asia/Shanghai (UTC+8): a payment at 02:00Z is on the same local day.

  case  variant     delinquent at the   agency per run     payments (local day; run; earner)
                    opening (y)
  C1    CHAMPION    C1a 10000.00 (C1b   -, Alpha, Alpha    C1a 3000.00 06-05 (05-31, none),
                    5000.00 current)                       C1a 1000.00 06-20 (06-10, Alpha);
                                                           C1b 500.00 06-08 (none): not in x
  C2    CHAMPION    20000.00            -, Alpha, Alpha    2000.00 06-15 (Alpha); 500.00 06-16
                                                           reversed 06-18: not counted
  C3    CHAMPION     8000.00            -, -, (absent)     6000.00 06-25 (none), closed SETTLED
  C4    CHAMPION    12000.00            -, Beta, Beta      6000.00 06-25 (06-10, Beta)
  C5    CHAMPION     3000.00            -, -, (absent)     none; closed UNCOLLECTIBLE
  C6    CHAMPION     4000.00            Gamma, -, -        2000.00 06-12 (recalled at the 06-10
                                                           run, 2 days before: Gamma's tail),
                                                           1000.00 06-28 (18 days after: none)
  C7    CHAMPION     1000.00            -, -, (absent)     800.00 06-20 (none) reversed 07-02:
                                                           counted; closed SETTLED in June,
                                                           reopened by that reversal (no reason
                                                           now), written off 07-03
  K1    CHALLENGER  10000.00            Alpha, Beta, Beta  5000.00 06-05 (05-31, Alpha),
                                                           2500.00 06-20 (Beta), 700.00 06-21
                                                           reversed 07-05: counted (Beta)
  K2    CHALLENGER  25000.00            -, -, -            1000.00 06-01 00:30 local
                                                           (05-31 16:30Z); 999.00 05-31 23:30
                                                           local: before the period
  K3    CHALLENGER   6000.00            -, -, -            none
  K4    CHALLENGER   4000.00            -, -, (absent)     1500.00 06-05 (none); closed DEBT_SOLD
  K5    CHALLENGER   2000.00            -, -, (absent)     written off 06-15, then 1200.00 06-25
                                                           (none), closed SETTLED
  K6    CHALLENGER   5000.00            -, -, -            5000.00 06-22 (none); written off
                                                           06-05, CLOSED at the closing
  Not in the cohort:
  E1    CHALLENGER from 06-10 only: 9999.00 and a complaint in June
  E2    strategy OTHER at the opening: 4444.00
  E3    CHAMPION, current (0 days past due) at the opening: 777.00 and a complaint in June
  E4    CHALLENGER, CLOSED by a cure and watched at the opening: a complaint in June
  E5    CHAMPION, written off at the opening: a recovery of 333.00 in June

Closing (06-30): C1 both debts 0 days past due (cured), C2 75 (not), C3 no snapshot and closed
SETTLED (cured), C4 CLOSED (cured), C5 no snapshot and closed UNCOLLECTIBLE (not), C6 0 (cured),
C7 no snapshot, no close reason now and its write-off after the period (cured); K1 10 (not), K2 0
(cured), K3 30 (not), K4 no snapshot and DEBT_SOLD (not), K5 no snapshot and written off in June
(not, settled or not), K6 CLOSED but written off (not). Complaints filed in June: C1 one, C4
two, K2 one; C3's of 05-20 and of 07-01 00:30 local (06-30 16:30Z) are outside.

Per case (x recovered on its delinquent debts, y opening balance, r collected on the case, c
commission, cured, complaints):
  C1 (4000, 10000, 4500, 150, 1, 1)  C2 (2000, 20000, 2000, 300, 0, 0)
  C3 (6000, 8000, 6000, 0, 1, 0)     C4 (6000, 12000, 6000, 1200, 1, 2)
  C5 (0, 3000, 0, 0, 0, 0)           C6 (3000, 4000, 3000, 200, 1, 0)
  C7 (800, 1000, 800, 0, 1, 0)
  K1 (8200, 10000, 8200, 1390 = 0.15 × 5000 + 0.20 × 3200, 0, 0)
  K2 (1000, 25000, 1000, 0, 1, 1)    K3 (0, 6000, 0, 0, 0, 0)
  K4 (1500, 4000, 1500, 0, 0, 0)     K5 (1200, 2000, 1200, 0, 0, 0)
  K6 (5000, 5000, 5000, 0, 0, 0)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from statistics import NormalDist
from typing import Any

from sqlalchemy import ColumnElement, event, insert, select, true, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.reports.model import Period, VariantComparison
from store import tables
from store.report_basis import observe
from store.variant_queries import variant_comparison
from tests.factories import writing

JUNE = Period(date(2026, 6, 1), date(2026, 6, 30))
OPENING, MIDDLE, CLOSING = date(2026, 5, 31), date(2026, 6, 10), date(2026, 6, 30)
RUNS = (OPENING, MIDDLE, CLOSING)
Z = NormalDist().inv_cdf(0.975)
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Case:
    """A case's figures as worked out by hand (money in major units): x, y, r, c, cured,
    complaints."""

    recovered: float
    balance: float
    collected: float
    commission: float
    cured: int
    complaints: int


CHAMPION = {
    "C1": Case(4000, 10000, 4500, 150, 1, 1),
    "C2": Case(2000, 20000, 2000, 300, 0, 0),
    "C3": Case(6000, 8000, 6000, 0, 1, 0),
    "C4": Case(6000, 12000, 6000, 1200, 1, 2),
    "C5": Case(0, 3000, 0, 0, 0, 0),
    "C6": Case(3000, 4000, 3000, 200, 1, 0),
    "C7": Case(800, 1000, 800, 0, 1, 0),
}
CHALLENGER = {
    "K1": Case(8200, 10000, 8200, 1390, 0, 0),
    "K2": Case(1000, 25000, 1000, 0, 1, 1),
    "K3": Case(0, 6000, 0, 0, 0, 0),
    "K4": Case(1500, 4000, 1500, 0, 0, 0),
    "K5": Case(1200, 2000, 1200, 0, 0, 0),
    "K6": Case(5000, 5000, 5000, 0, 0, 0),
}


# ---- the figures by hand ------------------------------------------------------------------------


def q(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


def ratio_of_means(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    """R = Σx / Σy and var(R) = Σ(x − R·y)² / (n(n − 1)·ȳ²)."""
    n = len(pairs)
    r = sum(x for x, _ in pairs) / sum(y for _, y in pairs)
    mean_y = sum(y for _, y in pairs) / n
    return r, sum((x - r * y) ** 2 for x, y in pairs) / (n * (n - 1) * mean_y**2)


def proportion(cases: list[Case]) -> tuple[float, float]:
    """p = cured / n and var(p) = p(1 − p) / n."""
    p = sum(c.cured for c in cases) / len(cases)
    return p, p * (1 - p) / len(cases)


def per_1000(cases: list[Case]) -> tuple[float, float]:
    """1000·k / n and 1000²·k / n² (k Poisson)."""
    k, n = sum(c.complaints for c in cases), len(cases)
    return 1000 * k / n, 1000**2 * k / n**2


def expected(metric: str, first: tuple[float, float], second: tuple[float, float]) -> list[Any]:
    difference = second[0] - first[0]
    half = Z * math.sqrt(first[1] + second[1])
    return [
        metric,
        q(first[0]),
        q(second[0]),
        q(difference),
        q(difference - half),
        q(difference + half),
    ]


def by_hand(champion: list[Case], challenger: list[Case]) -> list[list[Any]]:
    def recovery(cases: list[Case]) -> tuple[float, float]:
        return ratio_of_means([(c.recovered, c.balance) for c in cases])

    def cost(cases: list[Case]) -> tuple[float, float]:
        return ratio_of_means([(c.commission, c.collected) for c in cases])

    return [
        expected("recoveryRate", recovery(champion), recovery(challenger)),
        expected("cureRate", proportion(champion), proportion(challenger)),
        expected("costOfCollection", cost(champion), cost(challenger)),
        expected("complaintsPer1000", per_1000(champion), per_1000(challenger)),
    ]


def rows(result: list[VariantComparison]) -> list[list[Any]]:
    return [
        [
            r.metric,
            r.champion,
            r.challenger,
            r.difference,
            r.confidence_low,
            r.confidence_high,
        ]
        for r in result
    ]


# ---- the book -----------------------------------------------------------------------------------


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def _insert(conn: Any, table: Any, **values: Any) -> int:
    result = await conn.execute(insert(table).values(**values))
    return int(result.inserted_primary_key[0])


@dataclass
class Book:
    engine: AsyncEngine
    conn: Any
    alpha: int
    beta: int
    cases: dict[str, int]
    debts: dict[str, int]

    async def case(
        self,
        name: str,
        *debts: str,
        portfolio: str = "retail",
        status: str = "OPEN",
        close_reason: str | None = None,
    ) -> None:
        currency = "USD" if portfolio == "us-cards" else "CNY"
        n = next(_numbers)
        borrower = await _insert(
            self.conn,
            tables.borrowers,
            full_name=f"借款人{n}",
            national_id=f"31011519900101{n:04d}",
            phone=f"1990000{n:04d}",
            email=f"v{n}@example.org",
            address="上海市浦东新区测试路1号",
            city="上海市",
            district="浦东新区",
            employer="测试科技有限公司",
            income=Decimal("12000.00"),
            income_currency="CNY",
            time_zone="Asia/Shanghai",
        )
        case_id = await _insert(
            self.conn,
            tables.cases,
            reference=f"VC-{name}-{n}",
            borrower_id=borrower,
            portfolio=portfolio,
            currency=currency,
            opened_on=date(2025, 1, 1),
            status=status,
            close_reason=close_reason,
            stage="COLLECTION",
            days_past_due=30,
            bucket="M1",
            classification="MILD",
            policy_version="2026.1",
            outstanding_amount=Decimal("1000.00"),
            version=1,
        )
        self.cases[name] = case_id
        for debt in debts or (f"{name}a",):
            self.debts[debt] = await _insert(
                self.conn,
                tables.debts,
                case_id=case_id,
                borrower_id=borrower,
                account_number=f"VC-{debt}-{n}",
                product_type="CONSUMER_LOAN",
                currency=currency,
                principal=Decimal("1000.00"),
                interest=Decimal("0.00"),
                penalty=Decimal("0.00"),
                fee=Decimal("0.00"),
                opened_on=date(2025, 1, 1),
                status="DELINQUENT",
                paused_days=0,
            )

    async def snapshot(
        self,
        debt: str,
        as_of: date,
        *,
        balance: str,
        dpd: int,
        variant: str,
        agency: int | None = None,
        strategy: str = "STANDARD",
        case_status: str = "OPEN",
        case_stage: str = "COLLECTION",
        status: str | None = None,
    ) -> None:
        row = (
            await self.conn.execute(
                select(tables.debts.c.case_id, tables.cases.c.portfolio, tables.cases.c.currency)
                .join(tables.cases, tables.cases.c.id == tables.debts.c.case_id)
                .where(tables.debts.c.id == self.debts[debt])
            )
        ).one()
        await self.conn.execute(
            insert(tables.debt_snapshots).values(
                debt_id=self.debts[debt],
                as_of=as_of,
                case_id=row.case_id,
                portfolio=row.portfolio,
                product_type="CONSUMER_LOAN",
                currency=row.currency,
                balance=Decimal(balance),
                principal=Decimal(balance),
                days_past_due=dpd,
                bucket="M1" if dpd else "M0",
                classification="MILD" if dpd else "CURRENT",
                status=status or ("DELINQUENT" if dpd else "CURRENT"),
                agency_id=agency,
                strategy=strategy,
                strategy_version="2026.1",
                variant=variant,
                case_status=case_status,
                case_stage=case_stage,
            )
        )

    async def payment(
        self, debt: str, amount: str, paid_at: str, *, reversed_at: str | None = None
    ) -> None:
        row = (
            await self.conn.execute(
                select(tables.debts.c.case_id, tables.debts.c.currency).where(
                    tables.debts.c.id == self.debts[debt]
                )
            )
        ).one()
        await _insert(
            self.conn,
            tables.payments,
            case_id=row.case_id,
            debt_id=self.debts[debt],
            amount=Decimal(amount),
            currency=row.currency,
            paid_at=_utc(paid_at),
            reference=f"VC-PAY-{next(_numbers)}",
            source="FEED",
            created_at=_utc(paid_at),
            reversed=reversed_at is not None,
            reversed_at=_utc(reversed_at) if reversed_at else None,
            version=1,
        )

    async def write_off(self, case: str, amount: str, written_off_at: str) -> None:
        await _insert(
            self.conn,
            tables.write_offs,
            case_id=self.cases[case],
            source="CHARGE_OFF",
            reason_code="CHARGED_OFF",
            amount=Decimal(amount),
            currency="CNY",
            written_off_at=_utc(written_off_at),
        )

    async def complaint(self, case: str, filed_at: str) -> None:
        borrower = (
            await self.conn.execute(
                select(tables.cases.c.borrower_id).where(tables.cases.c.id == self.cases[case])
            )
        ).scalar_one()
        await _insert(
            self.conn,
            tables.complaints,
            case_id=self.cases[case],
            borrower_id=borrower,
            kind="COMPLAINT",
            channel="PHONE",
            written=False,
            description="…",
            status="OPEN",
            filed_at=_utc(filed_at),
            version=1,
        )


async def _book(engine: AsyncEngine) -> dict[str, int]:
    """Writes the book of the module docstring; returns the cases' ids by name."""
    async with writing(engine) as conn:
        agency = {"placement_days": 60, "active": True, "tail_days": 0}
        alpha = await _insert(
            conn, tables.agencies, name="Alpha", commission_rate=Decimal("0.1500"), **agency
        )
        beta = await _insert(
            conn, tables.agencies, name="Beta", commission_rate=Decimal("0.2000"), **agency
        )
        gamma = await _insert(
            conn,
            tables.agencies,
            name="Gamma",
            commission_rate=Decimal("0.1000"),
            **{**agency, "tail_days": 15},
        )
        for as_of in RUNS:
            started = datetime.combine(as_of, datetime.min.time(), UTC)
            await conn.execute(
                insert(tables.daily_runs).values(
                    as_of=as_of, started_at=started, finished_at=started, summary={}
                )
            )
        b = Book(engine, conn, alpha, beta, {}, {})
        champion, challenger = "CHAMPION", "CHALLENGER"
        await b.case("C1", "C1a", "C1b")
        await b.snapshot("C1a", OPENING, balance="10000.00", dpd=40, variant=champion)
        await b.snapshot("C1b", OPENING, balance="5000.00", dpd=0, variant=champion)
        for debt in ("C1a", "C1b"):
            await b.snapshot(
                debt, MIDDLE, balance="4000.00", dpd=50, variant=champion, agency=alpha
            )
            await b.snapshot(
                debt, CLOSING, balance="3000.00", dpd=0, variant=champion, agency=alpha
            )
        await b.payment("C1a", "3000.00", "2026-06-05T02:00")
        await b.payment("C1a", "1000.00", "2026-06-20T02:00")
        await b.payment("C1b", "500.00", "2026-06-08T02:00")
        await b.complaint("C1", "2026-06-12T02:00")

        await b.case("C2")
        await b.snapshot("C2a", OPENING, balance="20000.00", dpd=45, variant=champion)
        await b.snapshot("C2a", MIDDLE, balance="19000.00", dpd=55, variant=champion, agency=alpha)
        await b.snapshot("C2a", CLOSING, balance="18000.00", dpd=75, variant=champion, agency=alpha)
        await b.payment("C2a", "2000.00", "2026-06-15T02:00")
        await b.payment("C2a", "500.00", "2026-06-16T02:00", reversed_at="2026-06-18T02:00")

        await b.case("C3", status="CLOSED", close_reason="SETTLED")
        await b.snapshot("C3a", OPENING, balance="8000.00", dpd=20, variant=champion)
        await b.snapshot("C3a", MIDDLE, balance="8000.00", dpd=30, variant=champion)
        await b.payment("C3a", "6000.00", "2026-06-25T02:00")
        await b.complaint("C3", "2026-05-20T02:00")
        await b.complaint("C3", "2026-06-30T16:30")

        await b.case("C4")
        await b.snapshot("C4a", OPENING, balance="12000.00", dpd=10, variant=champion)
        await b.snapshot("C4a", MIDDLE, balance="12000.00", dpd=20, variant=champion, agency=beta)
        await b.snapshot(
            "C4a",
            CLOSING,
            balance="6000.00",
            dpd=0,
            variant=champion,
            agency=beta,
            case_status="CLOSED",
        )
        await b.payment("C4a", "6000.00", "2026-06-25T02:00")
        await b.complaint("C4", "2026-06-02T02:00")
        await b.complaint("C4", "2026-06-29T02:00")

        await b.case("C5", status="CLOSED", close_reason="UNCOLLECTIBLE")
        await b.snapshot("C5a", OPENING, balance="3000.00", dpd=100, variant=champion)
        await b.snapshot("C5a", MIDDLE, balance="3000.00", dpd=110, variant=champion)

        await b.case("C6")
        await b.snapshot("C6a", OPENING, balance="4000.00", dpd=25, variant=champion, agency=gamma)
        await b.snapshot("C6a", MIDDLE, balance="4000.00", dpd=35, variant=champion)
        await b.snapshot("C6a", CLOSING, balance="1000.00", dpd=0, variant=champion)
        await b.payment("C6a", "2000.00", "2026-06-12T02:00")
        await b.payment("C6a", "1000.00", "2026-06-28T02:00")

        await b.case("C7")
        await b.snapshot("C7a", OPENING, balance="1000.00", dpd=15, variant=champion)
        await b.snapshot("C7a", MIDDLE, balance="1000.00", dpd=25, variant=champion)
        await b.payment("C7a", "800.00", "2026-06-20T02:00", reversed_at="2026-07-02T02:00")
        await b.write_off("C7", "1000.00", "2026-07-03T02:00")

        await b.case("K1")
        await b.snapshot(
            "K1a", OPENING, balance="10000.00", dpd=35, variant=challenger, agency=alpha
        )
        await b.snapshot("K1a", MIDDLE, balance="5000.00", dpd=45, variant=challenger, agency=beta)
        await b.snapshot("K1a", CLOSING, balance="1800.00", dpd=10, variant=challenger, agency=beta)
        await b.payment("K1a", "5000.00", "2026-06-05T02:00")
        await b.payment("K1a", "2500.00", "2026-06-20T02:00")
        await b.payment("K1a", "700.00", "2026-06-21T02:00", reversed_at="2026-07-05T02:00")

        await b.case("K2")
        await b.snapshot("K2a", OPENING, balance="25000.00", dpd=60, variant=challenger)
        await b.snapshot("K2a", MIDDLE, balance="24000.00", dpd=70, variant=challenger)
        await b.snapshot("K2a", CLOSING, balance="24000.00", dpd=0, variant=challenger)
        await b.payment("K2a", "1000.00", "2026-05-31T16:30")
        await b.payment("K2a", "999.00", "2026-05-31T15:30")
        await b.complaint("K2", "2026-06-03T02:00")

        await b.case("K3")
        for as_of, dpd in zip(RUNS, (15, 25, 30), strict=True):
            await b.snapshot("K3a", as_of, balance="6000.00", dpd=dpd, variant=challenger)

        await b.case("K4", status="CLOSED", close_reason="DEBT_SOLD")
        await b.snapshot("K4a", OPENING, balance="4000.00", dpd=120, variant=challenger)
        await b.snapshot("K4a", MIDDLE, balance="2500.00", dpd=130, variant=challenger)
        await b.payment("K4a", "1500.00", "2026-06-05T02:00")

        await b.case("K5", status="CLOSED", close_reason="SETTLED")
        await b.snapshot("K5a", OPENING, balance="2000.00", dpd=150, variant=challenger)
        await b.snapshot("K5a", MIDDLE, balance="2000.00", dpd=160, variant=challenger)
        await b.write_off("K5", "2000.00", "2026-06-15T02:00")
        await b.payment("K5a", "1200.00", "2026-06-25T02:00")

        await b.case("K6", status="CLOSED", close_reason="PAID_IN_FULL")
        await b.snapshot("K6a", OPENING, balance="5000.00", dpd=200, variant=challenger)
        await b.snapshot(
            "K6a",
            MIDDLE,
            balance="5000.00",
            dpd=210,
            variant=challenger,
            case_stage="WRITTEN_OFF",
            status="WRITTEN_OFF",
        )
        await b.snapshot(
            "K6a",
            CLOSING,
            balance="0.00",
            dpd=0,
            variant=challenger,
            case_status="CLOSED",
            case_stage="WRITTEN_OFF",
            status="WRITTEN_OFF",
        )
        await b.write_off("K6", "5000.00", "2026-06-05T02:00")
        await b.payment("K6a", "5000.00", "2026-06-22T02:00")

        await b.case("E1")
        for as_of in (MIDDLE, CLOSING):
            await b.snapshot("E1a", as_of, balance="9000.00", dpd=90, variant=challenger)
        await b.payment("E1a", "9999.00", "2026-06-12T02:00")
        await b.complaint("E1", "2026-06-12T02:00")

        await b.case("E2")
        await b.snapshot(
            "E2a", OPENING, balance="7000.00", dpd=90, variant=champion, strategy="OTHER"
        )
        await b.payment("E2a", "4444.00", "2026-06-12T02:00")

        await b.case("E3")
        for as_of in RUNS:
            await b.snapshot("E3a", as_of, balance="3000.00", dpd=0, variant=champion)
        await b.payment("E3a", "777.00", "2026-06-12T02:00")
        await b.complaint("E3", "2026-06-12T02:00")

        await b.case("E4", status="CLOSED", close_reason="CURED")
        await b.snapshot(
            "E4a", OPENING, balance="2000.00", dpd=0, variant=challenger, case_status="CLOSED"
        )
        await b.complaint("E4", "2026-06-14T02:00")

        await b.case("E5")
        for as_of in RUNS:
            await b.snapshot(
                "E5a",
                as_of,
                balance="8000.00",
                dpd=300,
                variant=champion,
                case_stage="WRITTEN_OFF",
                status="WRITTEN_OFF",
            )
        await b.write_off("E5", "8000.00", "2026-04-01T02:00")
        await b.payment("E5a", "333.00", "2026-06-12T02:00")
        return b.cases


async def _alpha_and_beta(conn: Any) -> list[int]:
    stmt = (
        select(tables.agencies.c.id)
        .where(tables.agencies.c.name.in_(["Alpha", "Beta"]))
        .order_by(tables.agencies.c.name)
    )
    return list((await conn.execute(stmt)).scalars())


async def _compare(
    engine: AsyncEngine, scope: ColumnElement[bool], strategy: str = "STANDARD"
) -> list[VariantComparison]:
    async with engine.connect() as conn:
        observations = await observe(conn, JUNE)
        return await variant_comparison(conn, observations, strategy, scope)


# ---- the tests ----------------------------------------------------------------------------------


async def test_every_metric_of_both_variants(migrated: AsyncEngine) -> None:
    await _book(migrated)
    result = await _compare(migrated, true())
    assert rows(result) == by_hand(list(CHAMPION.values()), list(CHALLENGER.values()))
    # The point values, spelled out: 21800/58000, 16900/52000; 5/7, 1/6; 1850/22300,
    # 1390/16900; 3 and 1 complaints over 7 and 6 cases.
    assert [(r.champion, r.challenger, r.difference) for r in result] == [
        (Decimal("0.3759"), Decimal("0.3250"), Decimal("-0.0509")),
        (Decimal("0.7143"), Decimal("0.1667"), Decimal("-0.5476")),
        (Decimal("0.0830"), Decimal("0.0822"), Decimal("-0.0007")),
        (Decimal("428.5714"), Decimal("166.6667"), Decimal("-261.9048")),
    ]
    # The cure rate's interval: −0.547619 ± 1.959964·√((5/7)(2/7)/7 + (1/6)(5/6)/6)
    # = −0.547619 ± 1.959964 × 0.228698 = −0.547619 ± 0.448239.
    assert (result[1].confidence_low, result[1].confidence_high) == (
        Decimal("-0.9959"),
        Decimal("-0.0994"),
    )
    assert all((r.champion_cases, r.challenger_cases) == (7, 6) for r in result)


async def test_a_case_out_of_scope_is_not_counted(migrated: AsyncEngine) -> None:
    cases = await _book(migrated)
    result = await _compare(migrated, tables.cases.c.id != cases["C4"])
    champion = [case for name, case in CHAMPION.items() if name != "C4"]
    assert rows(result) == by_hand(champion, list(CHALLENGER.values()))
    assert result[0].champion == Decimal("0.3435")  # 15800 / 46000
    assert all((r.champion_cases, r.challenger_cases) == (6, 6) for r in result)


async def test_the_agency_tail_is_part_of_the_cost(migrated: AsyncEngine) -> None:
    """C6's 2000.00 of 06-12, paid after Gamma's recall, is Gamma's through its 15-day tail:
    200.00 of the champion's 1850.00 commission. Without the tail nobody earns it: 1650.00."""
    await _book(migrated)
    result = await _compare(migrated, true())
    assert result[2].champion == Decimal("0.0830")  # 1850 / 22300
    async with writing(migrated) as conn:
        await conn.execute(
            update(tables.agencies).where(tables.agencies.c.name == "Gamma").values(tail_days=0)
        )
    untailed = {**CHAMPION, "C6": replace(CHAMPION["C6"], commission=0)}
    result = await _compare(migrated, true())
    assert rows(result) == by_hand(list(untailed.values()), list(CHALLENGER.values()))
    assert result[2].champion == Decimal("0.0740")  # 1650 / 22300


async def test_no_comparison_without_both_variants(migrated: AsyncEngine) -> None:
    cases = await _book(migrated)
    assert await _compare(migrated, true(), strategy="UNKNOWN") == []
    challengers = [cases[name] for name in CHALLENGER]
    assert await _compare(migrated, tables.cases.c.id.not_in(challengers)) == []
    # Before the first run the period has no opening, hence no cohort.
    async with migrated.connect() as conn:
        observations = await observe(conn, Period(date(2026, 5, 1), date(2026, 5, 31)))
        assert await variant_comparison(conn, observations, "STANDARD", true()) == []


async def test_money_ratios_are_weighted_by_currency(migrated: AsyncEngine) -> None:
    """Two USD cases per variant (New York: UTC−4 in June) make a second stratum: each money
    ratio is the currencies' ratios weighted by their share of the cases (13 CNY, 4 USD);
    the cure and complaint rates count every case."""
    await _book(migrated)
    async with writing(migrated) as conn:
        alpha, beta = await _alpha_and_beta(conn)
        b = Book(migrated, conn, alpha, beta, {}, {})
        for name, variant, balance, agency in (
            ("U1", "CHAMPION", "1000.00", alpha),
            ("U2", "CHAMPION", "500.00", None),
            ("U3", "CHALLENGER", "2000.00", None),
            ("U4", "CHALLENGER", "800.00", beta),
        ):
            await b.case(name, portfolio="us-cards")
            for as_of in RUNS:
                await b.snapshot(
                    f"{name}a", as_of, balance=balance, dpd=30, variant=variant, agency=agency
                )
        await b.payment("U1a", "300.00", "2026-06-10T16:00")  # Alpha: 45.00
        await b.payment("U3a", "100.00", "2026-06-10T16:00")
        await b.payment("U4a", "400.00", "2026-06-30T03:30")  # 06-29 23:30 EDT; Beta: 80.00
    usd_champion = [Case(300, 1000, 300, 45, 0, 0), Case(0, 500, 0, 0, 0, 0)]
    usd_challenger = [Case(100, 2000, 100, 0, 0, 0), Case(400, 800, 400, 80, 0, 0)]
    champion, challenger = list(CHAMPION.values()), list(CHALLENGER.values())
    result = await _compare(migrated, true())

    def weighted(figure: Any, cny: list[Case], usd: list[Case]) -> tuple[float, float]:
        (r1, v1), (r2, v2) = figure(cny), figure(usd)
        w1, w2 = 13 / 17, 4 / 17
        return w1 * r1 + w2 * r2, w1**2 * v1 + w2**2 * v2

    def recovery(cases: list[Case]) -> tuple[float, float]:
        return ratio_of_means([(c.recovered, c.balance) for c in cases])

    def cost(cases: list[Case]) -> tuple[float, float]:
        return ratio_of_means([(c.commission, c.collected) for c in cases])

    everyone = (champion + usd_champion, challenger + usd_challenger)
    assert rows(result) == [
        expected(
            "recoveryRate",
            weighted(recovery, champion, usd_champion),
            weighted(recovery, challenger, usd_challenger),
        ),
        expected("cureRate", proportion(everyone[0]), proportion(everyone[1])),
        expected(
            "costOfCollection",
            weighted(cost, champion, usd_champion),
            weighted(cost, challenger, usd_challenger),
        ),
        expected("complaintsPer1000", per_1000(everyone[0]), per_1000(everyone[1])),
    ]
    assert (result[0].champion_cases, result[0].challenger_cases) == (9, 8)


async def test_the_statements_do_not_grow_with_the_cohort(migrated: AsyncEngine) -> None:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    async def counted() -> int:
        statements.clear()
        async with migrated.connect() as conn:
            observations = await observe(conn, JUNE)
            event.listen(migrated.sync_engine, "before_cursor_execute", count)
            try:
                assert await variant_comparison(conn, observations, "STANDARD", true())
            finally:
                event.remove(migrated.sync_engine, "before_cursor_execute", count)
        return len(statements)

    await _book(migrated)
    before = await counted()
    async with writing(migrated) as conn:
        alpha, beta = await _alpha_and_beta(conn)
        b = Book(migrated, conn, alpha, beta, {}, {})
        for n in range(30):
            name = f"N{n}"
            variant = ("CHAMPION", "CHALLENGER")[n % 2]
            await b.case(name)
            for as_of, agency in zip(RUNS, (alpha, beta, None), strict=True):
                await b.snapshot(
                    f"{name}a", as_of, balance="1000.00", dpd=n, variant=variant, agency=agency
                )
            await b.payment(f"{name}a", f"{n + 1}.00", "2026-06-05T02:00")
            await b.payment(f"{name}a", f"{n + 2}.00", "2026-06-15T02:00")
            await b.complaint(name, "2026-06-15T02:00")
    # Two statements, and on PostgreSQL two that set and restore the planner's settings.
    settings = 2 if migrated.dialect.name == "postgresql" else 0
    assert await counted() == before == 2 + settings
