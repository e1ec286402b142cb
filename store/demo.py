"""Deterministic demo portfolio: staff, agencies, borrowers and their contact points, cases, debts,
instalments, contacts, promises and payments.

``seed_demo`` fills an empty, migrated database. The same seed and ``as_of`` date give
byte-identical rows: personal data comes from ``Faker("zh_CN")`` and ``Faker("en_US")`` seeded
with the seed, every other choice from one ``random.Random(seed)``, and every date is relative to
``as_of``; the demo's "now" is 02:00 UTC on that date (10:00 in Shanghai), and nothing it records
happens later. Faker is imported only when seeding starts, so importing this module (for
``DEMO_LOGINS``) does not load it.

Two portfolios (``domain.portfolios``): ``retail`` (CNY, Asia/Shanghai, conduct profile CN) holds
the first four fifths of the cases, ``us-cards`` (USD, America/New_York, US_REG_F) the last fifth,
with borrowers in four US time zones. Staff are the logins of CONTRACT.md (``DEMO_LOGINS``), the
``core.banking`` integration account, and two records for testing the rules: the inactive collector
``collector9`` (team West) and the inactive agency "Dormant Partners".

Each case's DPD is drawn first (so that every bucket of the default policy, M0..M7, occurs), then
its debts' instalment schedules are built so that ``Debt.days_past_due(as_of)`` yields exactly that
DPD; the case's DPD, bucket, classification, policy version and outstanding then come from the
domain's rule (``domain.cases.classification.assess``, with ``DEFAULT_POLICY`` unless told
otherwise), as ``Case.reclassify`` gives them. The first cases cover each collector, both active
agencies and the unassigned pool; then come scripted stories (``store.demo_contacts``) that show
every conduct rule granting, refusing and breached, every promise status, a reversed payment and
cases closed as CURED and PAID_IN_FULL (``store.demo_money``), in each portfolio. Worked cases go to
the collector least loaded for their share (``COLLECTORS``), and collectors carry at most
``COLLECTOR_CAPACITY - CAPACITY_HEADROOM`` open cases, so a test can always assign one more;
closed and legal-stage cases are left unassigned. The stage, status and close reason of each
case are reached by legal moves of the life-cycle table (``domain.lifecycle.table.decide``); the
seed writes no ``case_events`` (a seeded case's timeline starts with its contacts, promises and
payments, and the events of the changes made to it afterwards). Each debt carries its own aged
DPD and bucket, and each case one open classification period (from the day it entered its
bucket and class), as the daily run (``jobs.daily``) keeps them.

Then (``store.demo_protections``) the latest open cases of no story get the daily cycle's
protections: open and resolved complaints and disputes, every borrower flag (one overdue for
review, one lifted), partner signals, each dated after the case's last outbound contact so the
contact history stays lawful; and the warnings of the as-of date are raised by the daily run's own
statements, a few acknowledged and one handled.

Rows get explicit ids and are inserted with Core executemany, chunk by chunk, in one
transaction; on PostgreSQL the id sequences are moved past the seeded rows afterwards.
"""

from __future__ import annotations

import calendar
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.cases.classification import (
    CURRENT_BUCKET,
    DEFAULT_POLICY,
    ClassificationPolicy,
    assess,
)
from domain.cases.model import CaseStage, CaseStatus
from domain.conduct.profiles import profile as conduct_profile
from domain.debts.model import Debt, DebtStatus, Instalment, ProductType
from domain.lifecycle.table import DEFAULT_POLICY as LIFECYCLE
from domain.lifecycle.table import CloseReason, Facts, Trigger, decide
from domain.portfolios import PORTFOLIOS, Portfolio, local_date
from store import tables
from store.demo_contacts import CaseView, Contacts, local_at
from store.demo_money import Closing, Ledger, MoneyCase
from store.demo_people import Needs, People, cents
from store.demo_protections import seed_protections
from store.demo_staff import (
    AGENCIES,
    AGENCY_IDS,
    COLLECTOR_CAPACITY,
    COLLECTORS,
    DEMO_LOGINS,
    POOL,
    STAFF,
    STAFF_IDS,
    SYSTEM_NAMES,
)

__all__ = ["COLLECTOR_CAPACITY", "DEMO_LOGINS", "DatabaseNotEmpty", "DemoSummary", "seed_demo"]

Row = dict[str, Any]

CHUNK_CASES = 2000  # cases generated and inserted per round
INSERT_BATCH = 5000  # rows per executemany
CAPACITY_HEADROOM = 20
US_SHARE = 5  # one case in this many (the last ones) is in the us-cards portfolio
NOW = time(2, 0, tzinfo=UTC)  # the demo's "now" on its as-of date
RETAIL, US_CARDS = PORTFOLIOS["retail"], PORTFOLIOS["us-cards"]
_WORKED_STAGES = (CaseStage.EARLY, CaseStage.COLLECTION)  # stages a collector or agency works
# Bucket M<n> draws DPD from _BUCKET_STARTS[n] up to the next start - 1 (M7: 181..720);
# about 8% of cases are current, the rest spread over M1..M7.
_BUCKET_STARTS = (0, 1, 31, 61, 91, 121, 151, 181, 721)
_BUCKET_WEIGHTS = (8, 22, 16, 13, 10, 9, 8, 14)
# Product: principal range in cents, remaining term in months, weight; per portfolio.
_PRODUCTS = {
    RETAIL.name: {
        ProductType.CREDIT_CARD: (200_000, 8_000_000, 6, 24, 35),
        ProductType.CONSUMER_LOAN: (500_000, 20_000_000, 12, 36, 35),
        ProductType.AUTO_LOAN: (3_000_000, 40_000_000, 24, 60, 15),
        ProductType.MORTGAGE: (20_000_000, 300_000_000, 120, 360, 15),
    },
    US_CARDS.name: {
        ProductType.CREDIT_CARD: (50_000, 1_500_000, 6, 24, 75),
        ProductType.CONSUMER_LOAN: (200_000, 4_000_000, 12, 60, 17),
        ProductType.AUTO_LOAN: (500_000, 4_500_000, 24, 72, 8),
    },
}
_ACCOUNT_PREFIX = {
    (RETAIL.name, ProductType.CREDIT_CARD): "6225",
    (RETAIL.name, ProductType.CONSUMER_LOAN): "CL",
    (RETAIL.name, ProductType.AUTO_LOAN): "AL",
    (RETAIL.name, ProductType.MORTGAGE): "ML",
    (US_CARDS.name, ProductType.CREDIT_CARD): "4147",
    (US_CARDS.name, ProductType.CONSUMER_LOAN): "PL",
    (US_CARDS.name, ProductType.AUTO_LOAN): "AU",
}
_FEES = {RETAIL.name: (0, 3_000, 5_000, 10_000, 20_000), US_CARDS.name: (0, 2_900, 3_900, 4_100)}


@dataclass(frozen=True)
class _Slot:
    """What a case is made to be: its bucket, who holds it, the story it tells (None: drawn)."""

    bucket: int | None
    holder: str | None
    story: str | None = None


# Stories after the coverage plan, most telling first (a small demo shows the first ones).
_RETAIL_STORIES = (
    _Slot(1, "collector1", "daily_attempts"),
    _Slot(2, "Acme Recovery", "connected_calls"),
    _Slot(4, "collector2", "quiet_hours"),
    _Slot(3, "Zenith Collections", "third_party"),
    _Slot(0, None, "cured"),
    _Slot(2, "collector1", "promise_kept_then_open"),
    _Slot(2, "collector2", "reversed_payment"),
    _Slot(0, None, "paid_in_full"),
    _Slot(5, "collector3", "points"),
    _Slot(6, "lead1", "consent"),
    _Slot(3, "collector2", "promise_broken_then_partial"),
    _Slot(2, "Acme Recovery", "promise_superseded"),
)
_US_STORIES = (
    _Slot(2, "collector3", "weekly_calls"),
    _Slot(3, "Zenith Collections", "after_conversation"),
    _Slot(2, "collector1", "two_zones"),
    _Slot(2, "collector2", "consented_callback"),
    _Slot(0, None, "cured"),
)
_NEEDS = {
    "third_party": Needs(story=True, third_parties=True),
    "points": Needs(story=True, bad_points=True),
    "consent": Needs(story=True, consent_hours=True),
    "two_zones": Needs(story=True, two_zones=True),
}
_FATES = {"cured": "cured", "paid_in_full": "paid"}
# Stories' ordinary history ends this many days before the as-of date (their script follows).
_STORY_QUIET_DAYS = 14

# Tables in insertion order (parents first).
_FILLED = (
    tables.agencies,
    tables.staff,
    tables.borrowers,
    tables.contact_points,
    tables.cases,
    tables.classification_history,
    tables.debts,
    tables.instalments,
    tables.contacts,
    tables.promises,
    tables.payments,
    tables.payment_allocations,
    tables.payment_instalments,
)

# Written after the cases (``store.demo_protections``), with explicit ids; warnings are raised.
_PROTECTIONS = (tables.complaints, tables.borrower_flags, tables.external_signals)


class DatabaseNotEmpty(Exception):
    """The database already holds data; demo data is only seeded into an empty database."""


@dataclass(frozen=True)
class DemoSummary:
    """How many rows of each kind ``seed_demo`` wrote."""

    cases: int
    classification_history: int
    borrowers: int
    contact_points: int
    debts: int
    instalments: int
    contacts: int
    promises: int
    payments: int
    payment_allocations: int
    payment_instalments: int
    staff: int
    agencies: int
    complaints: int = 0
    borrower_flags: int = 0
    external_signals: int = 0
    warnings: int = 0


def _add_months(day: date, months: int) -> date:
    """Returns the same day ``months`` later (or earlier), clamped to the month's end."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


@dataclass
class _Life:
    """A case's life so far: its status, stage and close reason, moved only by the life-cycle
    table (an illegal move raises, as it would in the service), and its latest moment."""

    status: CaseStatus = CaseStatus.OPEN
    stage: CaseStage = CaseStage.EARLY
    close_reason: CloseReason | None = None
    last: datetime | None = None

    def touch(self, at: datetime) -> None:
        self.last = max(self.last or at, at)

    def move(
        self, trigger: Trigger, at: datetime, facts: Facts, reason: CloseReason | None = None
    ) -> None:
        result = decide(self.status, self.stage, trigger, facts, reason)
        self.status, self.stage, self.close_reason = (
            result.status,
            result.stage,
            result.close_reason,
        )
        self.touch(at)


class _Generator:
    """Builds the rows of the portfolio case by case; all randomness flows through here."""

    def __init__(
        self, seed: int, as_of: date, policy: ClassificationPolicy, cases: int = 0
    ) -> None:
        # Imported here, not at the top: the server imports this module for DEMO_LOGINS, and
        # only seeding needs Faker.
        from faker import Faker

        self.rng = random.Random(seed)
        self.policy = policy
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        us = Faker("en_US")
        us.seed_instance(seed)
        self.as_of = as_of
        self.now = datetime.combine(as_of, NOW)
        self.first_us = cases - cases // US_SHARE + 1 if cases else 1 << 62
        self.load = dict.fromkeys(COLLECTORS, 0)
        self.next_id: dict[str, int] = {}
        self.plan = self._opening_plan()
        # Cases still to come that a story gives to a collector: kept free of drawn cases.
        self.reserved = Counter(
            h for h in (self._slot(n).holder for n in range(1, cases + 1)) if h in COLLECTORS
        )
        self.people = People(self.rng, self.fake, us, as_of, self._take)
        self.contacts = Contacts(self.rng, as_of, self.now, self._take)
        self.money = Ledger(self.rng, as_of, self.now, self._take)

    def _opening_plan(self) -> list[_Slot]:
        """The first cases: (bucket, holder) so that every holder and bucket occurs."""
        rng = self.rng
        holders = [*COLLECTORS, POOL]
        buckets = [0, 1, 4, 5, 6]
        rng.shuffle(buckets)
        agencies = [2, 3]
        rng.shuffle(agencies)
        plan: list[tuple[int, str | None]] = [
            *zip(buckets, holders, strict=True),
            *zip(agencies, ("Acme Recovery", "Zenith Collections"), strict=True),
        ]
        rng.shuffle(plan)
        return [*(_Slot(b, h) for b, h in plan), _Slot(7, None)]

    def scripted(self, n: int) -> bool:
        """Whether case ``n`` is one of the opening plan's or tells a story."""
        slot = self._slot(n)
        return slot.holder is not None or slot.story is not None

    def _slot(self, n: int) -> _Slot:
        if n >= self.first_us:
            index = n - self.first_us
            return _US_STORIES[index] if index < len(_US_STORIES) else _Slot(None, None)
        if n <= len(self.plan):
            return self.plan[n - 1]
        index = n - len(self.plan) - 1
        return _RETAIL_STORIES[index] if index < len(_RETAIL_STORIES) else _Slot(None, None)

    def agencies(self) -> list[Row]:
        return [
            {
                "id": AGENCY_IDS[name],
                "name": name,
                "commission_rate": rate,
                "placement_days": days,
                "active": active,
                "tail_days": tail,
            }
            for name, rate, days, active, tail in AGENCIES
        ]

    def staff(self) -> list[Row]:
        return [
            {
                "id": STAFF_IDS[login],
                "login": login,
                "name": SYSTEM_NAMES.get(login) or self.fake.name(),
                "roles": [str(role) for role in roles],
                "team": team,
                "agency_id": AGENCY_IDS[agency] if agency else None,
                "capacity": capacity,
                "active": active,
            }
            for login, roles, team, agency, capacity, active in STAFF
        ]

    def chunk(self, first: int, count: int) -> dict[Table, list[Row]]:
        """Returns the rows of cases ``first`` .. ``first + count - 1``, parents first."""
        rows: dict[Table, list[Row]] = {t: [] for t in _FILLED[2:]}
        for n in range(first, first + count):
            self._case(n, rows)
        return rows

    # -- one case -------------------------------------------------------------------------------

    def _case(self, n: int, rows: dict[Table, list[Row]]) -> None:
        rng, as_of = self.rng, self.as_of
        slot = self._slot(n)
        portfolio = US_CARDS if n >= self.first_us else RETAIL
        forced = slot.holder is not None or slot.story is not None
        bucket = slot.bucket
        if bucket is None:
            bucket = rng.choices(range(len(_BUCKET_WEIGHTS)), weights=_BUCKET_WEIGHTS)[0]
        dpd = rng.randrange(_BUCKET_STARTS[bucket], _BUCKET_STARTS[bucket + 1])
        fate = _FATES.get(slot.story or "")
        if fate is None and not forced and dpd == 0:
            draw = rng.random()
            fate = "cured" if draw < 0.3 else "paid" if draw < 0.4 else None
        stage, status = self._stage_and_status(dpd, forced=forced or fate is not None)
        holder = None if fate else slot.holder
        if slot.holder in COLLECTORS:
            self.reserved[slot.holder] -= 1
        worked = status != CaseStatus.CLOSED and stage in _WORKED_STAGES
        if holder is None and fate is None and worked:
            holder = self._holder(dpd, stage)
        if holder in COLLECTORS:
            self.load[holder] += 1
        opened_on = as_of - timedelta(days=dpd if dpd else rng.randint(0, 14))
        placement = self._placement(holder, dpd, early=slot.story is not None)
        person = self.people.person(
            n,
            portfolio is US_CARDS,
            _NEEDS.get(slot.story or "", Needs(story=slot.story is not None)),
        )
        debts = self._debts(n, dpd, stage == CaseStage.WRITTEN_OFF, portfolio, fate)
        closing: Closing | None = None
        if fate is not None:
            closing = self.money.closing(debts[0], fate, portfolio.time_zone)
            opened_on = closing.opened_on
            peak = (closing.days[-1][0] - opened_on).days
            stage, status = (
                (CaseStage.COLLECTION if peak > 30 else CaseStage.EARLY),
                CaseStatus.CLOSED,
            )
        life = _Life()
        self._stage_moves(life, placement, opened_on, stage, dpd)
        ends = self._ending(life, status, opened_on) if fate is None else None
        until = ends or self.now
        if closing is not None:
            until = local_at(closing.days[-1][0], "09:00", portfolio.time_zone)
        if slot.story is not None:
            story_until = local_at(
                as_of - timedelta(days=_STORY_QUIET_DAYS), "00:00", portfolio.time_zone
            )
            until = min(until, story_until)
        view = CaseView(
            id=n,
            portfolio=portfolio,
            profile=conduct_profile(portfolio.conduct_profile),
            person=person,
            opened_on=opened_on,
            dpd=dpd,
            holder=holder,
            placed_at=placement["placed_at"],
            until=until,
            story=slot.story,
            closing_day=closing.days[-1][0] if closing else None,
        )
        contacts = self.contacts.for_case(view)
        closed_at = ends if status == CaseStatus.CLOSED and fate is None else None
        money = self.money.settle(
            MoneyCase(n, portfolio.currency, portfolio.time_zone, opened_on, self.now, closed_at),
            debts,
            contacts,
            closing,
            pays=fate is not None or status != CaseStatus.CLOSED,  # not on written-off or sold
            extras=slot.story is None,
        )
        # Classified by the domain's rule, as Case.reclassify would, from the debts as they stand.
        standing = assess(
            self.policy, ((d.days_past_due(as_of), d.outstanding.amount) for d in debts)
        )
        verdict = standing.verdict
        assert standing.days_past_due == dpd, (
            f"case {n}: built DPD {standing.days_past_due}, wanted {dpd}"
        )
        watch_until = None
        if fate is not None and money.closed_at is not None:
            closed_at = money.closed_at
            facts = Facts(
                0, standing.outstanding_amount, local_date(portfolio.time_zone, closed_at)
            )
            trigger = Trigger.CURE if fate == "cured" else Trigger.PAY_IN_FULL
            life.move(trigger, closed_at, facts)
            watch_until = LIFECYCLE.watch_until(facts.today)
        assert (life.status, life.stage) == (status, stage), f"case {n}: life ended elsewhere"
        rows[tables.borrowers].append(person.borrower)
        rows[tables.contact_points].extend(person.points)
        rows[tables.cases].append(
            {
                "id": n,
                "reference": f"AR-{as_of.year}-{n:06d}",
                "borrower_id": n,
                "portfolio": portfolio.name,
                "currency": portfolio.currency,
                "opened_on": opened_on,
                "status": status.value,
                "stage": stage.value,
                "days_past_due": standing.days_past_due,
                "bucket": verdict.bucket,
                "classification": verdict.classification.value,
                "policy_version": verdict.policy_version,
                "dpd_as_of": as_of,
                "outstanding_amount": standing.outstanding_amount,
                "assignee_id": STAFF_IDS.get(holder or ""),
                "close_reason": life.close_reason.value if life.close_reason else None,
                "closed_at": closed_at if status == CaseStatus.CLOSED else None,
                "watch_until": watch_until,
                "version": 1,
                **placement,
            }
        )
        period_from = max(opened_on, self._period_start(standing.days_past_due))
        rows[tables.classification_history].append(
            {
                "id": n,
                "case_id": n,
                "classification": verdict.classification.value,
                "bucket": verdict.bucket,
                "from_date": period_from,
                "to_date": None,
                "policy_version": verdict.policy_version,
                # The case's first period: a delinquent one begins its spell (as the daily run
                # keeps it, ``store.ageing.record_history``).
                "spell_from": period_from if verdict.bucket != CURRENT_BUCKET else None,
            }
        )
        self._debt_rows(n, portfolio, debts, rows)
        rows[tables.contacts].extend(entry.row for entry in contacts)
        rows[tables.promises].extend(money.promises)
        rows[tables.payments].extend(money.payments)
        rows[tables.payment_allocations].extend(money.allocations)
        rows[tables.payment_instalments].extend(money.instalments)

    def _period_start(self, dpd: int) -> date:
        """The day a case of ``dpd`` days past due on the as-of date entered its bucket and class
        (its first classification period, as the daily run would have opened it)."""
        verdict, first = self.policy.classify(dpd), dpd
        while first > 0 and self.policy.classify(first - 1) == verdict:
            first -= 1
        return self.as_of - timedelta(days=dpd - first)

    def _stage_and_status(self, dpd: int, forced: bool) -> tuple[CaseStage, CaseStatus]:
        rng = self.rng
        if dpd <= LIFECYCLE.escalate_after_days:
            stage = CaseStage.EARLY
        elif dpd > 90 and not forced and rng.random() < 0.4:
            stage = CaseStage.LEGAL
        elif dpd > 360 and not forced and rng.random() < 0.2:
            return CaseStage.WRITTEN_OFF, CaseStatus.CLOSED
        else:
            stage = CaseStage.COLLECTION
        if forced:
            return stage, CaseStatus.OPEN
        draw = rng.random()
        status = (
            CaseStatus.CLOSED
            if draw < 0.03
            else CaseStatus.ON_HOLD
            if draw < 0.06
            else CaseStatus.OPEN
        )
        return stage, status

    def _holder(self, dpd: int, stage: CaseStage) -> str:
        """Returns a collector's login, an agency's name or the pool for a worked case."""
        rng = self.rng
        draw = rng.random()
        if dpd > 30 and draw < 0.3:
            return "Acme Recovery" if rng.random() < 0.55 else "Zenith Collections"
        if draw < (0.7 if stage == CaseStage.EARLY else 0.8):
            limit = COLLECTOR_CAPACITY - CAPACITY_HEADROOM
            free = [c for c in COLLECTORS if self.load[c] + self.reserved[c] < limit]
            if free:
                # The least loaded for their share (as allocateCases' LEAST_LOADED would).
                return min(free, key=lambda c: (self.load[c] + self.reserved[c]) / COLLECTORS[c])
        return POOL

    def _placement(self, holder: str | None, dpd: int, early: bool) -> Row:
        """Placed some days ago, within the contract (a story's case: as early as it can be)."""
        if holder not in AGENCY_IDS:
            return {"agency_id": None, "placed_at": None, "placement_ends_on": None}
        days = AGENCIES[AGENCY_IDS[holder] - 1][2]
        longest = max(1, min(days - 1, dpd))
        placed_on = self.as_of - timedelta(days=longest if early else self.rng.randint(1, longest))
        at = time(self.rng.randint(1, 9), self.rng.randrange(60), tzinfo=UTC)
        return {
            "agency_id": AGENCY_IDS[holder],
            "placed_at": datetime.combine(placed_on, at),
            "placement_ends_on": placed_on + timedelta(days=days),
        }

    # -- the life cycle -------------------------------------------------------------------------

    def _stage_moves(
        self,
        life: _Life,
        placement: Row,
        opened_on: date,
        stage: CaseStage,
        dpd: int,
    ) -> None:
        """Moves the case from EARLY to its stage, as the daily cycle and legal referral would."""
        rng = self.rng
        life.touch(datetime.combine(opened_on, time(0), UTC))
        if placement["placed_at"] is not None:
            life.touch(placement["placed_at"])
        if stage is CaseStage.EARLY:
            return
        owed = Decimal(1)  # the guards of these moves look at days past due only

        def facts(day: date) -> Facts:
            return Facts((day - opened_on).days, owed, day)

        day = opened_on + timedelta(days=LIFECYCLE.escalate_after_days + 1)
        life.move(Trigger.ESCALATE, datetime.combine(day, time(0, 20), UTC), facts(day))
        if stage is CaseStage.LEGAL:
            day = opened_on + timedelta(days=91 + rng.randint(0, dpd - 91))
            life.move(Trigger.REFER_TO_LEGAL, datetime.combine(day, time(0, 40), UTC), facts(day))
        elif stage is CaseStage.WRITTEN_OFF:
            day = opened_on + timedelta(days=361)
            life.move(Trigger.WRITE_OFF, datetime.combine(day, time(0, 50), UTC), facts(day))

    def _ending(self, life: _Life, status: CaseStatus, opened_on: date) -> datetime | None:
        """Puts a case on hold or closes it (not by payment), after everything else it went
        through; returns when, or None for an open case."""
        if status is CaseStatus.OPEN:
            return None
        rng = self.rng
        drawn = datetime.combine(self.as_of - timedelta(days=rng.randint(1, 20)), time(3, 0), UTC)
        earliest = (life.last or datetime.combine(opened_on, time(0), UTC)) + timedelta(hours=1)
        at = min(max(drawn, earliest), self.now)
        facts = Facts(1, Decimal(1), at.date())
        if status is CaseStatus.ON_HOLD:
            life.move(Trigger.HOLD, at, facts)
        else:
            reason = (
                CloseReason.UNCOLLECTIBLE
                if life.stage is CaseStage.WRITTEN_OFF
                else rng.choice((CloseReason.DEBT_SOLD, CloseReason.UNCOLLECTIBLE))
            )
            life.move(Trigger.CLOSE, at, facts, reason)
        return at

    # -- debts ----------------------------------------------------------------------------------

    def _debts(
        self, n: int, dpd: int, written_off: bool, portfolio: Portfolio, fate: str | None
    ) -> list[Debt]:
        rng = self.rng
        count = 1 if fate == "paid" else rng.choices((1, 2, 3), weights=(55, 30, 15))[0]
        products = _PRODUCTS[portfolio.name]
        kinds = list(products)
        debts = []
        for index in range(count):
            if n <= len(kinds) and index == 0:
                product = kinds[n - 1]  # the first cases cover every product type
            else:
                product = rng.choices(kinds, weights=[p[4] for p in products.values()])[0]
            debt_dpd = dpd if index == 0 else rng.randint(0, dpd)
            debts.append(
                self._debt(
                    n, portfolio, product, debt_dpd, written_off, fate if index == 0 else None
                )
            )
        return debts

    def _debt(
        self,
        n: int,
        portfolio: Portfolio,
        product: ProductType,
        dpd: int,
        written_off: bool,
        fate: str | None,
    ) -> Debt:
        rng = self.rng
        low, high, term_low, term_high, _weight = _PRODUCTS[portfolio.name][product]
        principal = rng.randint(low, high)
        interest = principal * rng.randint(10, 80) // 1000
        penalty = principal * min(dpd, 360) * rng.randint(2, 5) // 10_000
        fee = rng.choice(_FEES[portfolio.name]) if dpd else 0
        per_month = max((principal + interest) // rng.randint(term_low, term_high), 10_000)
        debt_id = self._take("debts")
        schedule = self._schedule(dpd, per_month, fate)
        prefix = _ACCOUNT_PREFIX[(portfolio.name, product)]
        status = (
            DebtStatus.WRITTEN_OFF
            if written_off
            else DebtStatus.CLOSED
            if fate == "paid"
            else DebtStatus.DELINQUENT
            if dpd
            else DebtStatus.CURRENT
        )
        debt = Debt(
            account_number=f"{prefix}{rng.randrange(10_000):04d}{debt_id:010d}",
            product_type=product,
            currency=portfolio.currency,
            principal=cents(principal),
            interest=cents(interest),
            penalty=cents(penalty),
            fee=cents(fee),
            opened_on=_add_months(schedule[0].due_date, -rng.randint(1, 24)),
            status=status,
            instalments=schedule,
            borrower_id=n,
            case_id=n,
            id=debt_id,
        )
        assert debt.days_past_due(self.as_of) == dpd, f"debt {debt_id}: DPD is not {dpd}"
        return debt

    def _schedule(self, dpd: int, per_month: int, fate: str | None) -> list[Instalment]:
        """Monthly instalments whose oldest unpaid due date is ``as_of - dpd`` (if dpd > 0).

        A debt to be cured or paid off by the demo's payments has at least two instalments past
        due and a next one within 20 days; one paid off has every instalment paid (its payments
        then reopen the last ones)."""
        rng = self.rng
        count = rng.randint(4, 12) if fate else rng.randint(3, 12)
        first_unpaid = rng.randint(2, count - 1) if fate else rng.randrange(count)
        if dpd:  # the oldest unpaid due date
            anchor = self.as_of - timedelta(days=dpd)
        else:  # the next due date
            anchor = self.as_of + timedelta(days=rng.randint(1, 20 if fate else 28))
        schedule = []
        for index in range(count):
            if index < first_unpaid or fate == "paid":
                paid = per_month
            elif dpd and rng.random() < 0.3:
                paid = per_month * rng.randint(5, 95) // 100
            else:
                paid = 0
            schedule.append(
                Instalment(
                    index + 1,
                    _add_months(anchor, index - first_unpaid),
                    cents(per_month),
                    cents(paid),
                    id=self._take("instalments"),
                )
            )
        return schedule

    def _debt_rows(
        self, n: int, portfolio: Portfolio, debts: list[Debt], rows: dict[Table, list[Row]]
    ) -> None:
        for debt in debts:
            # Aged as the daily run ages it (each debt's own DPD; the demo sends no core DPD).
            aged = debt.days_past_due(self.as_of)
            rows[tables.debts].append(
                {
                    "id": debt.id,
                    "case_id": n,
                    "borrower_id": n,
                    "account_number": debt.account_number,
                    "product_type": debt.product_type.value,
                    "currency": portfolio.currency,
                    "principal": debt.principal,
                    "interest": debt.interest,
                    "penalty": debt.penalty,
                    "fee": debt.fee,
                    "opened_on": debt.opened_on,
                    "status": debt.status.value,
                    "paused_days": 0,
                    "aged_dpd": aged,
                    "aged_bucket": self.policy.bucket(aged),
                }
            )
            rows[tables.instalments].extend(
                {
                    "id": inst.id,
                    "debt_id": debt.id,
                    "sequence": inst.sequence,
                    "due_date": inst.due_date,
                    "amount_due": inst.amount_due,
                    "amount_paid": inst.amount_paid,
                }
                for inst in debt.instalments
            )

    def _take(self, kind: str) -> int:
        value = self.next_id.get(kind, 1)
        self.next_id[kind] = value + 1
        return value


# Every other table the demo fills refers to one of these, so they are enough to check.
_CHECKED = (tables.cases, tables.staff, tables.agencies, tables.borrowers)


async def _ensure_empty(conn: AsyncConnection) -> None:
    """Raises DatabaseNotEmpty if cases, staff, agencies or borrowers already hold rows."""
    for table in _CHECKED:
        held = (await conn.execute(select(func.count()).select_from(table))).scalar_one()
        if held:
            raise DatabaseNotEmpty(
                f"the database already holds {held} {table.name}; "
                "demo data is only seeded into an empty database"
            )


async def _insert(conn: AsyncConnection, table: Table, rows: list[Row]) -> None:
    for start in range(0, len(rows), INSERT_BATCH):
        await conn.execute(insert(table), rows[start : start + INSERT_BATCH])


async def seed_demo(
    engine: AsyncEngine,
    cases: int = 1000,
    seed: int = 42,
    as_of: date | None = None,
    progress: Callable[[int], None] | None = None,
    policy: ClassificationPolicy = DEFAULT_POLICY,
) -> DemoSummary:
    """Seeds a deterministic demo portfolio into an empty, migrated database in one transaction."""
    if cases < 1:
        raise ValueError(f"cases must be at least 1, not {cases}")
    generator = _Generator(seed, as_of or datetime.now(UTC).date(), policy, cases)
    counts = dict.fromkeys(_FILLED, 0)
    async with engine.connect() as conn:
        await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            await _ensure_empty(conn)
            for table, rows in (
                (tables.agencies, generator.agencies()),
                (tables.staff, generator.staff()),
            ):
                await _insert(conn, table, rows)
                counts[table] = len(rows)
            for first in range(1, cases + 1, CHUNK_CASES):
                size = min(CHUNK_CASES, cases - first + 1)
                for table, rows in generator.chunk(first, size).items():
                    await _insert(conn, table, rows)
                    counts[table] += len(rows)
                if progress is not None:
                    progress(size)
            protected = await seed_protections(
                conn, seed, generator.as_of, generator.now, generator.scripted
            )
            if engine.dialect.name == "postgresql":
                for table in (*_FILLED, *_PROTECTIONS):
                    await conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table.name}), false)"
                        )
                    )
    return DemoSummary(**{table.name: held for table, held in counts.items()}, **protected)
