"""The daily run over consecutive dates on a database of its own: every bucket boundary, month
ends, the core's DPD against the schedule's, classification history, snapshots, the moves of the
life cycle (escalation, cure, reopening in the watch window), promises, placement expiry,
idempotency and catch-up."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from jobs.daily import DailyRefused
from store import tables
from tests.daily_support import (
    case_row,
    events,
    make_case,
    noon,
    periods,
    row_counts,
    run,
)
from tests.factories import Factory, classify, writing

D0 = date(2027, 6, 15)
c, d, snap = tables.cases.c, tables.debts.c, tables.debt_snapshots.c


def monthly(first: date, count: int = 4) -> list[date]:
    return [first + timedelta(days=30 * k) for k in range(count)]


async def snapshots(engine: AsyncEngine, debt_id: int) -> dict[date, tuple[int, str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(snap.as_of, snap.days_past_due, snap.bucket, snap.classification).where(
                snap.debt_id == debt_id
            )
        )
        return {row.as_of: (row.days_past_due, row.bucket, row.classification) for row in rows}


async def test_cases_cross_every_bucket_boundary(migrated: AsyncEngine) -> None:
    """Seven cases at DPD 0, 30, 60 … 180 on D0 cross into the next bucket on D0 + 1."""
    made = {}
    for start in (0, 30, 60, 90, 120, 150, 180):
        stage = "EARLY" if start <= 30 else "LEGAL" if start == 180 else "COLLECTION"
        made[start] = await make_case(migrated, [monthly(D0 - timedelta(days=start))], stage=stage)
    first = await run(migrated, D0)
    assert [r.as_of for r in first.days] == [D0]
    for start, case in made.items():
        row = await case_row(migrated, case.case_id)
        assert (row.days_past_due, row.bucket, row.classification) == (start, *classify(start))
        assert row.dpd_as_of == D0 and row.policy_version == "2026.1"
    second = await run(migrated, D0 + timedelta(days=1))
    assert second.days[0].cases_reclassified == 7
    for start, case in made.items():
        row = await case_row(migrated, case.case_id)
        after = start + 1
        assert (row.days_past_due, row.bucket, row.classification) == (after, *classify(after))
        assert row.dpd_as_of == D0 + timedelta(days=1)
        # One period per bucket, contiguous: the first ends the day before the second begins.
        assert await periods(migrated, case.case_id) == [
            (*classify(start), D0, D0),
            (*classify(after), D0 + timedelta(days=1), None),
        ]
        reclassified = await events(migrated, case.case_id, "CaseReclassified")
        assert [e.data for e in reclassified] == [
            {
                "days_past_due": start,
                "bucket": classify(start)[0],
                "classification": classify(start)[1],
                "previous_bucket": None,
                "previous_classification": None,
                "policy_version": "2026.1",
            },
            {
                "days_past_due": after,
                "bucket": classify(after)[0],
                "classification": classify(after)[1],
                "previous_bucket": classify(start)[0],
                "previous_classification": classify(start)[1],
                "policy_version": "2026.1",
            },
        ]
        assert all(e.actor_id is None for e in reclassified)
        taken = await snapshots(migrated, case.debt_ids[0])
        assert taken == {
            D0: (start, *classify(start)),
            D0 + timedelta(1): (after, *classify(after)),
        }
    # The stage: EARLY escalates past 30 days (31), LEGAL never moves.
    assert (await case_row(migrated, made[0].case_id)).stage == "EARLY"
    assert (await case_row(migrated, made[30].case_id)).stage == "COLLECTION"
    assert (await case_row(migrated, made[180].case_id)).stage == "LEGAL"
    moves = await events(migrated, made[30].case_id, "CaseTransitioned")
    assert [m.data for m in moves] == [
        {
            "trigger": "ESCALATE",
            "from_status": "OPEN",
            "to_status": "OPEN",
            "from_stage": "EARLY",
            "to_stage": "COLLECTION",
            "close_reason": None,
        }
    ]
    assert second.days[0].escalated == 1


async def test_month_ends_and_a_leap_day(migrated: AsyncEngine) -> None:
    """Instalments due on 31 January and 28 February 2028, walked (by catch-up) past 1 March."""
    jan = await make_case(migrated, [[date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31)]])
    feb = await make_case(migrated, [[date(2028, 2, 28), date(2028, 3, 28)]])
    await run(migrated, date(2028, 1, 30))
    outcome = await run(migrated, date(2028, 3, 3))
    assert len(outcome.days) == 33  # 31 January … 3 March, one by one
    by_day = await snapshots(migrated, jan.debt_ids[0])
    assert sorted(by_day) == [date(2028, 1, 30) + timedelta(days=n) for n in range(34)]
    assert by_day[date(2028, 1, 30)] == (0, "M0", "CURRENT")
    assert by_day[date(2028, 1, 31)] == (0, "M0", "CURRENT")  # due today: not late yet
    assert by_day[date(2028, 2, 1)] == (1, "M1", "MILD")
    assert by_day[date(2028, 2, 28)] == (28, "M1", "MILD")
    assert by_day[date(2028, 2, 29)] == (29, "M1", "MILD")
    assert by_day[date(2028, 3, 1)] == (30, "M1", "MILD")
    assert by_day[date(2028, 3, 2)] == (31, "M2", "MODERATE")
    other = await snapshots(migrated, feb.debt_ids[0])
    assert other[date(2028, 2, 29)][:2] == (1, "M1")
    assert other[date(2028, 3, 1)][:2] == (2, "M1")
    assert await periods(migrated, jan.case_id) == [
        ("M0", "CURRENT", date(2028, 1, 30), date(2028, 1, 31)),
        ("M1", "MILD", date(2028, 2, 1), date(2028, 3, 1)),
        ("M2", "MODERATE", date(2028, 3, 2), None),
    ]


async def test_the_cores_dpd_moves_on_and_the_schedule_fills_in(migrated: AsyncEngine) -> None:
    old, recent = D0 - timedelta(days=100), D0 - timedelta(days=2)
    made = await make_case(
        migrated,
        [[old], [old, recent], [old], [D0 - timedelta(days=40)], [old]],
        core=[
            (10, D0 - timedelta(days=3)),  # late on the core's word: 10 + 3
            (0, D0 - timedelta(days=5)),  # current then: only the later due date counts
            (0, D0 - timedelta(days=5)),  # current then, nothing due since: 0
            None,  # no figure from the core: the schedule's 40
            (2, D0 + timedelta(days=5)),  # a figure dated after the run's date: never below 0
        ],
    )
    await run(migrated, D0)
    async with migrated.connect() as conn:
        aged = dict(
            (await conn.execute(select(d.id, d.aged_dpd).where(d.case_id == made.case_id))).all()
        )
    assert [aged[i] for i in made.debt_ids] == [13, 2, 0, 40, 0]
    row = await case_row(migrated, made.case_id)
    assert (row.days_past_due, row.bucket) == (40, "M2")
    assert row.outstanding_amount == Decimal("25000.00")


async def test_a_second_run_for_the_same_date_changes_nothing(migrated: AsyncEngine) -> None:
    agency = await Factory(migrated).agency()
    for start in (0, 15, 45, 200):
        await make_case(migrated, [monthly(D0 - timedelta(days=start))])
    await make_case(
        migrated,
        [monthly(D0)],
        agency_id=agency.id,
        placement_ends_on=D0 - timedelta(days=1),
    )
    await run(migrated, D0)
    before = await row_counts(migrated)
    async with migrated.connect() as conn:
        versions = dict((await conn.execute(select(c.id, c.version))).all())
    again = await run(migrated, D0)
    assert again.days == [] and again.nothing_to_do == f"the run for {D0} already completed"
    assert await row_counts(migrated) == before
    # Even if the run crashed after its work and before recording the date, doing the work again
    # changes no case, period, snapshot or event.
    async with writing(migrated) as conn:
        await conn.execute(delete(tables.daily_runs))
    redo = await run(migrated, D0)
    result = redo.days[0]
    assert (result.debts_reaged, result.cases_changed, result.cases_reclassified) == (0, 0, 0)
    assert (result.periods_opened, result.snapshots, result.placements_expired) == (0, 0, 0)
    after = await row_counts(migrated)
    assert {k: v for k, v in after.items() if k != "audit_entries"} == {
        k: v for k, v in before.items() if k != "audit_entries"
    }
    async with migrated.connect() as conn:
        assert dict((await conn.execute(select(c.id, c.version))).all()) == versions


async def test_catching_up_three_missed_days(migrated: AsyncEngine) -> None:
    made = await make_case(migrated, [monthly(D0 - timedelta(days=29))])
    await run(migrated, D0)
    outcome = await run(migrated, D0 + timedelta(days=3))
    assert [r.as_of for r in outcome.days] == [D0 + timedelta(days=n) for n in (1, 2, 3)]
    assert [r.snapshots for r in outcome.days] == [1, 1, 1]
    taken = await snapshots(migrated, made.debt_ids[0])
    assert {day: figures[0] for day, figures in taken.items()} == {
        D0 + timedelta(days=n): 29 + n for n in range(4)
    }
    async with migrated.connect() as conn:
        ran = (await conn.execute(select(tables.daily_runs.c.as_of))).scalars().all()
        summary = (
            await conn.execute(
                select(tables.daily_runs.c.summary).where(
                    tables.daily_runs.c.as_of == D0 + timedelta(days=2)
                )
            )
        ).scalar_one()
    assert sorted(ran) == [D0 + timedelta(days=n) for n in range(4)]
    assert summary["snapshots"] == 1 and summary["as_of"] == (D0 + timedelta(days=2)).isoformat()


async def test_dates_before_the_last_run_or_in_the_future_are_refused(
    migrated: AsyncEngine,
) -> None:
    await run(migrated, D0)
    with pytest.raises(DailyRefused, match="only moves forward"):
        await run(migrated, D0 - timedelta(days=1))
    with pytest.raises(DailyRefused, match="in the future"):
        await run(migrated, D0 + timedelta(days=3), at=noon(D0 + timedelta(days=1)))


async def test_cure_pay_off_and_reopening_in_the_watch_window(migrated: AsyncEngine) -> None:
    due = D0 - timedelta(days=10)
    later = D0 + timedelta(days=20)
    cured = await make_case(migrated, [[due, later]])
    paid_off = await make_case(migrated, [[due]], zero_balance=True)
    held = await make_case(migrated, [[due, later]], status="ON_HOLD")
    await run(migrated, D0)
    assert (await case_row(migrated, cured.case_id)).days_past_due == 10
    # The core's feed says the overdue instalments were paid.
    i = tables.instalments.c
    async with writing(migrated) as conn:
        await conn.execute(
            update(tables.instalments)
            .where(i.due_date == due)
            .values(amount_paid=Decimal("1000.00"))
        )
    day = D0 + timedelta(days=1)
    outcome = await run(migrated, day)
    assert (outcome.days[0].cured, outcome.days[0].reopened) == (3, 0)
    row = await case_row(migrated, cured.case_id)
    assert (row.status, row.close_reason, row.days_past_due) == ("CLOSED", "CURED", 0)
    assert row.watch_until == day + timedelta(days=60)
    assert row.closed_at == noon(day) and row.closed_while_held is False
    assert (await case_row(migrated, paid_off.case_id)).close_reason == "PAID_IN_FULL"
    held_row = await case_row(migrated, held.case_id)
    assert (held_row.status, held_row.closed_while_held) == ("CLOSED", True)
    moves = await events(migrated, cured.case_id, "CaseTransitioned")
    assert [m.data["trigger"] for m in moves] == ["CURE"]
    assert moves[0].data["close_reason"] == "CURED"
    # The next instalment falls due and stays unpaid: a new default inside the watch window.
    outcome = await run(migrated, later + timedelta(days=1))
    assert sum(r.reopened for r in outcome.days) == 2
    row = await case_row(migrated, cured.case_id)
    assert (row.status, row.close_reason, row.watch_until, row.closed_at) == (
        "OPEN",
        None,
        None,
        None,
    )
    assert row.days_past_due == 1
    assert (await case_row(migrated, held.case_id)).status == "ON_HOLD"
    assert (await case_row(migrated, paid_off.case_id)).status == "CLOSED"  # nothing fell due
    moves = await events(migrated, cured.case_id, "CaseTransitioned")
    assert [m.data["trigger"] for m in moves] == ["CURE", "REOPEN"]
    async with migrated.connect() as conn:
        kinds = (
            (
                await conn.execute(
                    select(tables.decisions.c.kind)
                    .where(tables.decisions.c.case_id == cured.case_id)
                    .order_by(tables.decisions.c.id)
                )
            )
            .scalars()
            .all()
        )
    assert kinds == ["CASE_CLOSED", "CASE_REOPENED"]
    # Each period keeps the first day of its delinquent spell (a current one: of the spell it
    # ended), what the reports' recoveries read: late from D0, cured a day later, late again.
    h = tables.classification_history.c
    async with migrated.connect() as conn:
        spells = await conn.execute(
            select(h.bucket, h.from_date, h.spell_from)
            .where(h.case_id == cured.case_id)
            .order_by(h.from_date)
        )
        assert [tuple(row) for row in spells] == [
            ("M1", D0, D0),
            ("M0", day, D0),
            ("M1", later + timedelta(days=1), later + timedelta(days=1)),
        ]


async def test_a_cured_case_past_its_watch_window_is_left_alone(migrated: AsyncEngine) -> None:
    made = await make_case(
        migrated,
        [[D0 - timedelta(days=5)]],
        status="CLOSED",
        close_reason="CURED",
        watch_until=D0 - timedelta(days=1),
    )
    await run(migrated, D0)
    row = await case_row(migrated, made.case_id)
    assert (row.status, row.days_past_due, row.dpd_as_of) == ("CLOSED", 0, None)
    assert await periods(migrated, made.case_id) == []


async def _promise(engine: AsyncEngine, case_id: int, due: date, grace: int = 3) -> int:
    async with writing(engine) as conn:
        result = await conn.execute(
            insert(tables.promises).values(
                case_id=case_id,
                amount=Decimal("500.00"),
                currency="CNY",
                promised_on=due - timedelta(days=5),
                due_date=due,
                grace_days=grace,
                status="OPEN",
                paid_amount=Decimal("0.00"),
                created_at=noon(due - timedelta(days=5)),
                version=1,
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])


async def test_an_open_promise_on_a_closed_case_is_cancelled_as_of_the_closing(
    migrated: AsyncEngine,
) -> None:
    """A case settled yesterday (outside the payment path) kept an open promise due in three
    days: the run cancels it, dated when the case closed, not when the run noticed. A kept
    promise on another closed case, and an open one on an open case, are left as they are."""
    closed_at = noon(D0 - timedelta(days=1))
    settled = await make_case(
        migrated,
        [[D0 + timedelta(days=10)]],
        status="CLOSED",
        close_reason="SETTLED",
        closed_at=closed_at,
    )
    cancelled = await _promise(migrated, settled.case_id, D0 + timedelta(days=3))
    kept_case = await make_case(
        migrated,
        [[D0 + timedelta(days=10)]],
        status="CLOSED",
        close_reason="SETTLED",
        closed_at=closed_at,
    )
    kept = await _promise(migrated, kept_case.case_id, D0 + timedelta(days=3))
    open_case = await make_case(migrated, [[D0 - timedelta(days=20)]])
    waiting = await _promise(migrated, open_case.case_id, D0 + timedelta(days=3))
    # Sold the day after this promise's window ended (its last day D0): the run for D0, which
    # starts once D0 has ended everywhere, leaves it open; the next day's run judges it BROKEN.
    sold_at = noon(D0 + timedelta(days=1))
    sold_case = await make_case(
        migrated,
        [[D0 + timedelta(days=10)]],
        status="CLOSED",
        close_reason="DEBT_SOLD",
        closed_at=sold_at,
    )
    lapsed = await _promise(migrated, sold_case.case_id, D0 - timedelta(days=3))
    p = tables.promises.c
    async with writing(migrated) as conn:
        await conn.execute(
            update(tables.promises)
            .where(p.id == kept)
            .values(status="KEPT", paid_amount=Decimal("500.00"), resolved_at=closed_at)
        )
    outcome = await run(migrated, D0, at=sold_at + timedelta(hours=4))
    assert outcome.days[0].promises_resolved == 1

    async def promise_rows() -> dict[int, tuple[str, Decimal, datetime | None]]:
        async with migrated.connect() as conn:
            found = (
                await conn.execute(
                    select(p.id, p.status, p.paid_amount, p.resolved_at).where(
                        p.id.in_([cancelled, kept, waiting, lapsed])
                    )
                )
            ).all()
        return {
            r.id: (
                r.status,
                r.paid_amount,
                r.resolved_at.replace(tzinfo=UTC)
                if r.resolved_at is not None and r.resolved_at.tzinfo is None
                else r.resolved_at,
            )
            for r in found
        }

    assert await promise_rows() == {
        cancelled: ("CANCELLED", Decimal("0.00"), closed_at),
        kept: ("KEPT", Decimal("500.00"), closed_at),
        waiting: ("OPEN", Decimal("0.00"), None),
        lapsed: ("OPEN", Decimal("0.00"), None),
    }
    judged = await events(migrated, settled.case_id, "PromiseEvaluated")
    assert [(e.data["status"], e.data["previous_status"]) for e in judged] == [
        ("CANCELLED", "OPEN")
    ]
    assert await events(migrated, kept_case.case_id, "PromiseEvaluated") == []
    # The next run finds nothing left to cancel, and judges the sold case's lapsed promise.
    later = await run(migrated, D0 + timedelta(days=1), at=sold_at + timedelta(days=1))
    assert later.days[0].promises_resolved == 1
    assert (await promise_rows())[lapsed][0] == "BROKEN"
    assert (await promise_rows())[cancelled][0] == "CANCELLED"


async def test_promises_past_their_window_are_judged(migrated: AsyncEngine) -> None:
    broken_case = await make_case(migrated, [[D0 - timedelta(days=20)]])
    partial_case = await make_case(migrated, [[D0 - timedelta(days=20)]])
    waiting_case = await make_case(migrated, [[D0 - timedelta(days=20)]])
    broken = await _promise(migrated, broken_case.case_id, D0 - timedelta(days=4))
    partial = await _promise(migrated, partial_case.case_id, D0 - timedelta(days=4))
    waiting = await _promise(migrated, waiting_case.case_id, D0 - timedelta(days=3))
    async with writing(migrated) as conn:
        await conn.execute(
            insert(tables.payments).values(
                case_id=partial_case.case_id,
                debt_id=partial_case.debt_ids[0],
                amount=Decimal("200.00"),
                currency="CNY",
                paid_at=noon(D0 - timedelta(days=6)),
                reference=f"DR-PAY-{partial_case.case_id}",
                source="API",
                created_at=noon(D0 - timedelta(days=6)),
                reversed=False,
                closed_case=False,
                version=1,
            )
        )
    outcome = await run(migrated, D0)
    assert outcome.days[0].promises_resolved == 2
    p = tables.promises.c

    async def status(promise_id: int) -> tuple[str, Decimal]:
        async with migrated.connect() as conn:
            row = (
                await conn.execute(select(p.status, p.paid_amount).where(p.id == promise_id))
            ).one()
            return row.status, row.paid_amount

    assert await status(broken) == ("BROKEN", Decimal("0.00"))
    assert await status(partial) == ("PARTIALLY_KEPT", Decimal("200.00"))
    assert await status(waiting) == ("OPEN", Decimal("0.00"))  # its last day is today
    judged = await events(migrated, broken_case.case_id, "PromiseEvaluated")
    assert [(e.data["status"], e.data["previous_status"]) for e in judged] == [("BROKEN", "OPEN")]
    await run(migrated, D0 + timedelta(days=1))
    assert await status(waiting) == ("BROKEN", Decimal("0.00"))
    assert await status(broken) == ("BROKEN", Decimal("0.00"))
    assert len(await events(migrated, broken_case.case_id, "PromiseEvaluated")) == 1  # once
    async with migrated.connect() as conn:
        decided = (
            await conn.execute(
                select(tables.decisions.c.kind, tables.decisions.c.case_id).order_by(
                    tables.decisions.c.id
                )
            )
        ).all()
        a = tables.audit_entries.c
        audited = (
            await conn.execute(
                select(a.case_ids, a.actor_login).where(a.action == "promise.evaluate")
            )
        ).all()
    assert sorted(decided) == sorted(
        [
            ("PROMISE_BROKEN", broken_case.case_id),
            ("PROMISE_PARTIALLY_KEPT", partial_case.case_id),
            ("PROMISE_BROKEN", waiting_case.case_id),
        ]
    )
    assert sorted(tuple(r.case_ids) for r in audited) == sorted(
        [(broken_case.case_id, partial_case.case_id), (waiting_case.case_id,)]
    )
    assert {r.actor_login for r in audited} == {"system:daily"}


async def test_an_ended_placement_returns_the_case_to_the_pool(migrated: AsyncEngine) -> None:
    agency = await Factory(migrated).agency()
    ends = D0 + timedelta(days=1)
    placed = await make_case(
        migrated, [monthly(D0 - timedelta(days=40))], agency_id=agency.id, placement_ends_on=ends
    )
    us = await make_case(
        migrated,
        [monthly(D0 - timedelta(days=40))],
        agency_id=agency.id,
        placement_ends_on=ends,
        portfolio="us-cards",
    )
    await run(migrated, D0)
    # The last day of the placement (inclusive), run late in the day in UTC, when it is the next
    # day in Shanghai already: the run's date decides, in every portfolio alike.
    late = datetime.combine(ends, datetime.min.time(), UTC) + timedelta(hours=23)
    assert (await run(migrated, ends, at=late)).days[0].placements_expired == 0
    assert (await case_row(migrated, placed.case_id)).agency_id == agency.id
    assert (await case_row(migrated, us.case_id)).agency_id == agency.id
    outcome = await run(migrated, ends + timedelta(days=1))
    assert outcome.days[0].placements_expired == 2
    for made in (placed, us):
        row = await case_row(migrated, made.case_id)
        assert (row.agency_id, row.placed_at, row.placement_ends_on) == (None, None, None)
        assert row.assignee_id is None and row.version == 5  # 1, aged on three dates, recalled
    recalled = await events(migrated, placed.case_id, "CaseRecalled")
    assert [e.data for e in recalled] == [{"agency_id": agency.id, "reason": "EXPIRED"}]
    async with migrated.connect() as conn:
        decided = (
            await conn.execute(
                select(tables.decisions.c.case_id, tables.decisions.c.data).where(
                    tables.decisions.c.kind == "CASE_RECALLED"
                )
            )
        ).all()
        a = tables.audit_entries.c
        audited = (
            await conn.execute(
                select(a.case_ids, a.changes).where(a.action == "case.recall").order_by(a.id)
            )
        ).all()
        # The snapshot of the day after shows the case in the pool.
        owners = (
            await conn.execute(
                select(snap.as_of, snap.agency_id)
                .where(snap.debt_id == placed.debt_ids[0])
                .order_by(snap.as_of)
            )
        ).all()
    assert {row.case_id for row in decided} == {placed.case_id, us.case_id}
    assert all(row.data["reason"] == "EXPIRED" for row in decided)
    assert [sorted(r.case_ids) for r in audited] == [sorted([placed.case_id, us.case_id])]
    assert audited[0].changes["reason"] == "EXPIRED"
    assert [o.agency_id for o in owners] == [agency.id, agency.id, None]


async def test_the_runs_audit_entry_holds_its_summary(migrated: AsyncEngine) -> None:
    await make_case(migrated, [monthly(D0 - timedelta(days=3))])
    outcome = await run(migrated, D0)
    a = tables.audit_entries.c
    async with migrated.connect() as conn:
        entry = (
            await conn.execute(
                select(a.actor_login, a.changes, a.request_id).where(a.action == "job.daily")
            )
        ).one()
        count = (
            await conn.execute(select(func.count()).select_from(tables.audit_entries))
        ).scalar()
    assert entry.actor_login == "system:daily" and entry.request_id == f"daily:{D0}"
    assert entry.changes == outcome.days[0].summary()
    assert count >= 1
    # The figures themselves, for the one case with one debt three days late.
    figures = ("as_of", "cases_aged", "debts_reaged", "snapshots", "periods_opened")
    assert [entry.changes[k] for k in figures] == [D0.isoformat(), 1, 1, 1, 1]
