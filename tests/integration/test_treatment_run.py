"""The daily run's treatment step on a database of its own (SQLite, or PostgreSQL when
ARREARS_TEST_DATABASE_URL is set): cases walked through the default strategy's steps across
days, conduct refusals and protections that suppress messages and refuse placements, rotation of
agencies, idempotent repeated and catch-up runs, a challenger on its share of the cases, and the
SQL assignment checked against the Python rules on random cases, in a number of statements that
does not grow with the cases."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.notices.templates import DEFAULT_TEMPLATES
from domain.strategies.definition import STANDARD, challenger_to_payload
from domain.strategies.model import (
    BalanceBand,
    Challenger,
    InEffect,
    PlacementMethod,
    Segment,
    SegmentCondition,
    Step,
    StepAction,
    StepClock,
    Strategy,
)
from domain.strategies.segmentation import (
    CaseFacts,
    plan,
    strategy_for,
    treatment_of,
    variant_bucket,
)
from jobs.daily import day_instant
from store import ageing, tables
from store.treatment_queries import apply_treatment
from tests.daily_support import Made, case_row, events, make_case, noon, row_counts, run
from tests.factories import Factory, writing
from tests.treatment_support import (
    actions,
    complaint,
    flag,
    notices,
    point,
    reachable,
    tasks,
    treatment,
    warning,
)

D0 = date(2027, 6, 15)
c, snap = tables.cases.c, tables.debt_snapshots.c
TEMPLATE_VERSION = DEFAULT_TEMPLATES["PAYMENT_REMINDER"].version


def day(n: int) -> date:
    return D0 + timedelta(days=n)


async def late(engine: AsyncEngine, days_past_due: int, **values: Any) -> Made:
    """A case whose one instalment is ``days_past_due`` days late on D0."""
    return await make_case(engine, [[D0 - timedelta(days=days_past_due)]], **values)


def instant(on: date) -> datetime:
    """The instant a catch-up run (the clock later than ``on``) stamps on ``on``."""
    return day_instant(on, noon(on + timedelta(days=1)))


# ---- walking the default strategy ---------------------------------------------------------------


async def test_a_mild_case_walks_through_its_steps_into_moderate(migrated: AsyncEngine) -> None:
    """DPD 1 on D0: the SMS on day 1, a call task on day 3, the SMS on day 10, a call on day 20;
    at 31 the case is MODERATE: a demand letter and a call task, and the MILD tasks still open
    are cancelled."""
    collector = await Factory(migrated).staff()
    made = await late(migrated, 1, assignee_id=collector.id)
    points = await reachable(migrated, made)
    first = (await run(migrated, D0)).days[0]
    assert (first.cases_treated, first.segments_entered, first.notices_queued) == (1, 1, 1)
    assert first.treatment_steps == {"SMS": {"DONE": 1}}
    entry = await treatment(migrated, made.case_id)
    assert (entry.strategy, entry.version, entry.variant, entry.segment) == (
        "STANDARD",
        STANDARD.version,
        "CHAMPION",
        "MILD",
    )
    assert (entry.entered_on, entry.step, entry.step_on) == (D0, "MILD_SMS_1", D0)
    assert (entry.next_step, entry.next_action_on) == ("MILD_CALL_1", day(2))
    [sms] = await notices(migrated, made.case_id)
    assert (sms.channel, sms.party, sms.template, sms.template_version, sms.language) == (
        "SMS",
        "BORROWER",
        "PAYMENT_REMINDER",
        TEMPLATE_VERSION,
        "zh",
    )
    assert (sms.status, sms.rule, sms.contact_point_id) == ("QUEUED", None, points["PHONE"])
    assert sms.purpose == "REMINDER"  # the template's, kept on the notice
    assert sms.created_at == noon(D0) and sms.body is None  # rendered when the outbox sends it

    outcome = await run(migrated, day(30))
    by_day = {r.as_of: r for r in outcome.days}
    assert by_day[day(2)].tasks_created == 1 and by_day[day(1)].treatment_steps == {}
    assert await actions(migrated, made.case_id) == [
        (D0, "MILD_SMS_1", "DONE", None),
        (day(2), "MILD_CALL_1", "DONE", None),
        (day(9), "MILD_SMS_2", "DONE", None),
        (day(19), "MILD_CALL_2", "DONE", None),
        (day(30), "MODERATE_LETTER", "DONE", None),
        (day(30), "MODERATE_CALL", "DONE", None),
    ]
    found = await tasks(migrated, made.case_id)
    assert [(k.step, k.kind, k.due_on, k.status, k.assignee_id) for k in found] == [
        ("MILD_CALL_1", "CALL", day(3), "CANCELLED", collector.id),
        ("MILD_CALL_2", "CALL", day(20), "CANCELLED", collector.id),
        ("MODERATE_CALL", "CALL", day(31), "OPEN", collector.id),
    ]
    assert found[0].reason == "3 days past due: reminder call"
    assert found[0].strategy == "STANDARD" and found[0].party == "BORROWER"
    assert found[0].created_at == instant(day(2))
    assert by_day[day(30)].tasks_cancelled == 2 and by_day[day(30)].segments_entered == 1
    letters = [n for n in await notices(migrated, made.case_id) if n.channel == "LETTER"]
    assert [(n.template, n.purpose, n.status, n.contact_point_id) for n in letters] == [
        ("DEMAND_LETTER", "DEMAND", "QUEUED", points["ADDRESS"])
    ]
    cancelled = await events(migrated, made.case_id, "TaskCancelled")
    assert [(e.data, e.at, e.actor_id) for e in cancelled] == [
        (
            {"task_id": task.id, "kind": "CALL", "step": task.step, "reason": "SEGMENT_LEFT"},
            noon(day(30)),
            None,
        )
        for task in found[:2]
    ]
    entry = await treatment(migrated, made.case_id)
    assert (entry.segment, entry.entered_on, entry.step) == ("MODERATE", day(30), "MODERATE_CALL")
    assert (entry.next_step, entry.next_action_on) == ("MODERATE_PLACE", day(44))
    entered = await events(migrated, made.case_id, "TreatmentSegmentEntered")
    assert [e.data for e in entered] == [
        {
            "strategy": "STANDARD",
            "version": STANDARD.version,
            "variant": "CHAMPION",
            "segment": segment,
            "previous_segment": previous,
        }
        for segment, previous in (("MILD", None), ("MODERATE", "MILD"))
    ]
    # The last day of a catch-up is today: its instant is the clock's.
    assert entered[1].at == noon(day(30)) and entered[1].actor_id is None
    taken = await events(migrated, made.case_id, "TreatmentStepTaken")
    assert taken[0].data == {
        "strategy": "STANDARD",
        "version": STANDARD.version,
        "variant": "CHAMPION",
        "segment": "MILD",
        "step": "MILD_SMS_1",
        "action": "SMS",
        "status": "DONE",
        "rule": None,
    }
    assert len(taken) == 6
    # The day's snapshot records the treatment: what variant comparisons read.
    async with migrated.connect() as conn:
        marked = (
            await conn.execute(
                select(snap.as_of, snap.strategy, snap.strategy_version, snap.variant)
                .where(snap.case_id == made.case_id)
                .order_by(snap.as_of)
            )
        ).all()
        a = tables.audit_entries.c
        audited = (
            await conn.execute(
                select(a.case_ids, a.changes).where(a.action == "treatment.step").order_by(a.id)
            )
        ).all()
    assert [tuple(m) for m in marked] == [
        (day(n), "STANDARD", STANDARD.version, "CHAMPION") for n in range(31)
    ]
    assert [(r.case_ids, r.changes["action"], r.changes["status"]) for r in audited] == [
        ([made.case_id], action, "DONE")
        for action in ("SMS", "CALL_TASK", "SMS", "CALL_TASK", "CALL_TASK", "LETTER")
    ]
    assert audited[0].changes["as_of"] == D0.isoformat()


async def test_placement_by_rotation_alternates_the_active_agencies(migrated: AsyncEngine) -> None:
    """Three MODERATE cases reach DPD 45 the same day: the active agencies in id order in turn
    (an inactive one never), and the rotation goes on from there the next day. The collector
    leaves the case, its open call task goes with it, and the placement ends after the step's 60
    days or the agency's shorter contract."""
    factory = Factory(migrated)
    first = await factory.agency()
    await factory.agency(active=False)
    second = await factory.agency(placement_days=30)
    collector = await factory.staff()
    made = [await late(migrated, 44, assignee_id=collector.id) for _ in range(3)]
    await run(migrated, D0)
    later = await make_case(migrated, [[D0 - timedelta(days=43)]], assignee_id=collector.id)
    result = (await run(migrated, day(1))).days[0]
    assert result.cases_placed_by_strategy == 3
    assert result.treatment_steps["PLACE_WITH_AGENCY"] == {"DONE": 3}
    agencies = [(await case_row(migrated, m.case_id)).agency_id for m in made]
    assert agencies == [first.id, second.id, first.id]
    assert (await run(migrated, day(2))).days[0].cases_placed_by_strategy == 1
    assert (await case_row(migrated, later.case_id)).agency_id == second.id

    row = await case_row(migrated, made[0].case_id)
    assert (row.assignee_id, row.placed_at, row.placement_ends_on) == (None, noon(day(1)), day(61))
    async with migrated.connect() as conn:
        held = (
            await conn.execute(
                select(snap.as_of, snap.agency_id, snap.assignee_id)
                .where(snap.case_id == made[0].case_id, snap.as_of >= D0)
                .order_by(snap.as_of)
            )
        ).all()
    # The day's snapshot shows who holds the case after the day's placements.
    assert [tuple(h) for h in held] == [
        (D0, None, collector.id),
        (day(1), first.id, None),
        (day(2), first.id, None),
    ]
    assert (await case_row(migrated, made[1].case_id)).placement_ends_on == day(31)
    placed = await events(migrated, made[0].case_id, "CasePlaced")
    assert [e.data for e in placed] == [
        {
            "agency_id": first.id,
            "placement_ends_on": day(61).isoformat(),
            "previous_assignee_id": collector.id,
            "reason": "STRATEGY",
        }
    ]
    [call] = [k for k in await tasks(migrated, made[0].case_id) if k.step == "MODERATE_CALL"]
    assert (call.status, call.assignee_id, call.agency_id) == ("OPEN", None, first.id)
    async with migrated.connect() as conn:
        decided = (
            await conn.execute(
                select(tables.decisions.c.case_id, tables.decisions.c.data).where(
                    tables.decisions.c.kind == "CASE_PLACED"
                )
            )
        ).all()
        a = tables.audit_entries.c
        audited = (
            await conn.execute(select(a.case_ids, a.changes).where(a.action == "case.place"))
        ).all()
    assert {r.case_id for r in decided} == {m.case_id for m in [*made, later]}
    assert {r.data["placementEndsOn"] for r in decided} == {
        day(61).isoformat(),
        day(32).isoformat(),
        day(31).isoformat(),
    }
    assert sorted(audited[0].case_ids) == sorted(m.case_id for m in made)
    assert audited[0].changes == {"reason": "STRATEGY", "as_of": day(1).isoformat()}


# ---- conduct and protections ----------------------------------------------------------------


async def test_conduct_rules_and_protections_suppress_messages_naming_the_rule(
    migrated: AsyncEngine,
) -> None:
    """The SMS of day 1 on cases that may not get it: a suppressed notice with the rule, on the
    notice and on the step alike. Protections come before the contact point, complaints before
    flags (the effects table's order)."""
    cases: dict[str, Made] = {}

    async def case(name: str, **values: Any) -> Made:
        cases[name] = await late(migrated, 1, **values)
        return cases[name]

    await point(migrated, await case("opted out"), status="OPTED_OUT")
    await point(migrated, await case("invalid"), status="INVALID")
    await case("no phone")
    guarantor_only = await case("guarantor's phone only")
    await point(migrated, guarantor_only, owner="GUARANTOR")
    both = await case("unverified and verified")
    await point(migrated, both, status="UNVERIFIED")
    verified = await point(migrated, both)
    for name, kind in (
        ("cease", "CEASE_COMMUNICATION"),
        ("deceased", "DECEASED"),
        ("ill", "SERIOUS_ILLNESS"),
        ("bankrupt", "BANKRUPTCY"),
        ("military", "MILITARY_SERVICE"),
    ):
        made = await case(name)
        await reachable(migrated, made)
        await flag(migrated, made, kind)
    cease_opted_out = await case("cease and opted out")
    await point(migrated, cease_opted_out, status="OPTED_OUT")
    await flag(migrated, cease_opted_out, "CEASE_COMMUNICATION")
    for name, kind in (("complaint", "COMPLAINT"), ("dispute", "DISPUTE")):
        made = await case(name)
        await reachable(migrated, made)
        await complaint(migrated, made, kind)
    complaint_and_deceased = await case("complaint and deceased")
    await reachable(migrated, complaint_and_deceased)
    await complaint(migrated, complaint_and_deceased)
    await flag(migrated, complaint_and_deceased, "DECEASED")
    await reachable(migrated, await case("on hold", status="ON_HOLD"))

    result = (await run(migrated, D0)).days[0]
    expected = {
        "opted out": "OPTED_OUT",
        "invalid": "CONTACT_POINT_INVALID",
        "no phone": "NO_CONTACT_POINT",
        "guarantor's phone only": "NO_CONTACT_POINT",
        "unverified and verified": None,
        "cease": "CEASE_COMMUNICATION",
        "deceased": "FLAG_DECEASED",
        "ill": "FLAG_SERIOUS_ILLNESS",  # letters only
        "bankrupt": "FLAG_BANKRUPTCY",
        "military": None,  # no agency, no legal action: reminders go on
        "cease and opted out": "CEASE_COMMUNICATION",
        "complaint": "OPEN_COMPLAINT",
        "dispute": "OPEN_DISPUTE",
        "complaint and deceased": "OPEN_COMPLAINT",
        "on hold": "CASE_ON_HOLD",
    }
    for name, rule in expected.items():
        made = cases[name]
        [sms] = await notices(migrated, made.case_id)
        status = "QUEUED" if rule is None else "SUPPRESSED"
        assert (sms.status, sms.rule) == (status, rule), name
        step = "DONE" if rule is None else "SUPPRESSED"
        assert await actions(migrated, made.case_id) == [(D0, "MILD_SMS_1", step, rule)], name
    [sms] = await notices(migrated, both.case_id)
    assert sms.contact_point_id == verified
    assert (result.notices_queued, result.notices_suppressed) == (2, 13)
    assert result.treatment_steps == {"SMS": {"DONE": 2, "SUPPRESSED": 13}}


async def test_serious_illness_stops_sms_and_calls_but_not_letters(migrated: AsyncEngine) -> None:
    ill = await late(migrated, 31)
    await reachable(migrated, ill)
    await flag(migrated, ill, "SERIOUS_ILLNESS")
    await run(migrated, D0)
    assert await actions(migrated, ill.case_id) == [
        (D0, "MODERATE_LETTER", "DONE", None),
        (D0, "MODERATE_CALL", "SUPPRESSED", "FLAG_SERIOUS_ILLNESS"),
    ]
    [letter] = await notices(migrated, ill.case_id)
    assert (letter.channel, letter.status) == ("LETTER", "QUEUED")
    assert await tasks(migrated, ill.case_id) == []


async def test_placements_and_recalls_the_life_cycle_or_a_protection_refuses(
    migrated: AsyncEngine,
) -> None:
    """At DPD 45 a case on military service, one on hold and one placed already are refused
    (the earlier steps of day 31 are skipped: overtaken); at DPD 91 a placed case is recalled
    and an unplaced one refused; a case in LEGAL gets no steps."""
    agency = await Factory(migrated).agency()
    military = await late(migrated, 45)
    await flag(migrated, military, "MILITARY_SERVICE")
    held = await late(migrated, 45, status="ON_HOLD")
    placed = await late(
        migrated, 45, agency_id=agency.id, placement_ends_on=D0 + timedelta(days=30)
    )
    free = await late(migrated, 45)
    recall = await late(
        migrated, 91, stage="COLLECTION", agency_id=agency.id, placement_ends_on=day(30)
    )
    unplaced = await late(migrated, 91, stage="COLLECTION")
    legal = await late(migrated, 91, stage="LEGAL")
    await reachable(migrated, recall)
    result = (await run(migrated, D0)).days[0]

    def place(status: str, rule: str | None) -> list[Any]:
        return [
            (D0, "MODERATE_LETTER", "SKIPPED", None),
            (D0, "MODERATE_CALL", "SKIPPED", None),
            (D0, "MODERATE_PLACE", status, rule),
        ]

    assert await actions(migrated, military.case_id) == place("REFUSED", "FLAG_MILITARY_SERVICE")
    assert await actions(migrated, held.case_id) == place("REFUSED", "CASE_ON_HOLD")
    assert await actions(migrated, placed.case_id) == place("REFUSED", "CASE_PLACED_WITH_AGENCY")
    assert await actions(migrated, free.case_id) == place("DONE", None)
    assert (await case_row(migrated, military.case_id)).agency_id is None
    assert (await case_row(migrated, free.case_id)).agency_id == agency.id

    assert await actions(migrated, recall.case_id) == [
        (D0, "SERIOUS_RECALL", "DONE", None),
        (D0, "SERIOUS_LEGAL_REVIEW", "DONE", None),
        (D0, "SERIOUS_LETTER", "DONE", None),
    ]
    row = await case_row(migrated, recall.case_id)
    assert (row.agency_id, row.placed_at, row.placement_ends_on) == (None, None, None)
    recalled = await events(migrated, recall.case_id, "CaseRecalled")
    assert [e.data for e in recalled] == [{"agency_id": agency.id, "reason": "STRATEGY"}]
    [review] = await tasks(migrated, recall.case_id)
    assert (review.kind, review.step, review.agency_id) == (
        "LEGAL_REVIEW",
        "SERIOUS_LEGAL_REVIEW",
        None,
    )
    assert (await actions(migrated, unplaced.case_id))[0] == (
        D0,
        "SERIOUS_RECALL",
        "REFUSED",
        "CASE_NOT_PLACED",
    )
    assert await actions(migrated, legal.case_id) == []
    entry = await treatment(migrated, legal.case_id)
    assert (entry.segment, entry.step, entry.next_step) == ("LEGAL", None, None)
    assert result.treatment_steps["PLACE_WITH_AGENCY"] == {"DONE": 1, "REFUSED": 3}
    assert result.treatment_steps["RECALL"] == {"DONE": 1, "REFUSED": 1}
    assert (result.cases_placed_by_strategy, result.cases_recalled_by_strategy) == (1, 1)


async def test_no_active_agency_refuses_the_placement(migrated: AsyncEngine) -> None:
    await Factory(migrated).agency(active=False)
    made = await late(migrated, 45)
    await run(migrated, D0)
    assert (await actions(migrated, made.case_id))[-1] == (
        D0,
        "MODERATE_PLACE",
        "REFUSED",
        "AGENCY_INACTIVE",
    )


async def test_a_days_in_segment_step_falls_due_on_the_day_of_entry(migrated: AsyncEngine) -> None:
    """A hardship flag takes the case out of the class segments: the settlement offer task of
    day 0 on the day it entered, then nothing more; the flag lifted, the case returns to MILD
    (a new entry: its day-1 step is overtaken by the DPD of the day)."""
    made = await late(migrated, 10)
    await flag(migrated, made, "HARDSHIP")
    await run(migrated, D0)
    assert await actions(migrated, made.case_id) == [(D0, "HARDSHIP_OFFER", "DONE", None)]
    [offer] = await tasks(migrated, made.case_id)
    assert (offer.kind, offer.due_on, offer.status) == ("SETTLEMENT_OFFER", day(1), "OPEN")
    assert (await run(migrated, day(1))).days[0].treatment_steps == {}
    async with writing(migrated) as conn:
        await conn.execute(
            update(tables.borrower_flags).values(lifted_at=datetime(2027, 6, 16, tzinfo=UTC))
        )
    result = (await run(migrated, day(2))).days[0]
    assert result.tasks_cancelled == 1
    entry = await treatment(migrated, made.case_id)
    assert (entry.segment, entry.entered_on, entry.step) == ("MILD", day(2), "MILD_SMS_2")
    assert (await actions(migrated, made.case_id))[1:] == [
        (day(2), "MILD_SMS_1", "SKIPPED", None),
        (day(2), "MILD_CALL_1", "SKIPPED", None),
        (day(2), "MILD_SMS_2", "SUPPRESSED", "NO_CONTACT_POINT"),
    ]
    assert [k.status for k in await tasks(migrated, made.case_id)] == ["CANCELLED"]


async def test_a_closed_case_leaves_treatment_and_its_open_tasks_are_cancelled(
    migrated: AsyncEngine,
) -> None:
    made = await late(migrated, 3)
    await run(migrated, D0)
    assert [k.status for k in await tasks(migrated, made.case_id)] == ["OPEN"]
    async with writing(migrated) as conn:
        i = tables.instalments.c
        await conn.execute(
            update(tables.instalments)
            .where(i.debt_id == made.debt_ids[0])
            .values(amount_paid=i.amount_due)
        )
    result = (await run(migrated, day(1))).days[0]
    assert result.cured == 1 and result.tasks_cancelled == 1 and result.cases_treated == 0
    assert (await case_row(migrated, made.case_id)).status == "CLOSED"
    assert await treatment(migrated, made.case_id) is None  # Case.treatment: null
    [task] = await tasks(migrated, made.case_id)
    assert (task.status, task.version) == ("CANCELLED", 2)
    [cancelled] = await events(migrated, made.case_id, "TaskCancelled")
    assert cancelled.data == {
        "task_id": task.id,
        "kind": "CALL",
        "step": "MILD_CALL_1",
        "reason": "CASE_CLOSED",
    }
    async with migrated.connect() as conn:
        a = tables.audit_entries.c
        audited = (
            await conn.execute(select(a.case_ids, a.changes).where(a.action == "task.cancel"))
        ).all()
    assert [(r.case_ids, r.changes) for r in audited] == [
        ([made.case_id], {"tasks": 1, "as_of": day(1).isoformat()})
    ]


# ---- nothing twice ------------------------------------------------------------------------------


async def test_repeated_and_catch_up_runs_create_nothing_twice(migrated: AsyncEngine) -> None:
    await Factory(migrated).agency()
    made = [await late(migrated, n) for n in (1, 3, 10, 31, 45, 91)]
    for m in made:
        await reachable(migrated, m)
    await run(migrated, D0)
    before = await row_counts(migrated)
    async with migrated.connect() as conn:
        versions = dict((await conn.execute(select(c.id, c.version))).all())
    assert before["treatment_actions"] > 0 and before["notices"] > 0 and before["tasks"] > 0
    # The run crashed after its work and before recording the date: the work done again
    # changes nothing (only the run's own audit entries are written again).
    async with writing(migrated) as conn:
        await conn.execute(delete(tables.daily_runs))
    redo = (await run(migrated, D0)).days[0]
    assert redo.treatment_steps == {} and redo.segments_entered == 0
    after = await row_counts(migrated)
    assert {k: v for k, v in after.items() if k != "audit_entries"} == {
        k: v for k, v in before.items() if k != "audit_entries"
    }
    async with migrated.connect() as conn:
        assert dict((await conn.execute(select(c.id, c.version))).all()) == versions
    # A catch-up over three days, then each of them again: every step once per entry.
    await run(migrated, day(3))
    async with writing(migrated) as conn:
        await conn.execute(delete(tables.daily_runs).where(tables.daily_runs.c.as_of > D0))
    redone = await run(migrated, day(3))
    assert [r.treatment_steps for r in redone.days] == [{}, {}, {}]
    async with migrated.connect() as conn:
        a, n, k = tables.treatment_actions.c, tables.notices.c, tables.tasks.c
        steps = (await conn.execute(select(a.case_id, a.step))).all()
        notice_actions = (await conn.execute(select(n.action_id))).scalars().all()
        task_actions = (await conn.execute(select(k.action_id))).scalars().all()
    assert len(steps) == len(set(steps))
    assert len(notice_actions) == len(set(notice_actions))
    assert len(task_actions) == len(set(task_actions))


# ---- champion and challenger --------------------------------------------------------------------

CHALLENGER_MILD = Segment(
    "MILD_EARLY_CALL",
    SegmentCondition(classifications=frozenset({"MILD"})),
    StepClock.DPD,
    (Step("EARLY_CALL", 1, StepAction.CALL_TASK, "1 day past due: call at once"),),
)


async def test_a_challenger_takes_its_share_recorded_on_the_case_and_the_snapshot(
    migrated: AsyncEngine,
) -> None:
    challenger = Challenger(
        "STANDARD",
        "2026.1-c1",
        Decimal("0.5"),
        frozenset({"MILD"}),
        Strategy("STANDARD", "2026.1-c1", "call first", frozenset(), (CHALLENGER_MILD,)),
    )
    async with writing(migrated) as conn:
        await conn.execute(
            insert(tables.rule_set_versions).values(
                kind="STRATEGY_CHALLENGER",
                name="STANDARD",
                version=1,
                payload=challenger_to_payload(challenger),
                effective_from=datetime(2027, 1, 1, tzinfo=UTC),
            )
        )
    made = [await late(migrated, 1) for _ in range(40)]
    moderate = await late(migrated, 31)
    await run(migrated, D0)
    expected = {
        m.case_id: "CHALLENGER" if variant_bucket("STANDARD", m.case_id) < 5000 else "CHAMPION"
        for m in made
    }
    assert 5 < Counter(expected.values())["CHALLENGER"] < 35
    for m in made:
        entry = await treatment(migrated, m.case_id)
        if expected[m.case_id] == "CHALLENGER":
            assert (entry.variant, entry.version, entry.segment) == (
                "CHALLENGER",
                "2026.1-c1",
                "MILD_EARLY_CALL",
            )
            assert await actions(migrated, m.case_id) == [(D0, "EARLY_CALL", "DONE", None)]
        else:
            assert (entry.variant, entry.version, entry.segment) == (
                "CHAMPION",
                STANDARD.version,
                "MILD",
            )
            assert (await actions(migrated, m.case_id))[0][1] == "MILD_SMS_1"
    # Only the segments it names: a MODERATE case stays with the champion whatever its bucket.
    assert (await treatment(migrated, moderate.case_id)).variant == "CHAMPION"
    await run(migrated, day(1))
    async with migrated.connect() as conn:
        ct = tables.case_treatments.c
        variants = dict((await conn.execute(select(ct.case_id, ct.variant))).all())
        marked = (
            await conn.execute(
                select(snap.case_id, snap.as_of, snap.variant, snap.strategy_version).where(
                    snap.case_id.in_(list(expected))
                )
            )
        ).all()
    assert {k: variants[k] for k in expected} == expected  # stable from run to run
    assert len(marked) == 80
    for row in marked:
        assert row.variant == expected[row.case_id]
        version = "2026.1-c1" if row.variant == "CHALLENGER" else STANDARD.version
        assert row.strategy_version == version


# ---- the SQL against the rules ------------------------------------------------------------------

US_FIRST = Strategy(
    "US_FIRST",
    "7",
    "US cards",
    frozenset({"us-cards"}),
    (
        Segment(
            "BIG",
            SegmentCondition(
                balance=(BalanceBand("USD", Decimal("3000.00"), None),),
                flags_none=frozenset({"VULNERABLE"}),
            ),
            StepClock.DPD,
            (
                Step("BIG_CALL", 2, StepAction.CALL_TASK, "call"),
                Step("BIG_LETTER", 20, StepAction.LETTER, "letter", template="DEMAND_LETTER"),
            ),
        ),
        Segment(
            "REST",
            SegmentCondition(),
            StepClock.DAYS_IN_SEGMENT,
            (
                Step("REST_CALL", 1, StepAction.CALL_TASK, "call"),
                Step("REST_LETTER", 2, StepAction.LETTER, "letter", template="DEMAND_LETTER"),
            ),
        ),
    ),
)
GENERAL = Strategy(
    "GENERAL",
    "3",
    "every other portfolio",
    frozenset(),
    (
        Segment(
            "WARNED",
            SegmentCondition(warning_severity="MEDIUM", stages=frozenset({"EARLY"})),
            StepClock.DAYS_IN_SEGMENT,
            (
                Step("WARNED_SMS", 0, StepAction.SMS, "sms", template="PAYMENT_REMINDER"),
                Step("WARNED_CALL", 2, StepAction.CALL_TASK, "call"),
            ),
        ),
        Segment(
            "CARDS",
            SegmentCondition(
                products=frozenset({"CREDIT_CARD"}),
                balance=(
                    BalanceBand("CNY", None, Decimal("2000.00")),
                    BalanceBand("CNY", Decimal("6000.00"), Decimal("9000.00")),
                ),
            ),
            StepClock.DPD,
            (
                Step("CARD_SMS", 1, StepAction.SMS, "sms", template="PAYMENT_REMINDER"),
                Step(
                    "CARD_NOTICE",
                    2,
                    StepAction.LETTER,
                    "never overtaken",
                    template="DEMAND_LETTER",
                    always=True,
                ),
                Step("CARD_CALL", 5, StepAction.CALL_TASK, "call"),
                Step("CARD_OFFER", 5, StepAction.SETTLEMENT_OFFER_TASK, "offer"),
                Step(
                    "CARD_PLACE",
                    60,
                    StepAction.PLACE_WITH_AGENCY,
                    "place",
                    placement=PlacementMethod.PERFORMANCE,
                    placement_days=30,
                ),
            ),
        ),
        Segment(
            "FLAGGED",
            SegmentCondition(flags_any=frozenset({"HARDSHIP", "VULNERABLE"})),
            StepClock.DPD,
            (Step("FLAGGED_REVIEW", 0, StepAction.LEGAL_REVIEW_TASK, "review"),),
        ),
        Segment(
            "BY_CLASS",
            SegmentCondition(
                classifications=frozenset({"MILD", "MODERATE"}),
                portfolios=frozenset({"retail"}),
            ),
            StepClock.DPD,
            (
                Step("CLASS_SMS", 1, StepAction.SMS, "sms", template="PAYMENT_REMINDER"),
                Step(
                    "CLASS_EMAIL", 15, StepAction.EMAIL, "mail", template="PAYMENT_REMINDER_EMAIL"
                ),
                Step("CLASS_RECALL", 45, StepAction.RECALL, "recall"),
            ),
        ),
    ),
)
GENERAL_B = replace(
    GENERAL,
    version="3-c",
    segments=(
        # The champion's segment name: a case changing variant alone keeps its entry.
        Segment(
            "CARDS",
            SegmentCondition(
                products=frozenset({"CREDIT_CARD"}), classifications=frozenset({"MILD", "SEVERE"})
            ),
            StepClock.DPD,
            (
                Step("CARD_SMS", 1, StepAction.SMS, "sms", template="PAYMENT_REMINDER"),
                Step("B_CARD_CALL", 4, StepAction.CALL_TASK, "call"),
            ),
        ),
        Segment(
            "B_ALL",
            SegmentCondition(stages=frozenset({"EARLY", "COLLECTION"})),
            StepClock.DPD,
            (Step("B_CALL", 3, StepAction.CALL_TASK, "call"),),
        ),
    ),
)


def general(share: str) -> dict[str, InEffect]:
    challenger = Challenger(
        "GENERAL", "3-c", Decimal(share), frozenset({"CARDS", "BY_CLASS"}), GENERAL_B
    )
    return {"US_FIRST": InEffect(US_FIRST), "GENERAL": InEffect(GENERAL, None, challenger)}


IN_EFFECT = general("0.4")
CLASSES = ("CURRENT", "MILD", "MODERATE", "SERIOUS", "SEVERE")


async def random_cases(engine: AsyncEngine, count: int, seed: int) -> dict[int, CaseFacts]:
    """Cases of every kind, written as the daily run's ageing leaves them, with the facts the
    rules read."""
    rng = random.Random(seed)
    agency = await Factory(engine).agency()
    facts: dict[int, CaseFacts] = {}
    for _ in range(count):
        portfolio = rng.choice(["retail", "retail", "us-cards", "auto-loans"])
        currency = "USD" if portfolio == "us-cards" else "CNY"
        outstanding = Decimal(rng.choice([0, 1999, 2000, 2999, 3000, 6000, 8999, 9000, 12000]))
        outstanding += Decimal(rng.choice(["0.00", "0.99"]))
        dpd = rng.choice([0, 1, 2, 5, 14, 15, 20, 44, 45, 60, 61, 200])
        made = await make_case(
            engine,
            [[D0]] * rng.randint(1, 2),
            portfolio=portfolio,
            currency=currency,
            status=rng.choice(["OPEN", "OPEN", "OPEN", "ON_HOLD", "CLOSED"]),
            stage=rng.choice(["EARLY", "COLLECTION", "LEGAL", "WRITTEN_OFF"]),
            classification=rng.choice(CLASSES),
            days_past_due=dpd,
            outstanding_amount=outstanding,
            agency_id=rng.choice([None, agency.id]),
            placement_ends_on=day(30),
        )
        products = [rng.choice(["CREDIT_CARD", "CONSUMER_LOAN", "MORTGAGE"]) for _ in made.debt_ids]
        async with writing(engine) as conn:
            for debt_id, product in zip(made.debt_ids, products, strict=True):
                await conn.execute(
                    update(tables.debts)
                    .where(tables.debts.c.id == debt_id)
                    .values(product_type=product)
                )
        open_severities: set[str] = set()
        for n in range(rng.randint(0, 2)):
            severity = rng.choice(["LOW", "MEDIUM", "HIGH"])
            status = rng.choice(["RAISED", "ACKNOWLEDGED", "HANDLED"])
            await warning(engine, made, severity, status, cause=str(n))
            if status != "HANDLED":
                open_severities.add(severity)
        flags: set[str] = set()
        for kind in rng.sample(["HARDSHIP", "VULNERABLE", "DECEASED"], rng.randint(0, 2)):
            await flag(engine, made, kind)
            flags.add(kind)
        if rng.random() < 0.3:
            await point(engine, made)
        row = await case_row(engine, made.case_id)
        facts[made.case_id] = CaseFacts(
            classification=row.classification,
            stage=row.stage,
            status=row.status,
            portfolio=portfolio,
            currency=currency,
            outstanding=outstanding,
            days_past_due=dpd,
            products=frozenset(products),
            warning_severities=frozenset(open_severities),
            flags=frozenset(flags),
        )
    return facts


async def treat(
    engine: AsyncEngine,
    on: date,
    templates: Any = DEFAULT_TEMPLATES,
    strategies: Mapping[str, InEffect] = IN_EFFECT,
) -> Any:
    async with writing(engine) as conn:
        return await apply_treatment(conn, on, noon(on), strategies, templates)


async def test_the_sql_assigns_what_the_rules_assign_on_random_cases(
    migrated: AsyncEngine,
) -> None:
    """Strategy, variant, segment and version of every case, and the steps taken and skipped
    and the next one, as ``domain.strategies.segmentation`` decides them."""
    facts = await random_cases(migrated, 120, seed=12)
    result = await treat(migrated, D0)
    async with migrated.connect() as conn:
        a = tables.treatment_actions.c
        rows = {r.case_id: r for r in await conn.execute(select(tables.case_treatments))}
        taken: dict[int, dict[str, str]] = {}
        for r in await conn.execute(select(a.case_id, a.step, a.status)):
            taken.setdefault(r.case_id, {})[r.step] = r.status
    assert result.cases_treated == len(rows)
    seen: Counter[tuple[str, str, str | None]] = Counter()
    for case_id, fact in facts.items():
        if fact.status == "CLOSED":
            assert case_id not in rows
            continue
        in_effect = strategy_for(IN_EFFECT, fact.portfolio)
        assert in_effect is not None
        variant, definition, segment = treatment_of(in_effect, fact, case_id)
        row = rows[case_id]
        assert (row.strategy, row.variant, row.version, row.segment) == (
            in_effect.champion.name,
            variant.value,
            definition.version,
            None if segment is None else segment.name,
        ), (case_id, fact)
        seen[(row.strategy, row.variant, row.segment)] += 1
        assert row.entered_on == D0
        if segment is None:
            assert case_id not in taken and row.next_step is None
            continue
        clock = fact.days_past_due if segment.clock is StepClock.DPD else 0
        planned = plan(segment, clock)
        # Taken (done, suppressed or refused) or skipped, as the rules say.
        assert {step: status != "SKIPPED" for step, status in taken.get(case_id, {}).items()} == {
            **{step.name: False for step in planned.skip},
            **{step.name: True for step in planned.take},
        }, (case_id, fact)
        following = planned.next_step
        assert row.next_step == (None if following is None else following.name)
        if planned.next_in_days is not None:
            assert row.next_action_on == D0 + timedelta(days=planned.next_in_days)
    # Every segment (and both variants) came up.
    segments = {segment for _s, _v, segment in seen}
    assert segments >= {"BIG", "REST", "WARNED", "CARDS", "FLAGGED", "BY_CLASS", "B_ALL", None}
    assert {variant for _s, variant, _g in seen} == {"CHAMPION", "CHALLENGER"}


async def test_a_message_without_an_approved_template_is_suppressed(migrated: AsyncEngine) -> None:
    made = await make_case(migrated, [[D0]], classification="MILD", days_past_due=1, stage="EARLY")
    await point(migrated, made)
    templates = {k: v for k, v in DEFAULT_TEMPLATES.items() if k != "PAYMENT_REMINDER"}
    await treat(migrated, D0, templates)
    [sms] = await notices(migrated, made.case_id)
    assert (sms.status, sms.rule, sms.template, sms.template_version, sms.purpose) == (
        "SUPPRESSED",
        "NO_APPROVED_TEMPLATE",
        "PAYMENT_REMINDER",
        "",
        None,
    )


async def test_the_statements_do_not_grow_with_the_number_of_cases(
    migrated: AsyncEngine,
) -> None:
    """The same statements for 10 cases as for 200 (the loops run over the strategies' data)."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    counts = {}
    await random_cases(migrated, 10, seed=1)
    for size, on in ((10, D0), (200, day(1))):
        if size == 200:
            await random_cases(migrated, 190, seed=2)
        statements.clear()
        event.listen(migrated.sync_engine, "before_cursor_execute", count)
        try:
            result = await treat(migrated, on)
        finally:
            event.remove(migrated.sync_engine, "before_cursor_execute", count)
        assert result.taken
        counts[size] = len(statements)
    assert counts[10] == counts[200], counts
    async with migrated.connect() as conn:
        treated = (
            await conn.execute(select(func.count()).select_from(tables.case_treatments))
        ).scalar_one()
    assert treated > 100


async def test_the_sql_follows_the_rules_day_after_day(migrated: AsyncEngine) -> None:
    """Four runs over the same random cases, their days past due moving (back too) and their
    class changing between runs, the challenger's share raised then ended: entries kept or
    started, steps taken once per entry, days-in-segment clocks past day 0, ``always`` steps,
    and the next step after the clock not taken yet — as the Python rules decide, day by day."""
    facts = await random_cases(migrated, 90, seed=21)
    rng = random.Random(21)
    entries: dict[int, tuple[str, str | None, date]] = {}  # strategy, segment, entered on
    taken: dict[int, set[str]] = {}
    variants: dict[int, str] = {}
    seen: Counter[str] = Counter()
    for n, share in enumerate(("0.4", "0.4", "0.7", "0")):
        on = day(n)
        strategies = general(share)
        await treat(migrated, on, strategies=strategies)
        async with migrated.connect() as conn:
            a = tables.treatment_actions.c
            rows = {r.case_id: r for r in await conn.execute(select(tables.case_treatments))}
            today: dict[int, dict[str, str]] = {}
            for r in await conn.execute(
                select(a.case_id, a.step, a.status, a.variant).where(a.as_of == on)
            ):
                today.setdefault(r.case_id, {})[r.step] = r.status
        for case_id, fact in facts.items():
            if fact.status == "CLOSED":
                assert case_id not in rows
                continue
            in_effect = strategy_for(strategies, fact.portfolio)
            assert in_effect is not None
            variant, definition, segment = treatment_of(in_effect, fact, case_id)
            key = (in_effect.champion.name, None if segment is None else segment.name)
            before = entries.get(case_id)
            if before is None or before[:2] != key:
                entries[case_id] = (*key, on)
                taken[case_id] = set()
            elif variants[case_id] != variant.value:
                seen["entry kept across a change of variant"] += 1
            variants[case_id] = variant.value
            entered_on = entries[case_id][2]
            row = rows[case_id]
            assert (row.strategy, row.variant, row.version, row.segment, row.entered_on) == (
                key[0],
                variant.value,
                definition.version,
                key[1],
                entered_on,
            ), (on, case_id, fact)
            if segment is None:
                assert case_id not in today and row.next_step is None
                continue
            clock = fact.days_past_due if segment.clock is StepClock.DPD else (on - entered_on).days
            planned = plan(segment, clock, taken[case_id])
            if segment.clock is StepClock.DAYS_IN_SEGMENT and clock > 0:
                seen["days in segment past day 0"] += 1
            if any(
                step.always and step.day < max(s.day for s in planned.take) for step in planned.take
            ):
                seen["always step taken late"] += 1
            if any(s.name in taken[case_id] and s.day > clock for s in segment.steps):
                seen["a step taken ahead of the clock"] += 1
            assert {
                step: status != "SKIPPED" for step, status in today.get(case_id, {}).items()
            } == {
                **{step.name: False for step in planned.skip},
                **{step.name: True for step in planned.take},
            }, (on, case_id, fact, clock, taken[case_id])
            following = planned.next_step
            assert row.next_step == (None if following is None else following.name), (on, case_id)
            if planned.next_in_days is not None:
                assert row.next_action_on == on + timedelta(days=planned.next_in_days)
            taken[case_id] |= {step.name for step in (*planned.take, *planned.skip)}
        # Between runs the figures move, days past due falling back too.
        async with writing(migrated) as conn:
            for case_id, fact in facts.items():
                dpd = max(0, fact.days_past_due + rng.choice([-8, -1, 0, 1, 1, 2, 4, 9]))
                grade = rng.choice(CLASSES) if rng.random() < 0.15 else fact.classification
                await conn.execute(
                    update(tables.cases)
                    .where(c.id == case_id)
                    .values(days_past_due=dpd, classification=grade)
                )
                facts[case_id] = replace(fact, days_past_due=dpd, classification=grade)
    # Each case the rules single out came up.
    assert set(seen) == {
        "entry kept across a change of variant",
        "days in segment past day 0",
        "always step taken late",
        "a step taken ahead of the clock",
    }, seen


# ---- a change of variant, task steps, never-overtaken steps, placement by performance -----------


async def mild_case(engine: AsyncEngine, days_past_due: int, **values: Any) -> Made:
    """A MILD case as the day's ageing left it (the treatment alone runs on it)."""
    return await make_case(
        engine,
        [[D0]],
        classification="MILD",
        days_past_due=days_past_due,
        **values,
    )


async def test_a_change_of_variant_alone_keeps_the_entry_and_its_steps(
    migrated: AsyncEngine,
) -> None:
    """A challenger treats MILD cases with the champion's steps and an early call. A case it
    takes is sent the day-1 SMS; promoted (the challenger's definition approved as the
    champion: the case is CHAMPION now), taken again by a new challenger, then back with the
    champion when the share drops to 0 — one entry all along: the SMS is not sent again, the
    early call's task stays open, no segment is entered again; the variant and version change."""
    made = await mild_case(migrated, 1)
    await reachable(migrated, made)
    mild = next(seg for seg in STANDARD.segments if seg.name == "MILD")
    early = Step("MILD_EARLY_CALL", 2, StepAction.CALL_TASK, "2 days past due: call early")

    def bolder(version: str) -> Strategy:
        return replace(
            STANDARD, version=version, segments=(replace(mild, steps=(*mild.steps, early)),)
        )

    def running(champion: Strategy, version: str, share: str) -> dict[str, InEffect]:
        challenger = Challenger(
            "STANDARD", version, Decimal(share), frozenset({"MILD"}), bolder(version)
        )
        return {"STANDARD": InEffect(champion, None, challenger)}

    promoted = bolder("2026.2")
    days = [
        (running(STANDARD, "2026.1-c1", "1"), 1, "CHALLENGER", "2026.1-c1"),
        ({"STANDARD": InEffect(promoted)}, 1, "CHAMPION", "2026.2"),
        (running(promoted, "2026.2-c1", "1"), 2, "CHALLENGER", "2026.2-c1"),
        (running(promoted, "2026.2-c1", "0"), 2, "CHAMPION", "2026.2"),
    ]
    for n, (strategies, days_past_due, variant, version) in enumerate(days):
        async with writing(migrated) as conn:
            await conn.execute(
                update(tables.cases).where(c.id == made.case_id).values(days_past_due=days_past_due)
            )
        await treat(migrated, day(n), strategies=strategies)
        entry = await treatment(migrated, made.case_id)
        assert (entry.variant, entry.version, entry.segment, entry.entered_on) == (
            variant,
            version,
            "MILD",
            D0,
        ), n
    assert await actions(migrated, made.case_id) == [
        (D0, "MILD_SMS_1", "DONE", None),
        (day(2), "MILD_EARLY_CALL", "DONE", None),
    ]
    assert len(await notices(migrated, made.case_id)) == 1
    assert [(k.step, k.status) for k in await tasks(migrated, made.case_id)] == [
        ("MILD_EARLY_CALL", "OPEN")
    ]
    assert len(await events(migrated, made.case_id, "TreatmentSegmentEntered")) == 1
    entry = await treatment(migrated, made.case_id)
    assert (entry.step, entry.step_on, entry.next_step) == (
        "MILD_EARLY_CALL",
        day(2),
        "MILD_CALL_1",
    )


TASKS = Strategy(
    "TASKS",
    "1",
    "every task step on the day a case enters",
    frozenset(),
    (
        Segment(
            "ALL",
            SegmentCondition(),
            StepClock.DAYS_IN_SEGMENT,
            (
                Step("CALL", 0, StepAction.CALL_TASK, "call"),
                Step("REVIEW", 0, StepAction.LEGAL_REVIEW_TASK, "review for legal action"),
                Step("OFFER", 0, StepAction.SETTLEMENT_OFFER_TASK, "offer a settlement"),
            ),
        ),
    ),
)


async def test_task_steps_the_life_cycle_or_a_protection_stops(migrated: AsyncEngine) -> None:
    """A call is suppressed where contact may not be made; a legal review refused where the life
    cycle forbids escalation (on hold, stage LEGAL or WRITTEN_OFF) or a protection does
    (NO_ESCALATION); a settlement offer suppressed where the life cycle refuses an arrangement
    (on hold) or a protection stops contact. Only the steps done make a task."""
    cases = {
        "open": await mild_case(migrated, 5),
        "on hold": await mild_case(migrated, 5, status="ON_HOLD"),
        "bankrupt": await mild_case(migrated, 5),
        "written off": await mild_case(migrated, 5, stage="WRITTEN_OFF"),
        "legal": await mild_case(migrated, 5, stage="LEGAL"),
        "hardship": await mild_case(migrated, 5),
        "ill": await mild_case(migrated, 5),
        "cease": await mild_case(migrated, 5),
        "complaint": await mild_case(migrated, 5),
    }
    for name, kind in (
        ("bankrupt", "BANKRUPTCY"),
        ("hardship", "HARDSHIP"),
        ("ill", "SERIOUS_ILLNESS"),
        ("cease", "CEASE_COMMUNICATION"),
    ):
        await flag(migrated, cases[name], kind)
    await complaint(migrated, cases["complaint"])
    result = await treat(migrated, D0, strategies={"TASKS": InEffect(TASKS)})
    done = ("DONE", None)
    expected = {
        "open": (done, done, done),
        "on hold": (
            ("SUPPRESSED", "CASE_ON_HOLD"),
            ("REFUSED", "CASE_ON_HOLD"),
            ("SUPPRESSED", "CASE_ON_HOLD"),
        ),
        "bankrupt": (
            ("SUPPRESSED", "FLAG_BANKRUPTCY"),
            ("REFUSED", "FLAG_BANKRUPTCY"),
            ("SUPPRESSED", "FLAG_BANKRUPTCY"),
        ),
        "written off": (done, ("REFUSED", "ACTION_NOT_ALLOWED"), done),
        "legal": (done, ("REFUSED", "ACTION_NOT_ALLOWED"), done),
        "hardship": (done, ("REFUSED", "FLAG_HARDSHIP"), done),
        "ill": (("SUPPRESSED", "FLAG_SERIOUS_ILLNESS"), done, done),  # letters only
        "cease": (
            ("SUPPRESSED", "CEASE_COMMUNICATION"),
            done,
            ("SUPPRESSED", "CEASE_COMMUNICATION"),
        ),
        "complaint": (
            ("SUPPRESSED", "OPEN_COMPLAINT"),
            ("REFUSED", "OPEN_COMPLAINT"),
            ("SUPPRESSED", "OPEN_COMPLAINT"),
        ),
    }
    kinds = {"CALL": "CALL", "REVIEW": "LEGAL_REVIEW", "OFFER": "SETTLEMENT_OFFER"}
    for name, outcomes in expected.items():
        made = cases[name]
        assert await actions(migrated, made.case_id) == [
            (D0, step, status, rule)
            for step, (status, rule) in zip(("CALL", "REVIEW", "OFFER"), outcomes, strict=True)
        ], name
        made_tasks = await tasks(migrated, made.case_id)
        assert [(k.kind, k.step) for k in made_tasks] == [
            (kinds[step], step)
            for step, (status, _rule) in zip(("CALL", "REVIEW", "OFFER"), outcomes, strict=True)
            if status == "DONE"
        ], name
    assert result.by_action()["LEGAL_REVIEW_TASK"] == {"DONE": 3, "REFUSED": 6}
    assert result.tasks_created == 12


async def test_an_always_step_is_never_overtaken(migrated: AsyncEngine) -> None:
    """A US card case entering MILD_US days after its validation notice's day still gets it,
    with the steps due that day; the steps in between are skipped."""
    made = await mild_case(migrated, 12, portfolio="us-cards", currency="USD")
    await reachable(migrated, made)
    await treat(migrated, D0, strategies={"STANDARD": InEffect(STANDARD)})
    segment = next(seg for seg in STANDARD.segments if seg.name == "MILD_US")
    planned = plan(segment, 12)
    always = [step.name for step in segment.steps if step.always]
    assert always and set(always) <= {step.name for step in planned.take}
    recorded = {step: status for _on, step, status, _rule in await actions(migrated, made.case_id)}
    assert {step for step, status in recorded.items() if status != "SKIPPED"} == {
        step.name for step in planned.take
    }
    assert {step for step, status in recorded.items() if status == "SKIPPED"} == {
        step.name for step in planned.skip
    }
    assert all(recorded[name] != "SKIPPED" for name in always)


async def test_placement_by_performance_takes_the_agency_that_recovered_most(
    migrated: AsyncEngine,
) -> None:
    """Over the last 90 days' snapshots the second agency recovered half of what it held in CNY,
    the first a tenth: a CNY case goes to the second; a USD case (no results: all 0) to the
    lowest id."""
    factory = Factory(migrated)
    first, second = await factory.agency(), await factory.agency()
    held = [await mild_case(migrated, 5) for _ in range(2)]
    snapshot = {
        "portfolio": "retail",
        "product_type": "CONSUMER_LOAN",
        "currency": "CNY",
        "principal": Decimal("1000.00"),
        "days_past_due": 50,
        "bucket": "M2",
        "classification": "MODERATE",
        "status": "OPEN",
    }
    async with writing(migrated) as conn:
        for made, agency, balances in (
            (held[0], first, ("1000.00", "900.00")),
            (held[1], second, ("1000.00", "500.00")),
        ):
            for on, balance in zip((day(-30), day(-1)), balances, strict=True):
                await conn.execute(
                    insert(tables.debt_snapshots).values(
                        debt_id=made.debt_ids[0],
                        as_of=on,
                        case_id=made.case_id,
                        agency_id=agency.id,
                        balance=Decimal(balance),
                        **snapshot,
                    )
                )
    by_performance = Strategy(
        "PERF",
        "1",
        "",
        frozenset(),
        (
            Segment(
                "PLACE",
                SegmentCondition(stages=frozenset({"COLLECTION"})),
                StepClock.DAYS_IN_SEGMENT,
                (
                    Step(
                        "PLACE",
                        0,
                        StepAction.PLACE_WITH_AGENCY,
                        "place",
                        placement=PlacementMethod.PERFORMANCE,
                        placement_days=30,
                    ),
                ),
            ),
        ),
    )
    cny = await mild_case(migrated, 50, stage="COLLECTION")
    usd = await mild_case(migrated, 50, stage="COLLECTION", portfolio="us-cards", currency="USD")
    await treat(migrated, D0, strategies={"PERF": InEffect(by_performance)})
    assert (await case_row(migrated, cny.case_id)).agency_id == second.id
    assert (await case_row(migrated, usd.case_id)).agency_id == first.id


async def test_the_run_locks_the_closed_cases_whose_treatment_ends(
    migrated: AsyncEngine, backend: str
) -> None:
    """A case settled since the last run is not aged, yet the run cancels its open tasks: it
    locks the case first (in id order, with the others), as ``completeTask`` does before the
    task — never the task of a case it does not hold."""
    if backend != "postgresql":
        pytest.skip("SQLite: the run's transaction holds the database's write lock already")
    made = await late(migrated, 3)
    untouched = await late(migrated, 3)
    await run(migrated, D0)
    async with writing(migrated) as conn:
        await conn.execute(
            update(tables.cases)
            .where(c.id.in_([made.case_id, untouched.case_id]))
            .values(status="CLOSED", close_reason="SETTLED", watch_until=None)
        )
        await conn.execute(
            delete(tables.case_treatments).where(
                tables.case_treatments.c.case_id == untouched.case_id
            )
        )
    async with migrated.connect() as conn, conn.begin():
        await ageing.lock_cases(conn, day(1))
        async with migrated.connect() as other, other.begin():
            free = select(c.id).where(c.id == untouched.case_id).with_for_update(nowait=True)
            assert (await other.execute(free)).scalar_one() == untouched.case_id
        async with migrated.connect() as other, other.begin():
            held = select(c.id).where(c.id == made.case_id).with_for_update(nowait=True)
            with pytest.raises(DBAPIError):
                await other.execute(held)
