"""Deterministic demo portfolio: staff, agencies, borrowers, debts, instalments and contacts.

``seed_demo`` fills an empty, migrated database. The same seed and ``as_of`` date give
byte-identical rows: personal data comes from ``Faker("zh_CN")`` seeded with the seed, every
other choice from one ``random.Random(seed)``, and every date is relative to ``as_of``. Faker is
imported only when seeding starts, so importing this module (for ``DEMO_LOGINS``) does not load it.

Staff are the logins of CONTRACT.md (``DEMO_LOGINS``) plus two records for testing the rules:
the inactive collector ``collector9`` (team West) and the inactive agency "Dormant Partners".
Each case's DPD is drawn first (so that every bucket of the default policy, M0..M7, occurs),
then its debts' instalment schedules are built so that ``Debt.days_past_due(as_of)`` yields
exactly that DPD; the case's DPD, bucket, classification, policy version and outstanding then
come from the domain's rule (``domain.cases.classification.assess``, with ``DEFAULT_POLICY``
unless told otherwise), as ``Case.reclassify`` gives them. The first cases cover each collector,
both active agencies and the unassigned pool. Collectors carry at most
``COLLECTOR_CAPACITY - CAPACITY_HEADROOM`` open cases, so a test can always assign one more;
closed and legal-stage cases are left unassigned.

Rows get explicit ids and are inserted with Core executemany, chunk by chunk, in one
transaction; on PostgreSQL the id sequences are moved past the seeded rows afterwards.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.cases.classification import DEFAULT_POLICY, ClassificationPolicy, assess
from domain.cases.model import CaseStage, CaseStatus
from domain.debts.model import Debt, DebtStatus, Instalment, ProductType
from domain.staff.model import Role
from store import tables

Row = dict[str, Any]

CHUNK_CASES = 2000  # cases generated and inserted per round
INSERT_BATCH = 5000  # rows per executemany
COLLECTOR_CAPACITY = 400
CAPACITY_HEADROOM = 20
CURRENCY = "CNY"
PORTFOLIO = "retail"
_SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

# name, commission rate, placement days, active
_AGENCIES = (
    ("Acme Recovery", Decimal("0.1800"), 90, True),
    ("Zenith Collections", Decimal("0.1500"), 60, True),
    ("Dormant Partners", Decimal("0.2000"), 90, False),
)
_AGENCY_IDS = {spec[0]: n for n, spec in enumerate(_AGENCIES, start=1)}

# login, roles, team, agency, capacity, active
_STAFF: tuple[tuple[str, tuple[Role, ...], str | None, str | None, int, bool], ...] = (
    ("admin", (Role.ADMIN,), None, None, 0, True),
    ("manager", (Role.MANAGER,), None, None, 0, True),
    ("lead1", (Role.TEAM_LEAD,), "East", None, COLLECTOR_CAPACITY, True),
    ("collector1", (Role.COLLECTOR,), "East", None, COLLECTOR_CAPACITY, True),
    ("collector2", (Role.COLLECTOR,), "East", None, COLLECTOR_CAPACITY, True),
    ("collector3", (Role.COLLECTOR,), "West", None, COLLECTOR_CAPACITY, True),
    ("legal1", (Role.LEGAL,), None, None, 0, True),
    ("auditor1", (Role.AUDITOR,), None, None, 0, True),
    ("acme.agent1", (Role.AGENCY_AGENT,), None, "Acme Recovery", 0, True),
    ("acme.manager", (Role.AGENCY_MANAGER,), None, "Acme Recovery", 0, True),
    ("zenith.agent1", (Role.AGENCY_AGENT,), None, "Zenith Collections", 0, True),
    ("collector9", (Role.COLLECTOR,), "West", None, COLLECTOR_CAPACITY, False),
)
_STAFF_IDS = {spec[0]: n for n, spec in enumerate(_STAFF, start=1)}


def _describe(roles: tuple[str, ...], team: str | None, agency: str | None) -> str:
    """Returns "collector, team East"-style text for the login table."""
    where = [f"team {team}"] if team else [f"agency {agency}"] if agency else []
    return ", ".join([*roles, *where])


# (login, roles and team or agency) of the contract's logins, in CONTRACT.md order.
DEMO_LOGINS: tuple[tuple[str, str], ...] = tuple(
    (login, _describe(roles, team, agency))
    for login, roles, team, agency, _capacity, active in _STAFF
    if active
)

_COLLECTORS = {"collector1": 32, "collector2": 32, "collector3": 30, "lead1": 6}
_AGENCY_STAFF = {
    "Acme Recovery": ("acme.agent1",) * 3 + ("acme.manager",),
    "Zenith Collections": ("zenith.agent1",),
}
_POOL = "pool"
_WORKED_STAGES = (CaseStage.EARLY, CaseStage.COLLECTION)  # stages a collector or agency works
# Bucket M<n> draws DPD from _BUCKET_STARTS[n] up to the next start - 1 (M7: 181..720);
# about 8% of cases are current, the rest spread over M1..M7.
_BUCKET_STARTS = (0, 1, 31, 61, 91, 121, 151, 181, 721)
_BUCKET_WEIGHTS = (8, 22, 16, 13, 10, 9, 8, 14)
# Product: principal range in cents, remaining term in months, weight.
_PRODUCTS = {
    ProductType.CREDIT_CARD: (200_000, 8_000_000, 6, 24, 35),
    ProductType.CONSUMER_LOAN: (500_000, 20_000_000, 12, 36, 35),
    ProductType.AUTO_LOAN: (3_000_000, 40_000_000, 24, 60, 15),
    ProductType.MORTGAGE: (20_000_000, 300_000_000, 120, 360, 15),
}
_PRODUCT_WEIGHTS = [p[4] for p in _PRODUCTS.values()]
_ACCOUNT_PREFIX = {
    ProductType.CREDIT_CARD: "6225",
    ProductType.CONSUMER_LOAN: "CL",
    ProductType.AUTO_LOAN: "AL",
    ProductType.MORTGAGE: "ML",
}
_NOTES = {
    "RIGHT_PARTY_CONTACT": ("Reminded of the overdue balance.", "Discussed repayment options."),
    "NO_ANSWER": ("No answer.", "No response received."),
    "WRONG_NUMBER": ("Number does not reach the intended party.",),
    "PROMISE_TO_PAY": ("Promise to pay recorded.", "Agreed to pay before the next due date."),
    "REFUSAL": ("Declined to discuss repayment.",),
    "DISPUTE_RAISED": ("Balance disputed; referred for review.",),
}
_OUT_OUTCOMES = {"PHONE": (25, 40, 5, 15, 10, 5), "FIELD_VISIT": (50, 30, 0, 10, 8, 2)}
_MESSAGE_OUTCOMES = (12, 75, 1, 8, 2, 2)  # SMS, e-mail, letters, legal notices
_IN_OUTCOMES = (45, 0, 0, 35, 10, 10)

# Tables in insertion order (parents first).
_FILLED = (
    tables.agencies,
    tables.staff,
    tables.borrowers,
    tables.cases,
    tables.debts,
    tables.instalments,
    tables.contacts,
)


class DatabaseNotEmpty(Exception):
    """The database already holds data; demo data is only seeded into an empty database."""


@dataclass(frozen=True)
class DemoSummary:
    """How many rows of each kind ``seed_demo`` wrote."""

    cases: int
    borrowers: int
    debts: int
    instalments: int
    contacts: int
    staff: int
    agencies: int


def _cents(amount: int) -> Decimal:
    """Returns an integer number of cents as a Decimal with exactly two places."""
    return Decimal(amount).scaleb(-2)


def _add_months(day: date, months: int) -> date:
    """Returns the same day ``months`` later (or earlier), clamped to the month's end."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _check_character(body: str) -> str:
    """Returns the GB 11643 check character for the first 17 digits of a national ID."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


class _Generator:
    """Builds the rows of the portfolio case by case; all randomness flows through here."""

    def __init__(self, seed: int, as_of: date, policy: ClassificationPolicy) -> None:
        # Imported here, not at the top: the server imports this module for DEMO_LOGINS, and
        # only seeding needs Faker.
        from faker import Faker

        self.rng = random.Random(seed)
        self.policy = policy
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.as_of = as_of
        self.national_ids: set[str] = set()
        self.load = dict.fromkeys(_COLLECTORS, 0)
        self.next_id = {"debts": 1, "instalments": 1, "contacts": 1}
        self.plan = self._opening_plan()

    def _opening_plan(self) -> list[tuple[int, str | None]]:
        """The first cases: (bucket, holder) so that every holder and bucket occurs."""
        rng = self.rng
        holders = [*_COLLECTORS, _POOL]
        buckets = [0, 1, 4, 5, 6]
        rng.shuffle(buckets)
        agencies = [2, 3]
        rng.shuffle(agencies)
        plan: list[tuple[int, str | None]] = [
            *zip(buckets, holders, strict=True),
            *zip(agencies, ("Acme Recovery", "Zenith Collections"), strict=True),
        ]
        rng.shuffle(plan)
        return [*plan, (7, None)]

    def agencies(self) -> list[Row]:
        return [
            {
                "id": _AGENCY_IDS[name],
                "name": name,
                "commission_rate": rate,
                "placement_days": days,
                "active": active,
            }
            for name, rate, days, active in _AGENCIES
        ]

    def staff(self) -> list[Row]:
        return [
            {
                "id": _STAFF_IDS[login],
                "login": login,
                "name": self.fake.name(),
                "roles": [str(role) for role in roles],
                "team": team,
                "agency_id": _AGENCY_IDS[agency] if agency else None,
                "capacity": capacity,
                "active": active,
            }
            for login, roles, team, agency, capacity, active in _STAFF
        ]

    def chunk(self, first: int, count: int) -> dict[Table, list[Row]]:
        """Returns the rows of cases ``first`` .. ``first + count - 1``, parents first."""
        rows: dict[Table, list[Row]] = {t: [] for t in _FILLED[2:]}
        for n in range(first, first + count):
            rows[tables.borrowers].append(self._borrower(n))
            self._case(n, rows)
        return rows

    def _borrower(self, n: int) -> Row:
        fake = self.fake
        name, national_id = fake.name(), self._national_id()
        phone, email = fake.phone_number(), fake.email()
        province, city, district = fake.province(), fake.city(), fake.district() + "区"
        address = f"{province}{city}{district}{fake.street_address()} {fake.postcode()}"
        return {
            "id": n,
            "full_name": name,
            "national_id": national_id,
            "phone": phone,
            "email": email,
            "address": address,
            "city": city,
            "district": district,
            "employer": fake.company(),
            "income": _cents(self.rng.randint(3_000, 60_000) * 100),
            "income_currency": CURRENCY,
            "time_zone": "Asia/Shanghai",
        }

    def _national_id(self) -> str:
        """Faker's area code and sequence, a birth date relative to as_of, a valid checksum."""
        while True:
            raw = self.fake.ssn()
            born = self.as_of - timedelta(days=self.rng.randint(22 * 365, 65 * 365))
            body = raw[:6] + born.strftime("%Y%m%d") + raw[14:17]
            candidate = body + _check_character(body)
            if candidate not in self.national_ids:
                self.national_ids.add(candidate)
                return candidate

    def _case(self, n: int, rows: dict[Table, list[Row]]) -> None:
        rng, as_of = self.rng, self.as_of
        bucket, holder = self.plan[n - 1] if n <= len(self.plan) else (None, None)
        if bucket is None:
            bucket = rng.choices(range(len(_BUCKET_WEIGHTS)), weights=_BUCKET_WEIGHTS)[0]
        dpd = rng.randrange(_BUCKET_STARTS[bucket], _BUCKET_STARTS[bucket + 1])
        stage, status = self._stage_and_status(dpd, forced=holder is not None)
        if holder is None and status != CaseStatus.CLOSED and stage in _WORKED_STAGES:
            holder = self._holder(dpd, stage)
        assignee_id = _STAFF_IDS.get(holder or "")
        if holder in _COLLECTORS:
            self.load[holder] += 1
        opened_on = as_of - timedelta(days=dpd if dpd else rng.randint(0, 14))
        placement = self._placement(holder, dpd)
        debts = self._debts(n, dpd, stage == CaseStage.WRITTEN_OFF, rows)
        # Classified by the domain's rule, as Case.reclassify would, from the debts just built.
        standing = assess(
            self.policy, ((d.days_past_due(as_of), d.outstanding.amount) for d in debts)
        )
        verdict = standing.verdict
        assert standing.days_past_due == dpd, (
            f"case {n}: built DPD {standing.days_past_due}, wanted {dpd}"
        )
        case = {
            "id": n,
            "reference": f"AR-{as_of.year}-{n:06d}",
            "borrower_id": n,
            "portfolio": PORTFOLIO,
            "currency": CURRENCY,
            "opened_on": opened_on,
            "status": status.value,
            "stage": stage.value,
            "days_past_due": standing.days_past_due,
            "bucket": verdict.bucket,
            "classification": verdict.classification.value,
            "policy_version": verdict.policy_version,
            "dpd_as_of": as_of,
            "outstanding_amount": standing.outstanding_amount,
            "assignee_id": assignee_id,
            "version": 1,
            **placement,
        }
        rows[tables.cases].append(case)
        self._contacts(case, holder, rows[tables.contacts])

    def _stage_and_status(self, dpd: int, forced: bool) -> tuple[CaseStage, CaseStatus]:
        rng = self.rng
        if dpd <= 30:
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
            free = [c for c in _COLLECTORS if self.load[c] < COLLECTOR_CAPACITY - CAPACITY_HEADROOM]
            if free:
                return rng.choices(free, weights=[_COLLECTORS[c] for c in free])[0]
        return _POOL

    def _placement(self, holder: str | None, dpd: int) -> Row:
        if holder not in _AGENCY_IDS:
            return {"agency_id": None, "placed_at": None, "placement_ends_on": None}
        days = _AGENCIES[_AGENCY_IDS[holder] - 1][2]
        placed_on = self.as_of - timedelta(days=self.rng.randint(1, max(1, min(days - 1, dpd))))
        at = time(self.rng.randint(1, 9), self.rng.randrange(60), tzinfo=UTC)
        return {
            "agency_id": _AGENCY_IDS[holder],
            "placed_at": datetime.combine(placed_on, at),
            "placement_ends_on": placed_on + timedelta(days=days),
        }

    def _debts(
        self, n: int, dpd: int, written_off: bool, rows: dict[Table, list[Row]]
    ) -> list[Debt]:
        rng = self.rng
        count = rng.choices((1, 2, 3), weights=(55, 30, 15))[0]
        products = list(_PRODUCTS)
        debts = []
        for index in range(count):
            if n <= len(products) and index == 0:
                product = products[n - 1]  # the first cases cover every product type
            else:
                product = rng.choices(products, weights=_PRODUCT_WEIGHTS)[0]
            debt_dpd = dpd if index == 0 else rng.randint(0, dpd)
            debt = self._debt(n, product, debt_dpd, written_off)
            debts.append(debt)
            rows[tables.debts].append(
                {
                    "id": debt.id,
                    "case_id": n,
                    "borrower_id": n,
                    "account_number": debt.account_number,
                    "product_type": product.value,
                    "currency": CURRENCY,
                    "principal": debt.principal,
                    "interest": debt.interest,
                    "penalty": debt.penalty,
                    "fee": debt.fee,
                    "opened_on": debt.opened_on,
                    "status": debt.status.value,
                    "paused_days": 0,
                }
            )
            for inst in debt.instalments:
                rows[tables.instalments].append(
                    {
                        "id": inst.id,
                        "debt_id": debt.id,
                        "sequence": inst.sequence,
                        "due_date": inst.due_date,
                        "amount_due": inst.amount_due,
                        "amount_paid": inst.amount_paid,
                    }
                )
        return debts

    def _debt(self, n: int, product: ProductType, dpd: int, written_off: bool) -> Debt:
        rng = self.rng
        low, high, term_low, term_high, _weight = _PRODUCTS[product]
        principal = rng.randint(low, high)
        interest = principal * rng.randint(10, 80) // 1000
        penalty = principal * min(dpd, 360) * rng.randint(2, 5) // 10_000
        fee = rng.choice((0, 3_000, 5_000, 10_000, 20_000)) if dpd else 0
        per_month = max((principal + interest) // rng.randint(term_low, term_high), 10_000)
        debt_id = self._take("debts")
        schedule = self._schedule(dpd, per_month)
        prefix = _ACCOUNT_PREFIX[product]
        status = (
            DebtStatus.WRITTEN_OFF
            if written_off
            else DebtStatus.DELINQUENT
            if dpd
            else DebtStatus.CURRENT
        )
        debt = Debt(
            account_number=f"{prefix}{rng.randrange(10_000):04d}{debt_id:010d}",
            product_type=product,
            currency=CURRENCY,
            principal=_cents(principal),
            interest=_cents(interest),
            penalty=_cents(penalty),
            fee=_cents(fee),
            opened_on=_add_months(schedule[0].due_date, -rng.randint(1, 24)),
            status=status,
            instalments=schedule,
            borrower_id=n,
            case_id=n,
            id=debt_id,
        )
        assert debt.days_past_due(self.as_of) == dpd, f"debt {debt_id}: DPD is not {dpd}"
        return debt

    def _schedule(self, dpd: int, per_month: int) -> list[Instalment]:
        """Monthly instalments whose oldest unpaid due date is ``as_of - dpd`` (if dpd > 0)."""
        rng = self.rng
        count = rng.randint(3, 12)
        first_unpaid = rng.randrange(count)
        if dpd:  # the oldest unpaid due date
            anchor = self.as_of - timedelta(days=dpd)
        else:  # the next due date
            anchor = self.as_of + timedelta(days=rng.randint(1, 28))
        schedule = []
        for index in range(count):
            if index < first_unpaid:
                paid = per_month
            elif dpd and rng.random() < 0.3:
                paid = per_month * rng.randint(5, 95) // 100
            else:
                paid = 0
            schedule.append(
                Instalment(
                    index + 1,
                    _add_months(anchor, index - first_unpaid),
                    _cents(per_month),
                    _cents(paid),
                    id=self._take("instalments"),
                )
            )
        return schedule

    def _contacts(self, case: Row, holder: str | None, out: list[Row]) -> None:
        rng = self.rng
        span = (self.as_of - case["opened_on"]).days
        if span <= 0 or rng.random() < 0.12:
            return
        dpd = case["days_past_due"]
        moments = sorted(
            datetime.combine(
                case["opened_on"] + timedelta(days=rng.randrange(span)),
                time(rng.randint(9, 19), rng.randrange(60), rng.randrange(60), tzinfo=_SHANGHAI),
            ).astimezone(UTC)
            for _ in range(rng.randint(1, 2) if dpd == 0 else rng.randint(1, 6))
        )
        channels = ["PHONE", "SMS", "EMAIL", "LETTER", "FIELD_VISIT", "LEGAL_NOTICE"]
        weights = [55, 20, 8, 7, 4 if dpd > 30 else 0, 6 if dpd > 90 else 0]
        for at in moments:
            channel = rng.choices(channels, weights=weights)[0]
            inbound = channel in ("PHONE", "SMS", "EMAIL") and rng.random() < 0.1
            if inbound:
                outcome_weights: Sequence[int] = _IN_OUTCOMES
            else:
                outcome_weights = _OUT_OUTCOMES.get(channel, _MESSAGE_OUTCOMES)
            outcome = rng.choices(list(_NOTES), weights=outcome_weights)[0]
            party = "BORROWER"
            if channel in ("PHONE", "LETTER", "FIELD_VISIT"):
                party = rng.choices(("BORROWER", "GUARANTOR", "OTHER"), weights=(85, 10, 5))[0]
            out.append(
                {
                    "id": self._take("contacts"),
                    "case_id": case["id"],
                    "staff_id": self._contact_staff(case, holder, channel, at),
                    "at": at,
                    "channel": channel,
                    "direction": "INBOUND" if inbound else "OUTBOUND",
                    "party": party,
                    "outcome": outcome,
                    "notes": rng.choice(_NOTES[outcome]),
                }
            )

    def _contact_staff(self, case: Row, holder: str | None, channel: str, at: datetime) -> int:
        rng = self.rng
        if channel == "LEGAL_NOTICE":
            return _STAFF_IDS["legal1"]
        if holder in _AGENCY_STAFF and at >= case["placed_at"]:
            return _STAFF_IDS[rng.choice(_AGENCY_STAFF[holder])]
        if holder in _COLLECTORS and rng.random() < 0.9:
            return _STAFF_IDS[holder]
        return _STAFF_IDS[rng.choice(("collector1", "collector2", "collector3"))]

    def _take(self, kind: str) -> int:
        value = self.next_id[kind]
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
    generator = _Generator(seed, as_of or datetime.now(UTC).date(), policy)
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
            if engine.dialect.name == "postgresql":
                for table in _FILLED:
                    await conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT MAX(id) FROM {table.name}))"
                        )
                    )
    return DemoSummary(**{table.name: held for table, held in counts.items()})
