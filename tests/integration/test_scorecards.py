"""Scorecards on a hand-built month (March 2026) on a fresh database of the backend under test:
two teams (north: collectors A and B; south: collector C) and one agency (commission 12.5%, a
15-day tail) with its agent G. Every figure of every row was worked out by hand below, to the
cent and to the fourth decimal of every rate.

Runs on 28 Feb (the opening), 10, 20 and 31 Mar (the closing); an event is owned by the
snapshot of the last run on or before its local day. Today's ``cases`` rows all name C as the
assignee and no agency: the scorecards must read the snapshots, never them.

Cases (snapshots: owner, days past due, balance; the opening row delinquent when dpd ≥ 1):
- K1 (CNY, 1 debt): A at 28 Feb (40 dpd, 5,000.00) and 10 Mar; reassigned to B from 20 Mar;
  back to current on 25 Mar after a spell begun 19 Jan (65 days) — B's recovery.
- K2 (CNY, 2 debts): A throughout; debt a 10 dpd 1,000.00, debt b current 2,000.00 at the
  opening; current again on 8 Mar after a spell begun 18 Feb (18 days); CLOSED at 31 Mar.
- K3 (CNY): placed with the agency at 28 Feb (100 dpd, 8,000.00) and 10 Mar, recalled and
  assigned to C from 20 Mar.
- K4 (CNY): C (35 dpd, 2,500.00); current on 2 Mar after a spell begun 30 Jan (31 days).
- K5 (USD, us-cards, New York): A (20 dpd, 1,200.00).
- K6 (CNY): B (5 dpd, 400.00); current on 5 Mar after a spell begun 22 Feb (11 days); no
  snapshot after 10 Mar (closed: gone by the closing).
- K7 (CNY): C, written off before the period (not in collection: not counted anywhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, event, insert, select, true, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.money import Money
from domain.reports.model import CommissionStatement, Period, Scorecard, ScorecardLevel
from store import tables
from store.report_basis import observe
from store.scorecard_queries import ScorecardRows, scorecards
from tests.factories import Factory, MadeCase, classify, writing
from tests.report_support import spell_starts

PERIOD = Period(date(2026, 3, 1), date(2026, 3, 31))
RUNS = (date(2026, 2, 28), date(2026, 3, 10), date(2026, 3, 20), date(2026, 3, 31))
AGENCY = "Scorecard Agency"
c = tables.cases.c


def at(moment: str) -> datetime:
    """An instant written with its offset (``2026-03-01T00:30+08:00``)."""
    return datetime.fromisoformat(moment).astimezone(UTC)


def cst(day: str, clock: str = "10:00") -> datetime:
    """An instant on a day in Shanghai (the retail portfolio's zone)."""
    return at(f"2026-{day}T{clock}+08:00")


@dataclass
class World:
    engine: AsyncEngine
    staff: dict[str, int]
    agency_id: int
    idle_agency_id: int
    cases: dict[str, MadeCase]


class Rows:
    """Rows of one world, inserted in as few transactions as the tables allow."""

    def __init__(self, prefix: str = "SC") -> None:
        self.by_table: dict[Any, list[dict[str, Any]]] = {}
        self.prefix = prefix
        self.references = 0

    def add(self, table: Any, **values: Any) -> None:
        self.by_table.setdefault(table, []).append(values)

    async def write(self, engine: AsyncEngine) -> None:
        async with writing(engine) as conn:
            for table in tables.metadata.sorted_tables:
                if table in self.by_table:
                    await conn.execute(insert(table), self.by_table[table])

    def snapshot(
        self,
        made: MadeCase,
        debt: int,
        as_of: date,
        *,
        assignee: int | None,
        agency: int | None = None,
        dpd: int,
        balance: str,
        case_status: str = "OPEN",
        case_stage: str = "COLLECTION",
        status: str | None = None,
    ) -> None:
        bucket, classification = classify(dpd)
        self.add(
            tables.debt_snapshots,
            debt_id=made.debts[debt].id,
            as_of=as_of,
            case_id=made.case.id,
            portfolio=made.case.portfolio,
            product_type="CONSUMER_LOAN",
            currency=made.case.currency,
            balance=Decimal(balance),
            principal=Decimal(balance),
            days_past_due=dpd,
            bucket=bucket,
            classification=classification,
            status=status or ("DELINQUENT" if dpd else "CURRENT"),
            assignee_id=assignee,
            agency_id=agency,
            case_status=case_status,
            case_stage=case_stage,
        )

    def payment(
        self,
        made: MadeCase,
        amount: str,
        paid_at: datetime,
        *,
        debt: int = 0,
        reversed_at: datetime | None = None,
    ) -> None:
        self.references += 1
        self.add(
            tables.payments,
            case_id=made.case.id,
            debt_id=made.debts[debt].id,
            amount=Decimal(amount),
            currency=made.case.currency,
            paid_at=paid_at,
            reference=f"{self.prefix}-{self.references}",
            source="FEED",
            created_at=paid_at,
            reversed=reversed_at is not None,
            reversed_at=reversed_at,
            version=1,
        )

    def contact(
        self,
        made: MadeCase,
        when: datetime,
        staff: int,
        *,
        outcome: str | None,
        channel: str = "PHONE",
        agency: int | None = None,
        blocked: bool = False,
        breaches: Sequence[str] = (),
    ) -> None:
        self.add(
            tables.contacts,
            case_id=made.case.id,
            borrower_id=made.case.borrower_id,
            staff_id=staff,
            agency_id=agency,
            at=when,
            channel=channel,
            direction="OUTBOUND",
            party="BORROWER",
            outcome=outcome,
            notes="",
            source="LOGGED",
            blocked=blocked,
            rule="CALL_WINDOW" if blocked else None,
            breaches=list(breaches),
            consented=False,
        )

    def promise(
        self,
        made: MadeCase,
        staff: int,
        created_at: datetime,
        status: str,
        resolved_at: datetime | None = None,
        *,
        agency: int | None = None,
    ) -> None:
        day = created_at.date()
        self.add(
            tables.promises,
            case_id=made.case.id,
            staff_id=staff,
            agency_id=agency,
            amount=Decimal("100.00"),
            currency=made.case.currency,
            promised_on=day,
            due_date=day,
            grace_days=3,
            status=status,
            paid_amount=Decimal("0.00"),
            created_at=created_at,
            resolved_at=resolved_at,
            version=1,
        )

    def complaint(self, made: MadeCase, filed_at: datetime) -> None:
        self.add(
            tables.complaints,
            case_id=made.case.id,
            borrower_id=made.case.borrower_id,
            kind="COMPLAINT",
            channel="PHONE",
            written=False,
            description="Too many calls",
            status="OPEN",
            filed_at=filed_at,
            version=1,
        )

    def history(self, made: MadeCase, *periods: tuple[str, str]) -> None:
        """The case's classification periods: (bucket, first day), each ending where the next
        begins."""
        starts = [date.fromisoformat(day) for _, day in periods]
        spells = spell_starts(
            [(bucket, start) for (bucket, _), start in zip(periods, starts, strict=True)]
        )
        for index, (bucket, _) in enumerate(periods):
            ends = starts[index + 1] if index + 1 < len(starts) else None
            classification = {"M0": "CURRENT", "M1": "MILD", "M2": "MODERATE"}.get(
                bucket, "SERIOUS"
            )
            self.add(
                tables.classification_history,
                case_id=made.case.id,
                classification=classification,
                bucket=bucket,
                from_date=starts[index],
                to_date=ends,
                policy_version="2026.1",
                spell_from=spells[index],
            )


async def build(engine: AsyncEngine) -> World:
    factory = Factory(engine)
    agency = await factory.agency(AGENCY, commission_rate="0.1250", tail_days=15)
    idle = await factory.agency("Idle Agency", commission_rate="0.2000", tail_days=5)
    staff = {
        "A": (await factory.staff("sc.a", team="north")).id,
        "B": (await factory.staff("sc.b", team="north")).id,
        "C": (await factory.staff("sc.c", team="south")).id,
        "G": (await factory.staff("sc.g", roles=("agency_agent",), agency=AGENCY)).id,
    }
    cases = {name: await factory.case(assignee="sc.c") for name in ("K1", "K3", "K4", "K6", "K7")}
    cases["K2"] = await factory.case(assignee="sc.c", debts=2)
    cards = await factory.case(assignee="sc.c", portfolio="us-cards")
    async with writing(engine) as conn:
        await conn.execute(update(tables.cases).where(c.id == cards.case.id).values(currency="USD"))
        d = tables.debts.c
        await conn.execute(
            update(tables.debts).where(d.case_id == cards.case.id).values(currency="USD")
        )
        case = (await conn.execute(select(tables.cases).where(c.id == cards.case.id))).one()
    cases["K5"] = MadeCase(case, cards.borrower, cards.debts)
    world = World(engine, staff, agency.id, idle.id, cases)
    rows = Rows()
    _history(rows, world)
    await rows.write(engine)
    return world


def _history(rows: Rows, world: World) -> None:
    s, ag, k = world.staff, world.agency_id, world.cases
    a, b, c_, g = s["A"], s["B"], s["C"], s["G"]
    feb28, mar10, mar20, mar31 = RUNS
    for as_of in RUNS:
        rows.add(
            tables.daily_runs,
            as_of=as_of,
            started_at=at(f"{as_of}T01:00+08:00"),
            finished_at=at(f"{as_of}T01:30+08:00"),
            summary={},
        )
    # An unfinished run inside the period is no run: its snapshots stand for nothing.
    rows.add(
        tables.daily_runs,
        as_of=date(2026, 3, 25),
        started_at=at("2026-03-25T01:00+08:00"),
        finished_at=None,
        summary={},
    )
    rows.snapshot(k["K1"], 0, date(2026, 3, 25), assignee=c_, dpd=0, balance="1.00")

    # ---- snapshots
    rows.snapshot(k["K1"], 0, feb28, assignee=a, dpd=40, balance="5000.00")
    rows.snapshot(k["K1"], 0, mar10, assignee=a, dpd=50, balance="4000.00")
    rows.snapshot(k["K1"], 0, mar20, assignee=b, dpd=60, balance="3500.00")
    rows.snapshot(k["K1"], 0, mar31, assignee=b, dpd=0, balance="3200.00")
    rows.snapshot(k["K2"], 0, feb28, assignee=a, dpd=10, balance="1000.00")
    rows.snapshot(k["K2"], 1, feb28, assignee=a, dpd=0, balance="2000.00")
    for as_of in (mar10, mar20):
        rows.snapshot(k["K2"], 0, as_of, assignee=a, dpd=0, balance="900.00")
        rows.snapshot(k["K2"], 1, as_of, assignee=a, dpd=0, balance="2000.00")
    for debt in (0, 1):
        rows.snapshot(
            k["K2"], debt, mar31, assignee=a, dpd=0, balance="0.00", case_status="CLOSED",
            status="SETTLED",
        )  # fmt: skip
    rows.snapshot(k["K3"], 0, feb28, assignee=None, agency=ag, dpd=100, balance="8000.00")
    rows.snapshot(k["K3"], 0, mar10, assignee=None, agency=ag, dpd=110, balance="8000.00")
    rows.snapshot(k["K3"], 0, mar20, assignee=c_, dpd=120, balance="7000.00")
    rows.snapshot(k["K3"], 0, mar31, assignee=c_, dpd=131, balance="6800.00")
    rows.snapshot(k["K4"], 0, feb28, assignee=c_, dpd=35, balance="2500.00")
    rows.snapshot(k["K4"], 0, mar10, assignee=c_, dpd=0, balance="2250.00")
    rows.snapshot(k["K4"], 0, mar20, assignee=c_, dpd=10, balance="2250.00")
    rows.snapshot(k["K4"], 0, mar31, assignee=c_, dpd=21, balance="2250.00")
    for as_of, dpd in zip(RUNS, (20, 30, 40, 51), strict=True):
        rows.snapshot(k["K5"], 0, as_of, assignee=a, dpd=dpd, balance="1200.00")
    rows.snapshot(k["K6"], 0, feb28, assignee=b, dpd=5, balance="400.00")
    rows.snapshot(k["K6"], 0, mar10, assignee=b, dpd=0, balance="0.00")
    rows.snapshot(
        k["K7"], 0, feb28, assignee=c_, dpd=200, balance="900.00", case_stage="WRITTEN_OFF",
        status="WRITTEN_OFF",
    )  # fmt: skip

    # ---- payments: (amount, instant) and whose they are
    rows.payment(k["K1"], "999.00", at("2026-02-28T23:30+08:00"))  # the day before: out
    rows.payment(k["K1"], "80.00", at("2026-03-01T00:30+08:00"))  # 1 Mar in Shanghai: A
    rows.payment(k["K1"], "500.00", cst("03-05"))  # A
    rows.payment(k["K1"], "200.00", cst("03-12"), reversed_at=cst("03-13"))  # reversed: out
    rows.payment(k["K1"], "100.00", cst("03-15"), reversed_at=cst("04-02"))  # reversed after: A
    rows.payment(k["K1"], "300.00", at("2026-03-20T01:00+08:00"))  # 20 Mar (19 Mar UTC): B
    rows.payment(k["K1"], "777.00", at("2026-04-01T00:10+08:00"))  # the day after: out
    rows.payment(k["K2"], "250.50", cst("03-09"), debt=0)  # A
    rows.payment(k["K2"], "49.50", cst("03-25"), debt=1)  # A
    rows.payment(k["K3"], "1000.00", cst("03-12"))  # placed: the agency's (commission)
    rows.payment(k["K3"], "123.45", cst("03-22"))  # C's; 12 days after the recall: tail
    rows.payment(k["K3"], "76.55", cst("03-30"))  # C's; 20 days after: no commission
    rows.payment(k["K4"], "250.00", cst("03-03"))  # C
    rows.payment(k["K6"], "400.00", cst("03-05"))  # B
    rows.payment(k["K5"], "60.00", at("2026-03-31T23:30-04:00"))  # 31 Mar in New York: A
    rows.payment(k["K5"], "5.00", at("2026-03-01T00:30+08:00"))  # 28 Feb in New York: out

    # ---- classification history: recoveries of K1, K2, K4, K6
    rows.history(k["K1"], ("M0", "2025-06-01"), ("M1", "2026-01-19"), ("M2", "2026-02-18"),
                 ("M0", "2026-03-25"))  # fmt: skip
    rows.history(k["K2"], ("M0", "2025-01-01"), ("M1", "2026-02-18"), ("M0", "2026-03-08"))
    rows.history(k["K3"], ("M0", "2025-01-01"), ("M4", "2025-11-20"))
    rows.history(k["K4"], ("M0", "2025-01-01"), ("M2", "2026-01-30"), ("M0", "2026-03-02"),
                 ("M1", "2026-03-12"))  # fmt: skip
    rows.history(k["K5"], ("M0", "2025-01-01"), ("M1", "2026-02-08"))
    rows.history(k["K6"], ("M0", "2025-01-01"), ("M1", "2026-02-22"), ("M0", "2026-03-05"))

    # ---- complaints
    rows.complaint(k["K2"], cst("03-12"))  # A (two debts, one complaint)
    rows.complaint(k["K4"], cst("03-04"))  # C
    rows.complaint(k["K1"], cst("03-21"))  # B
    rows.complaint(k["K3"], cst("03-05"))  # the agency (no collector)
    rows.complaint(k["K1"], cst("02-27"))  # before the period

    # ---- contacts, each the work of whoever made it
    rows.contact(k["K1"], cst("03-02"), a, outcome="RIGHT_PARTY_CONTACT")
    rows.contact(k["K1"], cst("03-03"), a, outcome="NO_ANSWER")
    rows.contact(k["K2"], cst("03-04"), a, outcome="PROMISE_TO_PAY")
    rows.contact(k["K2"], cst("03-04", "11:00"), a, outcome="DELIVERED", channel="SMS")
    rows.contact(k["K1"], cst("03-05"), a, outcome=None, blocked=True)
    rows.contact(k["K2"], cst("03-06"), a, outcome="RIGHT_PARTY_CONTACT",
                 breaches=["CALLS_PER_WEEK"])  # fmt: skip
    rows.contact(k["K1"], cst("03-31", "23:00"), a, outcome=None)  # still in progress
    rows.contact(k["K1"], at("2026-02-28T20:00+08:00"), a, outcome="RIGHT_PARTY_CONTACT")
    rows.contact(k["K5"], at("2026-03-10T10:00-04:00"), a, outcome="RIGHT_PARTY_CONTACT")
    rows.contact(k["K1"], cst("03-22"), b, outcome="REFUSED_TO_PAY", channel="FIELD_VISIT")
    rows.contact(k["K1"], cst("03-23"), b, outcome="WRONG_NUMBER")
    rows.contact(k["K1"], cst("03-24"), b, outcome=None, blocked=True)
    rows.contact(k["K6"], cst("03-04"), b, outcome=None, blocked=True)
    rows.contact(k["K3"], cst("03-25"), c_, outcome="THIRD_PARTY_CONTACT", breaches=["A", "B"])
    rows.contact(k["K4"], cst("03-06"), c_, outcome="CALLBACK_REQUESTED")
    rows.contact(k["K4"], cst("03-07"), c_, outcome="RIGHT_PARTY_CONTACT", channel="EMAIL")
    rows.contact(k["K3"], cst("03-03"), g, agency=ag, outcome="RIGHT_PARTY_CONTACT")
    rows.contact(k["K3"], cst("03-04"), g, agency=ag, outcome="DISPUTE_RAISED")
    rows.contact(k["K3"], cst("03-05"), g, agency=ag, outcome=None, blocked=True)
    rows.contact(k["K3"], cst("03-06"), g, agency=ag, outcome="NO_ANSWER", breaches=["X"])

    # ---- promises, each credited to whoever took it
    rows.promise(k["K2"], a, cst("03-02"), "KEPT", cst("03-12"))
    rows.promise(k["K1"], a, cst("02-20"), "BROKEN", cst("03-03"))  # made before, judged now
    rows.promise(k["K1"], a, cst("03-15"), "OPEN")
    rows.promise(k["K2"], a, cst("03-16"), "SUPERSEDED", cst("03-18"))  # never judged
    rows.promise(k["K1"], b, cst("03-21"), "PARTIALLY_KEPT", cst("03-28"))
    rows.promise(k["K3"], g, cst("03-13"), "KEPT", cst("03-20"), agency=ag)
    rows.promise(k["K3"], g, cst("03-30"), "KEPT", cst("04-02"), agency=ag)  # judged after


async def _cards(
    engine: AsyncEngine,
    level: ScorecardLevel,
    scope: ColumnElement[bool] | None = None,
    rows: ScorecardRows | None = None,
) -> list[Scorecard]:
    async with engine.connect() as conn:
        observations = await observe(conn, PERIOD)
        return await scorecards(
            conn,
            observations,
            level,
            true() if scope is None else scope,
            rows or ScorecardRows(),
        )


def figures(card: Scorecard) -> dict[str, Any]:
    """A scorecard as text: amounts to the cent, rates with what they are made of and their
    value to the fourth decimal, the average days to one decimal."""

    def ratio(r: Any) -> tuple[str, str, str]:
        return (str(r.numerator), str(r.denominator), str(r.value))

    days = card.average_days_to_recovery
    return {
        "key": card.key,
        "currency": card.currency,
        "recovered": str(card.recovered.amount),
        "recovery_rate": ratio(card.recovery_rate),
        "cured": card.cases_cured,
        "closed": card.cases_closed,
        "contacts": card.contacts,
        "right_party": ratio(card.right_party_contact_rate),
        "promises": card.promises_made,
        "kept": ratio(card.promise_kept_rate),
        "complaints": card.complaints,
        "refused": card.refused_attempts,
        "breaches": card.breaches,
        "days": days if days is None else str(days),
    }


def row(
    key: str,
    currency: str,
    recovered: str,
    recovery_rate: tuple[str, str, str],
    cured: int,
    closed: int,
    contacts: int,
    right_party: tuple[str, str, str],
    promises: int,
    kept: tuple[str, str, str],
    complaints: int,
    refused: int,
    breaches: int,
    days: str | None,
) -> dict[str, Any]:
    return dict(locals())


NONE = ("0", "0", "0.0000")
# Collector A, CNY: 80.00 + 500.00 + 100.00 (reversed after the period) + 250.50 + 49.50 over
# K1's 5,000.00 and K2's debt a 1,000.00 at the opening; K2 recovered (18 days) and closed;
# contacts: 6 made (the blocked one refused, the one before the period out), right party 3 of
# the 4 calls with an outcome (the SMS and the call in progress left out), one with a breach;
# promises made 3 (1 Mar .. 16 Mar), judged 2 (KEPT, BROKEN), kept 1; K2's complaint.
A_CNY = row("sc.a", "CNY", "980.00", ("980.00", "6000.00", "0.1633"), 1, 1, 6,
            ("3", "4", "0.7500"), 3, ("1", "2", "0.5000"), 1, 1, 1, "18.0")  # fmt: skip
A_USD = row("sc.a", "USD", "60.00", ("60.00", "1200.00", "0.0500"), 0, 0, 1,
            ("1", "1", "1.0000"), 0, NONE, 0, 0, 0, None)  # fmt: skip
# Collector B: K1's 300.00 from 20 Mar and K6's 400.00 over K6's 400.00 at the opening (K1 was
# A's then); K1 (65 days) and K6 (11 days) recovered: 38.0; K6 closed (no closing snapshot).
B_CNY = row("sc.b", "CNY", "700.00", ("700.00", "400.00", "1.7500"), 2, 1, 2,
            ("1", "2", "0.5000"), 1, ("0", "1", "0.0000"), 1, 2, 0, "38.0")  # fmt: skip
# Collector C: K3's 123.45 + 76.55 after the recall and K4's 250.00 over K4's 2,500.00 (K7 is
# written off: not in collection); the e-mail with a right-party outcome is no call.
C_CNY = row("sc.c", "CNY", "450.00", ("450.00", "2500.00", "0.1800"), 1, 0, 3,
            ("1", "2", "0.5000"), 0, NONE, 1, 0, 1, "31.0")  # fmt: skip
# Agent G: only their own contacts and promises (recoveries are the agency's, not a person's).
G_CNY = row("sc.g", "CNY", "0.00", ("0.00", "0.00", "0.0000"), 0, 0, 3,
            ("2", "3", "0.6667"), 2, ("1", "1", "1.0000"), 0, 1, 1, None)  # fmt: skip
# Team north = A + B: (18 + 65 + 11) / 3 = 31.3 days.
NORTH_CNY = row("north", "CNY", "1680.00", ("1680.00", "6400.00", "0.2625"), 3, 2, 8,
                ("4", "6", "0.6667"), 4, ("1", "3", "0.3333"), 2, 3, 1, "31.3")  # fmt: skip
NORTH_USD = {**A_USD, "key": "north"}
SOUTH_CNY = {**C_CNY, "key": "south"}
# The agency: K3's 1,000.00 while placed over its 8,000.00 at the opening; K3's complaint.
AGENCY_CNY = row(AGENCY, "CNY", "1000.00", ("1000.00", "8000.00", "0.1250"), 0, 0, 3,
                 ("2", "3", "0.6667"), 2, ("1", "1", "1.0000"), 1, 1, 1, None)  # fmt: skip


async def test_collector_scorecards_credit_each_figure_to_its_owner(migrated: AsyncEngine) -> None:
    await build(migrated)
    cards = await _cards(migrated, ScorecardLevel.COLLECTOR)
    assert [figures(card) for card in cards] == [A_CNY, A_USD, B_CNY, C_CNY, G_CNY]
    assert all(card.commission is None for card in cards)


async def test_team_scorecards_are_their_collectors_figures(migrated: AsyncEngine) -> None:
    await build(migrated)
    cards = await _cards(migrated, ScorecardLevel.TEAM)
    # The agent has no team: their contacts and promises are in no team's row.
    assert [figures(card) for card in cards] == [NORTH_CNY, NORTH_USD, SOUTH_CNY]
    assert all(card.commission is None for card in cards)


async def test_agency_scorecards_carry_the_commission_statement(migrated: AsyncEngine) -> None:
    world = await build(migrated)
    cards = await _cards(migrated, ScorecardLevel.AGENCY)
    assert [figures(card) for card in cards] == [AGENCY_CNY]
    # Collected while placed 1,000.00; through the tail 123.45 and 76.55 (the tail counts from
    # the recall, the 20 Mar run, the first without the agency: 22 Mar and 30 Mar are 2 and 10
    # days after it, within 15). (1,000.00 + 123.45 + 76.55) × 0.125 = 150.00.
    statement = cards[0].commission
    assert statement is not None
    assert (
        str(statement.rate),
        statement.tail_days,
        str(statement.collected.amount),
        str(statement.tail_collected.amount),
        str(statement.commission.amount),
        statement.commission.currency,
        statement.payments,
    ) == ("0.1250", 15, "1000.00", "200.00", "150.00", "CNY", 3)
    # Restricted to the agency: the same row; to the idle agency: none.
    own = await _cards(
        migrated, ScorecardLevel.AGENCY, rows=ScorecardRows(agency_id=world.agency_id)
    )
    assert own == cards
    idle = ScorecardRows(agency_id=world.idle_agency_id)
    assert await _cards(migrated, ScorecardLevel.AGENCY, rows=idle) == []


async def test_an_agency_row_without_payments_has_a_statement_of_nothing(
    migrated: AsyncEngine,
) -> None:
    world = await build(migrated)
    k3 = world.cases["K3"].case.id
    p = tables.payments.c
    async with writing(migrated) as conn:  # K3's payments reversed before the period ended
        stmt = update(tables.payments).where(p.case_id == k3)
        await conn.execute(stmt.values(reversed=True, reversed_at=cst("03-31")))
    cards = await _cards(migrated, ScorecardLevel.AGENCY)
    zero = Money(Decimal("0.00"), "CNY")
    assert [figures(card) for card in cards] == [
        {**AGENCY_CNY, "recovered": "0.00", "recovery_rate": ("0.00", "8000.00", "0.0000")}
    ]
    assert cards[0].commission == CommissionStatement(
        rate=Decimal("0.1250"),
        tail_days=15,
        collected=zero,
        tail_collected=zero,
        commission=zero,
        payments=0,
    )


async def test_rows_restrict_whose_scorecards_a_caller_gets(migrated: AsyncEngine) -> None:
    world = await build(migrated)
    s = world.staff
    collector = ScorecardRows(staff_id=s["B"])
    own = await _cards(migrated, ScorecardLevel.COLLECTOR, rows=collector)
    assert [figures(card) for card in own] == [B_CNY]
    team = await _cards(migrated, ScorecardLevel.COLLECTOR, rows=ScorecardRows(team="north"))
    assert [figures(card) for card in team] == [A_CNY, A_USD, B_CNY]
    agents = ScorecardRows(agency_id=world.agency_id)
    assert [
        figures(card) for card in await _cards(migrated, ScorecardLevel.COLLECTOR, rows=agents)
    ] == [G_CNY]
    south = await _cards(migrated, ScorecardLevel.TEAM, rows=ScorecardRows(team="south"))
    assert [figures(card) for card in south] == [SOUTH_CNY]
    # A collector's own row is theirs only: no team's, no agency's.
    assert await _cards(migrated, ScorecardLevel.TEAM, rows=collector) == []
    assert await _cards(migrated, ScorecardLevel.AGENCY, rows=collector) == []


async def test_a_scope_that_hides_a_case_hides_it_from_every_figure(migrated: AsyncEngine) -> None:
    world = await build(migrated)
    hidden = world.cases["K4"].case.id
    scope = c.id != hidden
    cards = await _cards(migrated, ScorecardLevel.COLLECTOR, scope=scope)
    # Without K4, C keeps K3's 200.00 (no delinquent balance of theirs at the opening), no
    # recovery, no complaint, and of their contacts the third-party call on K3 (with breaches).
    c_without_k4 = row("sc.c", "CNY", "200.00", ("200.00", "0.00", "0.0000"), 0, 0, 1,
                       ("0", "1", "0.0000"), 0, NONE, 0, 0, 1, None)  # fmt: skip
    assert [figures(card) for card in cards] == [A_CNY, A_USD, B_CNY, c_without_k4, G_CNY]
    teams = await _cards(migrated, ScorecardLevel.TEAM, scope=scope)
    assert [figures(card) for card in teams] == [
        NORTH_CNY, NORTH_USD, {**c_without_k4, "key": "south"}
    ]  # fmt: skip
    # A team lead's scope, a subquery over ``staff`` beside the rows' own staff: today every
    # case is C's, of south, so it sees every case and every figure is as without a scope.
    staff = tables.staff.c
    south = c.assignee_id.in_(select(staff.id).where(staff.team == "south"))
    cards = await _cards(migrated, ScorecardLevel.COLLECTOR, scope=south)
    assert [figures(card) for card in cards] == [A_CNY, A_USD, B_CNY, C_CNY, G_CNY]
    # Without K3 the agency has nothing left: no row, no statement.
    k3 = world.cases["K3"].case.id
    assert await _cards(migrated, ScorecardLevel.AGENCY, scope=c.id != k3) == []


async def test_the_statements_do_not_grow_with_cases_contacts_staff_or_agencies(
    migrated: AsyncEngine,
) -> None:
    world = await build(migrated)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    async def counted() -> dict[ScorecardLevel, int]:
        counts = {}
        for level in ScorecardLevel:
            async with migrated.connect() as conn:
                observations = await observe(conn, PERIOD)
                statements.clear()
                event.listen(migrated.sync_engine, "before_cursor_execute", count)
                try:
                    await scorecards(conn, observations, level, true(), ScorecardRows())
                finally:
                    event.remove(migrated.sync_engine, "before_cursor_execute", count)
            counts[level] = len(statements)
        return counts

    before = await counted()
    # Seven statements per level (payments, opening balances, cases closed, recoveries,
    # complaints, contacts, promises); the agency level adds the commission statements and the
    # agencies' contracts. On PostgreSQL two more set and restore the planner's settings for
    # reports (``store.report_basis.analytic``).
    settings = 2 if migrated.dialect.name == "postgresql" else 0
    assert before[ScorecardLevel.COLLECTOR] == before[ScorecardLevel.TEAM] == 7 + settings
    assert before[ScorecardLevel.AGENCY] == 9 + settings
    factory = Factory(migrated)
    rows = Rows("MORE")
    for n in range(3):
        agency = await factory.agency(f"More Agency {n}", tail_days=5)
        collector = await factory.staff(f"more.{n}", team=f"team-{n}")
        for m in range(4):
            made = await factory.case()
            for as_of in RUNS:
                rows.snapshot(made, 0, as_of, assignee=collector.id, agency=agency.id, dpd=30 + m,
                              balance="100.00")  # fmt: skip
            rows.payment(made, "10.00", cst("03-15"))
            rows.complaint(made, cst("03-16"))
            rows.contact(made, cst("03-17"), collector.id, outcome="RIGHT_PARTY_CONTACT")
            rows.contact(made, cst("03-18"), collector.id, outcome=None, blocked=True)
            rows.promise(made, collector.id, cst("03-19"), "KEPT", cst("03-20"))
            rows.history(made, ("M1", "2026-02-01"), ("M0", "2026-03-12"))
    await rows.write(migrated)
    after = await counted()
    assert after == before
    assert len(await _cards(migrated, ScorecardLevel.AGENCY)) == 4
    assert world.agency_id
