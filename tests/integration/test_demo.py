"""The demo portfolio: deterministic, contract logins, every bucket, consistent DPD, allocation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Row, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.cases.classification import (
    DEFAULT_POLICY,
    ClassBand,
    Classification,
    ClassificationPolicy,
    assess,
)
from domain.cases.model import Case, CaseStage, CaseStatus
from domain.contacts.model import (
    CHANNEL_KIND,
    ContactChannel,
    ContactOutcome,
    ContactParty,
    ContactPointKind,
    ContactPointStatus,
)
from domain.debts.model import Debt, DebtStatus, Instalment, ProductType
from domain.portfolios import conduct_profile_of
from store import demo, tables
from store.db import create_engine
from store.demo import DEMO_LOGINS, DatabaseNotEmpty, seed_demo
from store.migrate import upgrade
from tests.conftest import PG_URL, _create_pg_database

AS_OF = date(2026, 3, 31)  # a month end: schedules step back through shorter months
NOW = datetime(2026, 3, 31, 2, 0, tzinfo=UTC)  # the demo's "now": nothing happens later
US_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ALL_TABLES = (
    tables.agencies,
    tables.staff,
    tables.borrowers,
    tables.contact_points,
    tables.cases,
    tables.debts,
    tables.instalments,
    tables.contacts,
    tables.promises,
    tables.payments,
    tables.payment_allocations,
    tables.payment_instalments,
    tables.complaints,
    tables.borrower_flags,
    tables.external_signals,
    tables.warnings,
)
# login: (roles, team, agency, active) as CONTRACT.md lists them, plus the inactive collector.
EXPECTED_STAFF = {
    "admin": (["admin"], None, None, True),
    "manager": (["manager"], None, None, True),
    "lead1": (["team_lead"], "East", None, True),
    "collector1": (["collector"], "East", None, True),
    "collector2": (["collector"], "East", None, True),
    "collector3": (["collector"], "West", None, True),
    "legal1": (["legal"], None, None, True),
    "auditor1": (["auditor"], None, None, True),
    "acme.agent1": (["agency_agent"], None, "Acme Recovery", True),
    "acme.manager": (["agency_manager"], None, "Acme Recovery", True),
    "zenith.agent1": (["agency_agent"], None, "Zenith Collections", True),
    "core.banking": (["integration"], None, None, True),
    "collector9": (["collector"], "West", None, False),
}


@pytest.fixture
async def other_database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A second fresh, unmigrated database of the backend under test."""
    if PG_URL:
        url, drop = await _create_pg_database(PG_URL)
        try:
            yield url
        finally:
            await drop()
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"


@pytest.fixture
async def migrated(empty_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a migrated, empty database."""
    eng = create_engine(empty_database_url)
    await upgrade(eng)
    try:
        yield eng
    finally:
        await eng.dispose()


async def dump(engine: AsyncEngine, *which: Table) -> dict[str, list[tuple[Any, ...]]]:
    async with engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in await conn.execute(select(t).order_by(t.c.id))]
            for t in which
        }


async def counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            t.name: (await conn.execute(select(func.count()).select_from(t))).scalar_one()
            for t in ALL_TABLES
        }


async def test_same_seed_gives_identical_rows_whatever_the_chunk_size(
    migrated: AsyncEngine, other_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await seed_demo(migrated, cases=40, seed=11, as_of=AS_OF)
    other = create_engine(other_database_url)
    try:
        await upgrade(other)
        monkeypatch.setattr(demo, "CHUNK_CASES", 16)
        done: list[int] = []
        second = await seed_demo(other, cases=40, seed=11, as_of=AS_OF, progress=done.append)
        assert done == [16, 16, 8]
        assert first == second
        assert first.cases == first.borrowers == 40 and first.staff == 13 and first.agencies == 3
        assert first.debts >= 40 and first.instalments >= 3 * first.debts
        assert first.contact_points >= 3 * first.borrowers
        assert min(first.promises, first.payments, first.payment_allocations) > 0
        assert min(first.complaints, first.borrower_flags, first.external_signals) > 0
        assert first.warnings > first.cases
        rows = await dump(migrated, *ALL_TABLES)
        assert rows == await dump(other, *ALL_TABLES)
        assert len(rows["cases"]) == 40 and len(rows["contacts"]) == first.contacts > 0
        assert {name: len(held) for name, held in rows.items()} == {
            name: getattr(first, name) for name in rows
        }
    finally:
        await other.dispose()


async def test_a_different_seed_gives_different_borrowers(
    migrated: AsyncEngine, other_database_url: str
) -> None:
    await seed_demo(migrated, cases=40, seed=11, as_of=AS_OF)
    other = create_engine(other_database_url)
    try:
        await upgrade(other)
        await seed_demo(other, cases=40, seed=12, as_of=AS_OF)
        mine = (await dump(migrated, tables.borrowers))["borrowers"]
        theirs = (await dump(other, tables.borrowers))["borrowers"]
        assert len(mine) == len(theirs) == 40
        column = list(tables.borrowers.c.keys()).index("national_id")
        assert {r[column] for r in mine}.isdisjoint({r[column] for r in theirs})
        assert mine != theirs
    finally:
        await other.dispose()


async def test_every_contract_login_exists_with_its_roles_team_and_agency(
    migrated: AsyncEngine,
) -> None:
    await seed_demo(migrated, cases=20, seed=3, as_of=AS_OF)
    s, a = tables.staff.c, tables.agencies.c
    async with migrated.connect() as conn:
        staff = (
            await conn.execute(
                select(
                    s.login,
                    s.roles,
                    s.team,
                    a.name.label("agency"),
                    s.active,
                    s.capacity,
                    s.name.label("display_name"),
                ).outerjoin(tables.agencies, a.id == s.agency_id)
            )
        ).all()
        agencies = {
            r.name: (r.commission_rate, r.placement_days, r.active)
            for r in await conn.execute(select(tables.agencies))
        }
    assert {r.login: (r.roles, r.team, r.agency, r.active) for r in staff} == EXPECTED_STAFF
    assert [login for login, _ in DEMO_LOGINS] == list(EXPECTED_STAFF)[:-1]
    assert dict(DEMO_LOGINS)["acme.manager"] == "agency_manager, agency Acme Recovery"
    assert dict(DEMO_LOGINS)["collector3"] == "collector, team West"
    assert dict(DEMO_LOGINS)["core.banking"] == "integration"
    capacity = {r.login: r.capacity for r in staff}
    assert all(capacity[c] == demo.COLLECTOR_CAPACITY for c in ("lead1", "collector1"))
    assert capacity["admin"] == capacity["acme.agent1"] == capacity["core.banking"] == 0
    assert all(r.display_name and not r.display_name.isascii() for r in staff)  # Chinese
    assert agencies["Acme Recovery"] == (Decimal("0.18"), 90, True)
    assert agencies["Zenith Collections"] == (Decimal("0.15"), 60, True)
    assert agencies["Dormant Partners"][2] is False


async def seeded_cases(engine: AsyncEngine) -> tuple[list[Row[Any]], dict[int, list[Debt]]]:
    """Returns the case rows in id order and each case's debts rebuilt from the database."""
    async with engine.connect() as conn:
        cases = (await conn.execute(select(tables.cases).order_by(tables.cases.c.id))).all()
        debt_rows = (await conn.execute(select(tables.debts).order_by(tables.debts.c.id))).all()
        schedule = defaultdict(list)
        instalments = select(tables.instalments).order_by(tables.instalments.c.id)
        for i in await conn.execute(instalments):
            schedule[i.debt_id].append(
                Instalment(i.sequence, i.due_date, i.amount_due, i.amount_paid, id=i.id)
            )
    debts_of: dict[int, list[Debt]] = defaultdict(list)
    for d in debt_rows:
        debts_of[d.case_id].append(
            Debt(
                account_number=d.account_number,
                product_type=ProductType(d.product_type),
                currency=d.currency,
                principal=d.principal,
                interest=d.interest,
                penalty=d.penalty,
                fee=d.fee,
                opened_on=d.opened_on,
                status=DebtStatus(d.status),
                paused_days=d.paused_days,
                instalments=schedule[d.id],
                case_id=d.case_id,
                id=d.id,
            )
        )
    return list(cases), debts_of


async def test_two_hundred_cases_cover_every_bucket_with_consistent_dpd(
    migrated: AsyncEngine,
) -> None:
    summary = await seed_demo(migrated, cases=200, seed=5, as_of=AS_OF)
    assert summary.cases == 200
    cases, debts_of = await seeded_cases(migrated)
    debt_rows = [d for debts in debts_of.values() for d in debts]
    assert {c.bucket for c in cases} == {f"M{n}" for n in range(8)}
    assert {d.product_type for d in debt_rows} == {p.value for p in ProductType}
    assert {d.currency for d in debt_rows} == {"CNY", "USD"}
    assert len({d.account_number for d in debt_rows}) == len(debt_rows)
    for case in cases:
        debts = debts_of[case.id]
        assert 1 <= len(debts) <= 3, case.reference
        assert all(3 <= len(d.instalments) <= 12 for d in debts), case.reference
        assert {d.currency for d in debts} == {case.currency}, case.reference
        dpd = max(d.days_past_due(AS_OF) for d in debts)
        verdict = DEFAULT_POLICY.classify(dpd)
        assert case.days_past_due == dpd, case.reference
        assert (case.bucket, case.classification) == (verdict.bucket, verdict.classification)
        assert case.policy_version == DEFAULT_POLICY.version and case.dpd_as_of == AS_OF
        assert case.outstanding_amount == sum(d.outstanding.amount for d in debts)
        assert case.reference == f"AR-2026-{case.id:06d}" and case.version == 1
        assert case.opened_on <= AS_OF
        for debt in debts:
            expected = "CURRENT" if debt.days_past_due(AS_OF) == 0 else "DELINQUENT"
            if debt.outstanding.amount == 0:  # paid off
                expected = "CLOSED"
            assert debt.status in (expected, "WRITTEN_OFF")
    assert sum(c.days_past_due == 0 for c in cases) < 40  # about 8% current
    assert {c.stage for c in cases if c.days_past_due <= 30 and c.status != "CLOSED"} == {"EARLY"}
    assert {c.stage for c in cases if c.days_past_due > 90} >= {"LEGAL", "COLLECTION"}
    assert {c.status for c in cases if c.stage == "WRITTEN_OFF"} <= {"CLOSED"}
    # Each case's one classification period, open, in its bucket; a delinquent one begins the
    # case's delinquent spell (what the reports' recoveries and open spells read).
    h = tables.classification_history.c
    async with migrated.connect() as conn:
        periods = {
            row.case_id: row
            for row in await conn.execute(select(h.case_id, h.bucket, h.from_date, h.spell_from))
        }
    assert periods.keys() == {c.id for c in cases}
    for case in cases:
        period = periods[case.id]
        assert period.bucket == case.bucket, case.reference
        late = period.bucket != "M0"
        assert period.spell_from == (period.from_date if late else None), case.reference


def case_of(row: Row[Any], debts: list[Debt]) -> Case:
    """The Case aggregate as the row stores it, with its debts."""
    return Case(
        row.reference,
        row.borrower_id,
        row.portfolio,
        row.currency,
        row.opened_on,
        status=CaseStatus(row.status),
        stage=CaseStage(row.stage),
        days_past_due=row.days_past_due,
        bucket=row.bucket,
        classification=Classification(row.classification),
        policy_version=row.policy_version,
        dpd_as_of=row.dpd_as_of,
        outstanding_amount=row.outstanding_amount,
        id=row.id,
        debts=debts,
    )


async def test_every_case_of_the_served_demo_is_classified_by_the_domain(
    migrated: AsyncEngine,
) -> None:
    """The portfolio ``serve --demo`` seeds (1,000 cases, seed 42): every row holds what the
    domain's rule gives for its debts, and Case.reclassify finds nothing to change."""
    summary = await seed_demo(migrated, cases=1000, seed=42, as_of=AS_OF)
    cases, debts_of = await seeded_cases(migrated)
    assert summary.cases == len(cases) == 1000
    at = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
    for row in cases:
        debts = debts_of[row.id]
        standing = assess(
            DEFAULT_POLICY, ((d.days_past_due(AS_OF), d.outstanding.amount) for d in debts)
        )
        stored = (
            row.days_past_due,
            row.bucket,
            row.classification,
            row.policy_version,
            row.outstanding_amount,
        )
        expected = (
            standing.days_past_due,
            standing.verdict.bucket,
            standing.verdict.classification,
            "2026.1",
            standing.outstanding_amount,
        )
        assert stored == expected, row.reference
        assert row.dpd_as_of == AS_OF, row.reference
        case = case_of(row, debts)
        case.reclassify(DEFAULT_POLICY, AS_OF, at)
        assert case.events == [], row.reference
        refreshed = (
            case.days_past_due,
            case.bucket,
            case.classification,
            case.policy_version,
            case.outstanding_amount,
        )
        assert refreshed == stored, row.reference
    assert {row.bucket for row in cases} == {f"M{n}" for n in range(8)}
    assert {row.classification for row in cases} == set(Classification)


async def test_the_demo_classifies_with_the_policy_it_is_given(migrated: AsyncEngine) -> None:
    """No copy of the rule in the demo: another policy's buckets, classes and version land in
    the rows (60-day buckets capped at M3; current, mild up to 60 DPD, severe beyond)."""
    policy = ClassificationPolicy(
        "test-9",
        (
            ClassBand(0, 0, Classification.CURRENT, ""),
            ClassBand(1, 60, Classification.MILD, ""),
            ClassBand(61, None, Classification.SEVERE, ""),
        ),
        bucket_days=60,
        max_bucket=3,
    )
    await seed_demo(migrated, cases=40, seed=11, as_of=AS_OF, policy=policy)
    cases, _debts_of = await seeded_cases(migrated)
    for row in cases:
        dpd = row.days_past_due
        bucket = "M0" if dpd == 0 else "M1" if dpd <= 60 else "M2" if dpd <= 120 else "M3"
        klass = "CURRENT" if dpd == 0 else "MILD" if dpd <= 60 else "SEVERE"
        assert (row.bucket, row.classification, row.policy_version) == (bucket, klass, "test-9")
    assert {row.bucket for row in cases} == {"M0", "M1", "M2", "M3"}
    assert {row.classification for row in cases} == {"CURRENT", "MILD", "SEVERE"}


async def test_borrowers_have_valid_national_ids_and_mobile_numbers(migrated: AsyncEngine) -> None:
    await seed_demo(migrated, cases=200, seed=5, as_of=AS_OF)
    c = tables.cases.c
    async with migrated.connect() as conn:
        borrowers = (
            await conn.execute(select(tables.borrowers, c.portfolio).join(tables.cases))
        ).all()
    assert len(borrowers) == 200
    assert len({r.national_id for r in borrowers}) == 200
    retail = [r for r in borrowers if r.portfolio == "retail"]
    us = [r for r in borrowers if r.portfolio == "us-cards"]
    assert (len(retail), len(us)) == (160, 40)
    for b in retail:
        nid = b.national_id
        assert len(nid) == 18 and nid[:17].isdigit(), nid
        total = sum(int(d) * w for d, w in zip(nid[:17], GB11643_WEIGHTS, strict=True))
        assert nid[17] == "10X98765432"[total % 11], nid
        born = date(int(nid[6:10]), int(nid[10:12]), int(nid[12:14]))
        assert 18 <= (AS_OF - born).days // 365 <= 90, nid
        assert len(b.phone) == 11 and b.phone.isdigit() and b.phone[0] == "1", b.phone
        assert b.city and b.district and b.city in b.address and b.district in b.address
        assert b.income > 0 and b.income.as_tuple().exponent == -2 and b.email
        assert (b.income_currency, b.time_zone) == ("CNY", "Asia/Shanghai")
        assert not b.full_name.isascii()
    for b in us:
        area, digits = b.national_id.split("-"), b.national_id.replace("-", "")
        assert [len(part) for part in area] == [3, 2, 4] and digits.isdigit(), b.national_id
        # E.164, in the 555-0100..0199 range set aside for fiction.
        assert b.phone.startswith("+1") and len(b.phone) == 12 and b.phone[5:9] == "5550"
        assert b.address.endswith(f", {b.city}, {b.district} {b.address[-5:]}"), b.address
        assert b.full_name.isascii() and b.employer and b.email
        assert b.income_currency == "USD" and b.income > 0
    assert {b.time_zone for b in us} == set(US_ZONES)


async def test_small_portfolio_gives_every_holder_some_cases(migrated: AsyncEngine) -> None:
    await seed_demo(migrated, cases=20, seed=9, as_of=AS_OF)
    c, s, a = tables.cases.c, tables.staff.c, tables.agencies.c
    async with migrated.connect() as conn:
        rows = (
            await conn.execute(
                select(c.status, c.stage, s.login, a.name, c.placed_at, c.placement_ends_on)
                .outerjoin(tables.staff, s.id == c.assignee_id)
                .outerjoin(tables.agencies, a.id == c.agency_id)
            )
        ).all()
    held = {r.login or r.name for r in rows if r.status != "CLOSED"}
    assert {"collector1", "collector2", "collector3", "lead1"} <= held
    assert {"Acme Recovery", "Zenith Collections"} <= held
    assert any(r.status == "OPEN" and r.login is None and r.name is None for r in rows)
    assert not any(r.login and r.name for r in rows)
    for r in rows:
        if r.name is None:
            assert r.placed_at is None and r.placement_ends_on is None
        else:
            assert r.placed_at.tzinfo is not None and r.placed_at.date() < AS_OF
            days = 90 if r.name == "Acme Recovery" else 60
            assert (r.placement_ends_on - r.placed_at.date()).days == days


async def test_no_case_is_both_assigned_and_placed_and_collectors_keep_headroom(
    migrated: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "COLLECTOR_CAPACITY", 40)  # so that 400 cases fill every collector
    await seed_demo(migrated, cases=400, seed=1, as_of=AS_OF)
    c = tables.cases.c
    async with migrated.connect() as conn:
        both = (
            await conn.execute(
                select(func.count()).where(c.assignee_id.is_not(None), c.agency_id.is_not(None))
            )
        ).scalar_one()
        loads: dict[str, int] = dict(
            (
                await conn.execute(
                    select(tables.staff.c.login, func.count(c.id))
                    .join(tables.cases, c.assignee_id == tables.staff.c.id)
                    .where(c.status != "CLOSED")
                    .group_by(tables.staff.c.login)
                )
            ).all()
        )
    assert both == 0
    assert set(loads) == {"collector1", "collector2", "collector3", "lead1"}
    assert set(loads.values()) == {40 - demo.CAPACITY_HEADROOM}


async def test_contacts_lie_between_opening_and_now(migrated: AsyncEngine) -> None:
    """Every contact falls between the case's opening and the demo's "now" (02:00 UTC on the
    as-of date), reaches one of the borrower's contact points of the channel's kind, whose owner
    is the party reached, and uses the contract's vocabulary."""
    await seed_demo(migrated, cases=200, seed=5, as_of=AS_OF)
    c, p = tables.cases.c, tables.contact_points.c
    async with migrated.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    tables.contacts,
                    c.opened_on,
                    c.borrower_id.label("case_borrower"),
                    p.kind,
                    p.owner,
                    p.borrower_id.label("point_borrower"),
                )
                .join(tables.cases)
                .join(tables.contact_points)
            )
        ).all()
        logins = dict((await conn.execute(select(tables.staff.c.id, tables.staff.c.login))).all())
        total = (await conn.execute(select(func.count()).select_from(tables.contacts))).scalar_one()
    assert len(rows) == total and 400 <= total <= 1000  # about three per case, and the stories
    for r in rows:
        assert r.at.tzinfo is not None
        assert r.opened_on <= r.at.date() and r.at <= NOW
        assert r.borrower_id == r.case_borrower == r.point_borrower
        assert CHANNEL_KIND[ContactChannel(r.channel)] == r.kind and r.owner == r.party
        assert r.direction in {"INBOUND", "OUTBOUND"} and r.party in set(ContactParty)
        assert r.source in {"LOGGED", "STARTED"} and r.profile_version
        if r.blocked:  # a refused attempt: nothing happened
            assert (r.outcome, r.notes, r.completed_at, r.source) == (None, "", None, "STARTED")
            assert r.rule is not None
            assert r.next_allowed_at is None or r.next_allowed_at > r.at
        else:
            assert r.outcome in set(ContactOutcome) and r.completed_at > r.at
            assert r.notes and r.notes.isascii() and r.rule is None
        assert (r.callback_at is not None) == (r.outcome == "CALLBACK_REQUESTED")
        if r.staff_id is None:
            assert r.channel == "AUTOMATED_CALL"
        else:
            assert logins[r.staff_id] not in {"admin", "auditor1", "collector9", "core.banking"}
            agency = logins[r.staff_id].split(".")[0] if "." in logins[r.staff_id] else None
            assert (r.agency_id is not None) == (agency is not None)
        if r.channel == "FIELD_VISIT" and not r.breaches:
            assert r.second_staff_id is not None and r.second_staff_id != r.staff_id
        connected = r.outcome not in {None, "BUSY_OR_NOT_CONNECTED", "WRONG_NUMBER", "FAILED"}
        assert (r.recording_ref is not None) == (r.channel == "PHONE" and connected)
    assert {r.outcome for r in rows} == set(ContactOutcome) | {None}
    assert {r.channel for r in rows} == set(ContactChannel)
    assert {r.party for r in rows} == set(ContactParty)
    assert sum(r.direction == "OUTBOUND" for r in rows) > len(rows) / 2


async def test_forty_cases_show_the_whole_collection_work(migrated: AsyncEngine) -> None:
    """A small demo already holds both portfolios, every kind of contact point, every conduct
    rule refusing, every promise status, a reversed payment and both kinds of cure."""
    await seed_demo(migrated, cases=40, seed=11, as_of=AS_OF)
    c, b, p = tables.cases.c, tables.borrowers.c, tables.contact_points.c
    async with migrated.connect() as conn:

        async def distinct(*columns: Any) -> set[Any]:
            result = await conn.execute(select(*columns).distinct())
            return {row[0] if len(columns) == 1 else tuple(row) for row in result}

        people = (
            await conn.execute(
                select(c.portfolio, c.currency, b.income_currency, b.time_zone).join(
                    tables.borrowers
                )
            )
        ).all()
        statuses = await distinct(p.status)
        owners = await distinct(p.owner)
        kinds = await distinct(p.kind)
        rules = await distinct(tables.contacts.c.rule)
        breaches = {
            rule
            for (listed,) in await conn.execute(select(tables.contacts.c.breaches))
            for rule in listed
        }
        promises = await distinct(tables.promises.c.status)
        payments = (await conn.execute(select(tables.payments))).all()
        closed = await distinct(c.close_reason, c.portfolio)
    portfolios = {(r.portfolio, r.currency, r.income_currency) for r in people}
    assert portfolios == {("retail", "CNY", "CNY"), ("us-cards", "USD", "USD")}
    assert {conduct_profile_of(name) for name, *_ in portfolios} == {"CN", "US_REG_F"}
    assert {r.time_zone for r in people if r.portfolio == "retail"} == {"Asia/Shanghai"}
    assert {r.time_zone for r in people if r.portfolio == "us-cards"} <= set(US_ZONES)
    assert statuses == set(ContactPointStatus) and owners == set(ContactParty)
    assert kinds == set(ContactPointKind)
    assert rules - {None} == {
        "QUIET_HOURS",
        "DAILY_ATTEMPTS",
        "CONNECTED_CALLS_PER_DAY",
        "WEEKLY_CALLS",
        "AFTER_CONVERSATION",
        "THIRD_PARTY",
        "CONTACT_POINT_INVALID",
        "OPTED_OUT",
    }
    assert breaches == {"QUIET_HOURS", "FIELD_VISIT_TWO_STAFF", "AFTER_CONVERSATION"}
    assert promises >= {"OPEN", "KEPT", "PARTIALLY_KEPT", "BROKEN", "SUPERSEDED"}
    assert any(r.reversed for r in payments) and {r.source for r in payments} == {"FEED", "API"}
    assert len({r.reference for r in payments}) == len(payments)
    assert {("CURED", "retail"), ("CURED", "us-cards"), ("PAID_IN_FULL", "retail")} <= closed


async def test_seeding_a_non_empty_database_is_refused_and_writes_nothing(
    migrated: AsyncEngine,
) -> None:
    await seed_demo(migrated, cases=20, seed=1, as_of=AS_OF)
    before = await counts(migrated)
    with pytest.raises(DatabaseNotEmpty, match="already holds 20 cases") as raised:
        await seed_demo(migrated, cases=20, seed=2, as_of=AS_OF)
    assert "only seeded into an empty database" in str(raised.value)
    assert "\n" not in str(raised.value)
    assert await counts(migrated) == before


async def test_staff_alone_make_the_database_non_empty(migrated: AsyncEngine) -> None:
    async with migrated.begin() as conn:
        await conn.execute(
            insert(tables.staff).values(login="someone", name="X", roles=["admin"], capacity=0)
        )
    with pytest.raises(DatabaseNotEmpty, match="1 staff"):
        await seed_demo(migrated, cases=5)
    assert await counts(migrated) == dict.fromkeys((t.name for t in ALL_TABLES), 0) | {"staff": 1}


async def test_at_least_one_case_is_required(migrated: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        await seed_demo(migrated, cases=0)
    assert (await counts(migrated))["staff"] == 0


async def test_as_of_defaults_to_today_in_utc(migrated: AsyncEngine) -> None:
    summary = await seed_demo(migrated, cases=3, seed=1)
    assert (summary.cases, summary.borrowers, summary.staff, summary.agencies) == (3, 3, 13, 3)
    async with migrated.connect() as conn:
        as_of = (await conn.execute(select(func.max(tables.cases.c.dpd_as_of)))).scalar_one()
    assert as_of in {datetime.now(UTC).date(), date.fromordinal(datetime.now(UTC).toordinal() - 1)}


async def test_new_rows_after_seeding_get_fresh_ids(migrated: AsyncEngine) -> None:
    summary = await seed_demo(migrated, cases=20, seed=1, as_of=AS_OF)
    async with migrated.begin() as conn:
        agency = await conn.execute(
            insert(tables.agencies).values(
                name="New Agency", commission_rate=Decimal("0.1000"), placement_days=30
            )
        )
        staff = await conn.execute(
            insert(tables.staff).values(login="new.one", name="X", roles=["auditor"], capacity=0)
        )
        contact = await conn.execute(
            insert(tables.contacts).values(
                case_id=1,
                borrower_id=select(tables.cases.c.borrower_id)
                .where(tables.cases.c.id == 1)
                .scalar_subquery(),
                at=datetime.now(UTC),
                channel="SMS",
                direction="OUTBOUND",
                party="BORROWER",
                outcome="NO_ANSWER",
                notes="",
            )
        )
    assert agency.inserted_primary_key == (summary.agencies + 1,)
    assert staff.inserted_primary_key == (summary.staff + 1,)
    assert contact.inserted_primary_key == (summary.contacts + 1,)
