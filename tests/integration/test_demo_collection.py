"""The demo's collection work holds together by the domain's own rules, read back from the rows:
each contact is what the conduct engine says of it (with the complaints and flags then in force),
each promise what the promise rule makes of the payments, each payment's allocation what the
waterfall moves; a case closed by a payment is watched; the daily cycle's complaints, flags,
signals and warnings are all there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.arrangements.promises import PaymentFact, Promise, PromiseStatus
from domain.arrangements.promises import evaluate as judge_promises
from domain.complaints.model import ComplaintKind
from domain.conduct.engine import AttemptLimit, ContactRequest, PastContact, PointFacts
from domain.conduct.engine import evaluate as check_conduct
from domain.conduct.profiles import profile
from domain.contacts.model import (
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    ContactParty,
    ContactPointKind,
    ContactPointStatus,
)
from domain.debts.model import Debt, DebtStatus, Instalment, ProductType
from domain.flags.effects import FLAG_RULES, Protection, protection_of
from domain.flags.model import BorrowerFlagKind
from domain.money import Money
from domain.payments.waterfall import (
    Application,
    ComponentAllocation,
    DebtComponent,
    InstalmentAllocation,
    apply_payment,
    reverse_and_reapply,
)
from domain.portfolios import PORTFOLIOS, conduct_profile_of, local_date
from domain.warnings.model import WarningStatus
from store import tables
from store.db import create_engine
from store.demo import seed_demo
from store.migrate import upgrade
from tests.conftest import PG_URL, _create_pg_database

AS_OF = date(2026, 3, 31)
NOW = datetime(2026, 3, 31, 2, 0, tzinfo=UTC)
SHANGHAI, NEW_YORK, LOS_ANGELES = (
    ZoneInfo("Asia/Shanghai"),
    ZoneInfo("America/New_York"),
    ZoneInfo("America/Los_Angeles"),
)
USABLE = {ContactPointStatus.VERIFIED, ContactPointStatus.UNVERIFIED}


@pytest.fixture(scope="module")
async def seeded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsyncEngine]:
    """200 demo cases (160 retail, 40 us-cards), seeded once for the module."""
    drop = None
    if PG_URL:
        url, drop = await _create_pg_database(PG_URL)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    engine = create_engine(url)
    try:
        await upgrade(engine)
        await seed_demo(engine, cases=200, seed=5, as_of=AS_OF)
        yield engine
    finally:
        await engine.dispose()
        if drop is not None:
            await drop()


async def everything(engine: AsyncEngine, *which: Any) -> dict[str, list[Row[Any]]]:
    async with engine.connect() as conn:
        return {t.name: list((await conn.execute(select(t).order_by(t.c.id))).all()) for t in which}


# --- portfolios and contact points ---------------------------------------------------------------


async def test_the_us_cards_portfolio_is_the_last_fifth_in_dollars_and_us_time_zones(
    seeded: AsyncEngine,
) -> None:
    data = await everything(seeded, tables.cases, tables.borrowers, tables.contact_points)
    cases, borrowers = data["cases"], {b.id: b for b in data["borrowers"]}
    assert [c.portfolio for c in cases] == ["retail"] * 160 + ["us-cards"] * 40
    for case in cases:
        portfolio = PORTFOLIOS[case.portfolio]
        borrower = borrowers[case.borrower_id]
        assert case.currency == borrower.income_currency == portfolio.currency
    us = [c for c in cases if c.portfolio == "us-cards"]
    assert len({c.bucket for c in us}) >= 5
    assert {c.assignee_id is not None for c in us} == {True, False}
    assert any(c.agency_id for c in us)
    us_borrowers = {c.borrower_id for c in us}
    mobile = {p.borrower_id: p for p in reversed(data["contact_points"])}  # first point
    elsewhere = [
        b for b in us_borrowers if mobile[b].time_zone != borrowers[b].time_zone
    ]  # a number kept from another state
    assert len(elsewhere) >= 3
    assert any(
        (borrowers[b].time_zone, mobile[b].time_zone) == ("America/New_York", "America/Los_Angeles")
        for b in elsewhere
    )


async def test_every_borrower_has_a_mobile_an_email_and_a_home_and_some_have_more(
    seeded: AsyncEngine,
) -> None:
    data = await everything(seeded, tables.borrowers, tables.contact_points, tables.contacts)
    points: dict[int, list[Row[Any]]] = defaultdict(list)
    for point in data["contact_points"]:
        points[point.borrower_id].append(point)
    first_contact: dict[int, datetime] = {}
    for contact in data["contacts"]:
        point_id = contact.contact_point_id
        first_contact[point_id] = min(first_contact.get(point_id, contact.at), contact.at)
    for b in data["borrowers"]:
        mobile, email, home, *others = points[b.id]
        assert (mobile.kind, mobile.value, mobile.owner, mobile.status) == (
            "PHONE",
            b.phone,
            "BORROWER",
            "VERIFIED",
        )
        assert mobile.time_zone is not None
        assert (email.kind, email.value, email.owner, email.time_zone) == (
            "EMAIL",
            b.email,
            "BORROWER",
            None,
        )
        assert (home.kind, home.value, home.owner, home.time_zone) == (
            "ADDRESS",
            b.address,
            "BORROWER",
            b.time_zone,
        )
        for point in (mobile, email, home, *others):
            assert point.time_zone is None or ZoneInfo(point.time_zone)
            assert (point.consent_start is None) == (point.consent_end is None)
            assert point.consented_at is None or point.created_at < point.consented_at <= NOW
            assert point.created_at <= first_contact.get(point.id, NOW)
            assert point.version == 1
        assert all(p.kind == "PHONE" for p in others)
    every = data["contact_points"]
    assert {p.status for p in every} == set(ContactPointStatus)
    assert {p.owner for p in every} == set(ContactParty)
    assert {p.owner for p in every if p.kind != "PHONE"} == {"BORROWER"}
    for owner in ContactParty:
        share = sum(p.owner == owner for p in every) / len(data["borrowers"])
        assert share > 0.05 if owner != ContactParty.UNRELATED_THIRD_PARTY else share > 0.01
    assert any(p.consent_start is not None for p in every)
    assert any(p.consented_at is not None and p.consent_start is None for p in every)
    assert any(p.time_zone is None for p in every if p.kind == "PHONE")
    numbers = [p.value for p in every if p.kind == "PHONE"]
    assert len(set(numbers)) == len(numbers)  # a number is one person's


# --- conduct -------------------------------------------------------------------------------------


def point_facts(point: Row[Any], status: str) -> PointFacts:
    return PointFacts(
        point.id,
        ContactPointKind(point.kind),
        ContactParty(point.owner),
        ContactPointStatus(status),
        point.time_zone,
        point.consent_start,
        point.consent_end,
        point.consented_at,
    )


def past(contact: Row[Any]) -> PastContact:
    return PastContact(
        contact.at,
        contact.case_id,
        ContactChannel(contact.channel),
        ContactParty(contact.party),
        ContactDirection(contact.direction),
        contact.contact_point_id,
        ContactOutcome(contact.outcome) if contact.outcome else None,
        contact.blocked,
        contact.consented,
    )


def protection_at(
    case_id: int, borrower_id: int, at: datetime, complaints: list[Row[Any]], flags: list[Row[Any]]
) -> Protection:
    """The protections in force on a case at an instant: the complaints open then, the
    borrower's flags set then."""
    return protection_of(
        [
            r.kind
            for r in complaints
            if r.case_id == case_id and r.filed_at <= at and (r.resolved_at or NOW) > at
        ],
        [
            r.flag
            for r in flags
            if r.borrower_id == borrower_id and r.set_at <= at and (r.lifted_at or NOW) > at
        ],
    )


async def test_every_contact_is_what_the_conduct_engine_says_of_it(seeded: AsyncEngine) -> None:
    """Re-evaluated from the rows: a granted attempt was allowed, a refused one refused by the
    rule it names with the engine's next allowed instant, a logged one carries exactly the
    breaches the engine finds (ordinary history none), with the complaints and flags in force
    at the time (none stops or limits a contact the demo made). A number marked invalid was
    usable until the call that found it wrong."""
    data = await everything(
        seeded,
        tables.cases,
        tables.borrowers,
        tables.contact_points,
        tables.contacts,
        tables.complaints,
        tables.borrower_flags,
    )
    assert data["complaints"] and data["borrower_flags"]
    cases = {c.id: c for c in data["cases"]}
    borrowers = {b.id: b for b in data["borrowers"]}
    points = {p.id: p for p in data["contact_points"]}
    own: dict[int, list[Row[Any]]] = defaultdict(list)
    for point in data["contact_points"]:
        own[point.borrower_id].append(point)
    found_wrong: dict[int, datetime] = {}
    history: dict[int, list[Row[Any]]] = defaultdict(list)
    for contact in sorted(data["contacts"], key=lambda r: r.at):
        history[contact.borrower_id].append(contact)
        if contact.outcome == "WRONG_NUMBER":
            found_wrong[contact.contact_point_id] = contact.at
    refused: set[str] = set()
    breached: set[str] = set()
    for contact in data["contacts"]:
        case, point = cases[contact.case_id], points[contact.contact_point_id]
        borrower = borrowers[contact.borrower_id]
        status = point.status
        if status == "INVALID" and contact.at <= found_wrong.get(point.id, contact.at):
            status = "UNVERIFIED"
        party = ContactParty(contact.party)
        zones = [borrower.time_zone]
        zones += [
            p.time_zone
            for p in own[borrower.id]
            if p.owner == "BORROWER" and p.time_zone and p.time_zone not in zones
        ]
        reachable = any(
            p.kind == "PHONE" and p.owner == "BORROWER" and p.status in USABLE
            for p in own[borrower.id]
        )
        protection = protection_at(
            case.id, borrower.id, contact.at, data["complaints"], data["borrower_flags"]
        )
        outbound = contact.direction == "OUTBOUND"
        extra = protection.blocks if outbound else ()
        if outbound and contact.channel != "LETTER":
            extra += protection.letters_only
        lower = protection.attempt_limit
        request = ContactRequest(
            case.id,
            ContactChannel(contact.channel),
            party,
            ContactDirection(contact.direction),
            point_facts(point, status),
            tuple(zones) if party is ContactParty.BORROWER else (),
            reachable,
            2 if contact.second_staff_id else 1,
            extra,
            AttemptLimit(*lower) if lower else None,
        )
        earlier = [past(c) for c in history[borrower.id] if c.at < contact.at]
        conduct = profile(conduct_profile_of(case.portfolio))
        allowance = check_conduct(conduct, request, earlier, contact.at)
        assert contact.profile_version == conduct.version
        where = f"contact {contact.id} of {case.reference}"
        if contact.blocked:
            failure = allowance.first_failure
            assert failure is not None and failure.rule == contact.rule, where
            assert allowance.next_allowed_at == contact.next_allowed_at, where
            assert contact.breaches == [], where
            refused.add(contact.rule)
        elif contact.source == "STARTED":
            assert allowance.allowed, (where, allowance.breaches)
            assert contact.breaches == [] and contact.rule is None, where
        else:
            assert tuple(contact.breaches) == allowance.breaches, where
            breached.update(contact.breaches)
    assert refused == {
        "QUIET_HOURS",
        "DAILY_ATTEMPTS",
        "CONNECTED_CALLS_PER_DAY",
        "WEEKLY_CALLS",
        "AFTER_CONVERSATION",
        "THIRD_PARTY",
        "CONTACT_POINT_INVALID",
        "OPTED_OUT",
    }
    assert breached == {"QUIET_HOURS", "FIELD_VISIT_TWO_STAFF", "AFTER_CONVERSATION"}


async def test_the_rules_at_work_can_be_seen_on_the_as_of_date(seeded: AsyncEngine) -> None:
    data = await everything(seeded, tables.cases, tables.contacts, tables.contact_points)
    cases = {c.id: c for c in data["cases"]}
    points = {p.id: p for p in data["contact_points"]}
    contacts = data["contacts"]
    calls = [c for c in contacts if c.channel == "PHONE" and c.direction == "OUTBOUND"]

    # CN: a number with six unanswered calls on the as-of date (Shanghai), the seventh refused
    # until 08:00 the next morning.
    unanswered: dict[int, int] = defaultdict(int)
    for c in calls:
        if c.outcome in ("NO_ANSWER", "LEFT_MESSAGE") and c.at.astimezone(SHANGHAI).date() == AS_OF:
            unanswered[c.contact_point_id] += 1
    daily = [c for c in contacts if c.rule == "DAILY_ATTEMPTS"]
    assert len(daily) == 1 and unanswered[daily[0].contact_point_id] == 6
    assert daily[0].next_allowed_at == datetime.combine(
        AS_OF + timedelta(days=1), time(8), SHANGHAI
    )
    # ...and a borrower who consented to more calls: seven that day, none refused.
    assert any(n == 7 and points[p].consented_at is not None for p, n in unanswered.items())

    # CN: a call refused at 22:30 local time, allowed again at 08:00.
    quiet = [
        c
        for c in contacts
        if c.rule == "QUIET_HOURS" and c.at.astimezone(SHANGHAI).time() == time(22, 30)
    ]
    assert len(quiet) == 1
    assert quiet[0].next_allowed_at == datetime.combine(AS_OF, time(8), SHANGHAI)

    # US: seven calls about one case in the seven days before now, the eighth refused.
    weekly = [c for c in contacts if c.rule == "WEEKLY_CALLS"]
    assert len(weekly) == 1
    counted = [
        c
        for c in calls
        if c.case_id == weekly[0].case_id
        and not c.blocked
        and c.outcome != "BUSY_OR_NOT_CONNECTED"
        and c.at > NOW - timedelta(days=7)
    ]
    assert len(counted) == 7 and cases[weekly[0].case_id].portfolio == "us-cards"

    # US: a conversation less than seven days ago, then a refused call and a logged breach.
    after = [c for c in contacts if c.rule == "AFTER_CONVERSATION"]
    assert len(after) == 1
    talk = max(
        c.at
        for c in contacts
        if c.case_id == after[0].case_id
        and c.outcome == "PROMISE_TO_PAY"
        and c.direction == "INBOUND"
        and c.at < after[0].at
    )
    assert after[0].at - talk < NOW - talk < timedelta(days=7)  # a conversation this week
    assert after[0].next_allowed_at == talk + timedelta(days=7)
    assert any(
        c.case_id == after[0].case_id and c.breaches == ["AFTER_CONVERSATION"] for c in contacts
    )

    # US: 19:30 at the phone (Los Angeles) is 22:30 at home (New York): refused.
    two_zones = [
        c
        for c in contacts
        if c.rule == "QUIET_HOURS"
        and c.at.astimezone(LOS_ANGELES).time() == time(19, 30)
        and points[c.contact_point_id].time_zone == "America/Los_Angeles"
    ]
    assert len(two_zones) == 1
    assert two_zones[0].at.astimezone(NEW_YORK).time() == time(22, 30)

    # Callbacks the borrowers asked for, one of them this afternoon in Shanghai.
    callbacks = [c.callback_at for c in contacts if c.callback_at is not None]
    assert any(at.astimezone(SHANGHAI).date() == AS_OF and at > NOW for at in callbacks)
    # Calls are recorded; the agencies' contacts are credited to them.
    assert any(c.agency_id for c in contacts) and any(c.recording_ref for c in calls)


# --- promises and payments -----------------------------------------------------------------------


def debt_of(row: Row[Any], schedule: list[Instalment]) -> Debt:
    return Debt(
        row.account_number,
        ProductType(row.product_type),
        row.currency,
        row.principal,
        row.interest,
        row.penalty,
        row.fee,
        row.opened_on,
        DebtStatus(row.status),
        row.paused_days,
        schedule,
        row.borrower_id,
        row.case_id,
        row.id,
    )


async def test_promises_are_what_the_promise_rule_makes_of_the_payments(
    seeded: AsyncEngine,
) -> None:
    data = await everything(seeded, tables.cases, tables.contacts, tables.promises, tables.payments)
    cases = {c.id: c for c in data["cases"]}
    contacts = {c.id: c for c in data["contacts"]}
    payments: dict[int, list[Row[Any]]] = defaultdict(list)
    for payment in data["payments"]:
        payments[payment.case_id].append(payment)
    of_case: dict[int, list[Row[Any]]] = defaultdict(list)
    for row in data["promises"]:
        case, contact = cases[row.case_id], contacts[row.contact_id]
        zone = PORTFOLIOS[case.portfolio].time_zone
        assert (contact.case_id, contact.outcome) == (row.case_id, "PROMISE_TO_PAY")
        assert (row.staff_id, row.agency_id) == (contact.staff_id, contact.agency_id)
        assert row.promised_on == local_date(zone, contact.at) and row.created_at >= contact.at
        assert 0 <= (row.due_date - row.promised_on).days <= 30 and row.grace_days == 3
        assert row.currency == case.currency and 0 <= row.paid_amount <= row.amount
        assert (row.resolved_at is None) == (row.status == "OPEN")
        assert row.resolved_at is None or row.created_at <= row.resolved_at <= NOW
        of_case[row.case_id].append(row)
    for case_id, rows in of_case.items():
        zone = PORTFOLIOS[cases[case_id].portfolio].time_zone
        assert sum(r.status == "OPEN" for r in rows) <= 1
        for row in rows:
            if row.status == "SUPERSEDED":
                assert any(r.created_at == row.resolved_at for r in rows if r.id != row.id)
        if cases[case_id].status == "CLOSED":
            assert "OPEN" not in {r.status for r in rows}
        promises = [
            Promise(
                case_id,
                r.amount,
                r.currency,
                r.due_date,
                r.promised_on,
                r.grace_days,
                PromiseStatus(r.status),
                r.paid_amount,
                created_at=r.created_at,
                id=r.id,
            )
            for r in rows
        ]
        facts = [
            PaymentFact(p.id, p.amount, local_date(zone, p.paid_at), p.reversed)
            for p in payments[case_id]
        ]
        assert judge_promises(promises, facts, AS_OF) == [], cases[case_id].reference
    statuses = {r.status for r in data["promises"]}
    assert statuses >= {"OPEN", "KEPT", "PARTIALLY_KEPT", "BROKEN", "SUPERSEDED"}
    assert any(r.status == "OPEN" and r.due_date == AS_OF for r in data["promises"])
    kept_by_reversal = [
        r
        for r in data["promises"]
        if r.status == "BROKEN"
        and any(
            p.reversed and r.promised_on <= p.paid_at.date() <= r.due_date
            for p in payments[r.case_id]
        )
    ]
    assert kept_by_reversal, "a promise broken because its payment bounced"


async def test_payments_are_applied_by_the_waterfall_and_a_reversal_undoes_one(
    seeded: AsyncEngine,
) -> None:
    """From each debt as it stands, undo what its payments moved: what is left is a debt as it
    was, and applying and reversing the payments to it in the order they were posted moves
    exactly what the allocation rows say and leaves the debt as it stands."""
    data = await everything(
        seeded,
        tables.cases,
        tables.staff,
        tables.debts,
        tables.instalments,
        tables.payments,
        tables.payment_allocations,
        tables.payment_instalments,
    )
    cases = {c.id: c for c in data["cases"]}
    logins = {s.id: s.login for s in data["staff"]}
    components: dict[int, list[ComponentAllocation]] = defaultdict(list)
    for a in data["payment_allocations"]:
        components[a.payment_id].append(ComponentAllocation(DebtComponent(a.component), a.amount))
    credits: dict[int, list[InstalmentAllocation]] = defaultdict(list)
    sequence_of = {i.id: i.sequence for i in data["instalments"]}
    for a in data["payment_instalments"]:
        credits[a.payment_id].append(
            InstalmentAllocation(sequence_of[a.instalment_id], a.amount, a.instalment_id)
        )
    by_debt: dict[int, list[Row[Any]]] = defaultdict(list)
    for payment in data["payments"]:
        by_debt[payment.debt_id].append(payment)
        case = cases[payment.case_id]
        assert payment.currency == case.currency
        assert payment.paid_at <= payment.created_at <= NOW
        assert sum(a.amount for a in components[payment.id]) == payment.amount > 0
        assert sum(a.amount for a in credits[payment.id]) == payment.amount - sum(
            a.amount for a in components[payment.id] if a.component == DebtComponent.UNAPPLIED
        )
        if payment.source == "FEED":
            assert payment.posted_by is None and payment.reference.startswith("CBS")
        else:
            assert logins[payment.posted_by] in {"core.banking", "manager"}
        if payment.reversed:
            assert payment.created_at < payment.reversed_at <= NOW and payment.reversal_reason
            assert logins[payment.reversed_by] == "core.banking" and payment.version == 2
        else:
            assert payment.reversed_at is None and payment.reversed_by is None
    schedules: dict[int, list[Instalment]] = defaultdict(list)
    for i in data["instalments"]:
        schedules[i.debt_id].append(
            Instalment(i.sequence, i.due_date, i.amount_due, i.amount_paid, id=i.id)
        )
    debts = {d.id: d for d in data["debts"]}
    for debt_id, paid in by_debt.items():
        row = debts[debt_id]
        assert cases[row.case_id].id == paid[0].case_id and row.currency == paid[0].currency
        debt = debt_of(row, schedules[debt_id])
        stood = (debt.principal, debt.interest, debt.penalty, debt.fee)
        schedule_stood = [i.amount_paid for i in debt.instalments]
        for payment in paid:  # undo what the payments that stand moved
            if payment.reversed:
                continue
            for part in components[payment.id]:
                if part.component != DebtComponent.UNAPPLIED:
                    name = part.component.value.lower()
                    setattr(debt, name, getattr(debt, name) + part.amount)
            for credit in credits[payment.id]:
                instalment = next(i for i in debt.instalments if i.id == credit.instalment_id)
                instalment.amount_paid -= credit.amount
        assert all(i.amount_paid >= 0 for i in debt.instalments)
        moves = [(p.created_at, 0, p) for p in paid]
        moves += [(p.reversed_at, 1, p) for p in paid if p.reversed]
        applied: dict[int, Application] = {}
        standing: list[int] = []  # applied and not reversed, in the order posted
        for _at, reverse, payment in sorted(moves, key=lambda m: (m[0], m[1], m[2].id)):
            if reverse:
                # As reversePayment does: the payments posted after it are applied again.
                later = standing[standing.index(payment.id) + 1 :]
                redone = reverse_and_reapply(debt, applied[payment.id], [applied[i] for i in later])
                applied.update(zip(later, redone, strict=True))
                standing.remove(payment.id)
                continue
            applied[payment.id] = apply_payment(debt, Money(payment.amount, payment.currency))
            standing.append(payment.id)
        for payment in paid:  # the rows hold each payment's application as it stands
            application = applied[payment.id]
            assert list(application.components) == components[payment.id], payment.reference
            assert list(application.instalments) == credits[payment.id], payment.reference
        assert (debt.principal, debt.interest, debt.penalty, debt.fee) == stood
        assert [i.amount_paid for i in debt.instalments] == schedule_stood
    every = data["payments"]
    assert len({p.reference for p in every}) == len(every)
    assert any(p.reversed for p in every) and {p.source for p in every} == {"FEED", "API"}
    used = {a.component for a in data["payment_allocations"]}
    assert used == {c.value for c in DebtComponent}


# --- the life cycle ------------------------------------------------------------------------------


async def test_closed_cases_have_a_reason_and_cured_ones_are_watched(seeded: AsyncEngine) -> None:
    data = await everything(seeded, tables.cases, tables.payments)
    last_payment: dict[int, Row[Any]] = {}
    for payment in data["payments"]:
        if not payment.reversed:
            last_payment[payment.case_id] = payment
    reasons: set[tuple[str, str]] = set()
    for case in data["cases"]:
        if case.status != "CLOSED":
            assert (case.close_reason, case.closed_at, case.watch_until) == (None, None, None)
            continue
        reasons.add((case.close_reason, case.portfolio))
        assert case.assignee_id is None and case.agency_id is None
        assert datetime.combine(case.opened_on, time(0), UTC) < case.closed_at <= NOW
        if case.close_reason in ("CURED", "PAID_IN_FULL"):
            zone = PORTFOLIOS[case.portfolio].time_zone
            assert case.days_past_due == 0
            assert case.watch_until == local_date(zone, case.closed_at) + timedelta(days=60)
            assert last_payment[case.id].created_at == case.closed_at  # the payment closed it
            assert (case.outstanding_amount == 0) == (case.close_reason == "PAID_IN_FULL")
        else:
            assert case.close_reason in ("DEBT_SOLD", "UNCOLLECTIBLE")
            assert case.watch_until is None
            assert case.close_reason == "UNCOLLECTIBLE" or case.stage != "WRITTEN_OFF"
    assert reasons >= {("CURED", "retail"), ("CURED", "us-cards"), ("PAID_IN_FULL", "retail")}
    assert {r for r, _p in reasons} == {"CURED", "PAID_IN_FULL", "DEBT_SOLD", "UNCOLLECTIBLE"}


# --- the daily cycle -----------------------------------------------------------------------------


async def test_the_demo_shows_complaints_flags_signals_and_warnings(seeded: AsyncEngine) -> None:
    """Every flag set on some borrower (evidence and review dates where the table requires
    them; one overdue for review, one lifted), complaints and disputes open and resolved, written
    and oral, on collectors' and agencies' cases; partner signals; warnings of several rules in
    every status, worked by the case's own people; no outbound contact while a complaint was open
    or a flag set; nothing after "now"."""
    data = await everything(
        seeded,
        tables.cases,
        tables.staff,
        tables.contacts,
        tables.complaints,
        tables.borrower_flags,
        tables.external_signals,
        tables.warnings,
    )
    cases = {c.id: c for c in data["cases"]}
    logins = {s.id: s.login for s in data["staff"]}
    of_borrower = {c.borrower_id: c for c in data["cases"]}
    outbound: dict[int, list[datetime]] = defaultdict(list)
    for contact in data["contacts"]:
        if contact.direction == "OUTBOUND":
            outbound[contact.case_id].append(max(contact.at, contact.callback_at or contact.at))

    flags = data["borrower_flags"]
    active = [f for f in flags if f.lifted_at is None]
    assert {f.flag for f in active} == set(BorrowerFlagKind)
    for f in flags:
        rule = FLAG_RULES[BorrowerFlagKind(f.flag)]
        assert f.evidence_ref or not rule.evidence_required, f.flag
        assert f.review_on or not rule.review_required, f.flag
        assert f.set_at <= (f.lifted_at or NOW) <= NOW and logins[f.set_by] != "admin"
        case = of_borrower[f.borrower_id]
        assert case.status == "OPEN" and f.set_at.date() >= case.opened_on
        assert all(at < f.set_at for at in outbound[case.id]), f.flag
    overdue = [f for f in active if f.review_on is not None and f.review_on < AS_OF]
    assert len(overdue) == 1
    lifted = [f for f in flags if f.lifted_at is not None]
    assert len(lifted) == 1 and lifted[0].lift_note and logins[lifted[0].lifted_by] == "manager"

    complaints = data["complaints"]
    shown = {(r.kind, r.status) for r in complaints}
    assert shown == {(k, s) for k in ComplaintKind for s in ("OPEN", "RESOLVED")}
    assert {r.written for r in complaints} == {True, False}
    assert len({r.channel for r in complaints}) >= 5
    holders = {"agency" if cases[r.case_id].agency_id else "collector" for r in complaints}
    assert holders == {"agency", "collector"}
    assert {cases[r.case_id].portfolio for r in complaints} == {"retail", "us-cards"}
    for r in complaints:
        case = cases[r.case_id]
        assert r.borrower_id == case.borrower_id and case.status == "OPEN"
        assert r.written == (r.channel not in ("PHONE", "IN_PERSON")) and r.description
        assert all(at < r.filed_at for at in outbound[case.id]), case.reference
        if r.status == "OPEN":
            assert (r.resolved_at, r.resolved_by, r.resolution, r.version) == (None, None, None, 1)
        else:
            assert r.filed_at < r.resolved_at <= NOW and r.resolution and r.version == 2
            assert logins[r.resolved_by] == "manager"

    signals = data["external_signals"]
    assert {s.kind for s in signals} >= {"CREDIT_BUREAU_HIT", "JOB_LOSS"}
    for s in signals:
        assert of_borrower[s.borrower_id].status == "OPEN"
        assert NOW - timedelta(days=30) < s.received_at <= NOW
        assert logins[s.posted_by] == "core.banking"

    warnings = data["warnings"]
    assert len({w.rule for w in warnings}) >= 4
    assert {w.rule for w in warnings} >= {"EXTERNAL_SIGNAL", "FLAG_REVIEW_DUE"}
    assert {w.status for w in warnings} == set(WarningStatus)
    assert {(w.case_id, w.cause) for w in warnings if w.rule == "FLAG_REVIEW_DUE"} == {
        (of_borrower[f.borrower_id].id, f"flag:{f.id}") for f in overdue
    }
    assert {w.cause for w in warnings if w.rule == "EXTERNAL_SIGNAL"} == {
        f"signal:{s.id}" for s in signals
    }
    worked = [w for w in warnings if w.status != "RAISED"]
    assert len(worked) >= 3 and any(w.agency_id for w in worked)
    for w in warnings:
        case = cases[w.case_id]
        assert w.raised_at == NOW and case.status != "CLOSED"
        assert (w.assignee_id, w.agency_id) == (case.assignee_id, case.agency_id)
        if w.status == "RAISED":
            assert (w.acknowledged_at, w.handled_at, w.version) == (None, None, 1)
            continue
        who = w.acknowledged_by
        if w.agency_id:
            agency = next(s for s in data["staff"] if s.id == who).agency_id
            assert agency == w.agency_id
        else:
            assert who == w.assignee_id
        assert w.raised_at <= w.acknowledged_at <= NOW
        if w.status == "HANDLED":
            assert (w.handled_by, w.version) == (who, 3) and w.note
            assert w.acknowledged_at <= w.handled_at <= NOW
        else:
            assert (w.handled_at, w.note, w.version) == (None, None, 2)


async def test_every_promise_status_is_shown_and_a_cancelled_one_is_on_a_closed_case(
    seeded: AsyncEngine,
) -> None:
    """Every promise status shows, CANCELLED included: the US cured story's promise was for
    more than the payment that cured the case, so the closing cancelled it."""
    p, c = tables.promises.c, tables.cases.c
    async with seeded.connect() as conn:
        rows = (
            await conn.execute(
                select(p.status, c.status.label("case_status"), p.resolved_at, c.closed_at).join(
                    tables.cases, c.id == p.case_id
                )
            )
        ).all()
    assert {r.status for r in rows} == set(PromiseStatus)
    for r in rows:
        if r.status == "CANCELLED":
            # Cancelled when the case closed: the promise had nothing left to keep.
            assert r.case_status == "CLOSED" and r.resolved_at == r.closed_at
