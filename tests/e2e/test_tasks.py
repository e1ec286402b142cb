"""Case.treatment, the tasks a strategy gives to people (on the case, on the worklist with their
step and reason, in the ``tasks`` listing) and completeTask, over HTTP: values from rows as the
daily run writes them, the portfolio's calendar, scopes (never revealing a task out of reach),
the listing's filters and keyset pages, the refusals with their codes, the timeline and audit
entries, idempotency (a concurrent retry too), and statements that do not grow with a page."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.conftest import PG_URL
from tests.e2e.conftest import StatementCounter
from tests.e2e.contacts_support import audit_of, send
from tests.factories import (
    TASK_REASON,
    TASK_STEP,
    Factory,
    add_task,
    add_treatment,
    global_id,
    writing,
)
from tests.helpers import Gql, assert_forbidden, portfolio_today

t = tables.tasks.c
NOW = datetime.now(UTC).replace(microsecond=0)
REASON = TASK_REASON
# Real names of STANDARD's steps (domain/strategies/definition.py).
REVIEW, REVIEW_REASON = (
    "SERIOUS_LEGAL_REVIEW",
    "91 days past due: review the case for legal action (the referral's conditions)",
)

TREATMENT = """
query($id: ID!) {
  case(id: $id) {
    treatment { strategy version variant segment enteredOn step nextStep nextActionAt }
  }
}
"""
TASK_FIELDS = """
  id kind status strategy step reason party dueOn createdAt completedAt note
  completedBy { login } case { id }
"""
CASE_TASKS = f"""
query($id: ID!, $status: [TaskStatus!]) {{
  case(id: $id) {{ tasks(status: $status) {{ {TASK_FIELDS} }} }}
}}
"""
WORKLIST = """
query($first: Int, $after: String) {
  myWorklist(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { case { id } reasons tasks { id kind step reason dueOn status } } }
  }
}
"""
COMPLETE = f"""
mutation($input: CompleteTaskInput!) {{
  r: completeTask(input: $input) {{
    __typename
    ... on CompleteTaskSuccess {{ task {{ {TASK_FIELDS} }} }}
    ... on UserError {{ code field message }}
  }}
}}
"""
TIMELINE = """
query($id: ID!) {
  case(id: $id) { timeline(first: 5) { edges { node { kind summary actor { login } } } } }
}
"""
NODE = f"query($id: ID!) {{ node(id: $id) {{ __typename ... on Task {{ {TASK_FIELDS} }} }} }}"
LISTING = f"""
query($first: Int!, $login: String!) {{
  cases(first: $first, filter: {{assigneeLogin: $login}}, orderBy: REFERENCE_ASC) {{
    edges {{ node {{
      id
      treatment {{ strategy step nextActionAt }}
      tasks {{ {TASK_FIELDS} }}
    }} }}
  }}
}}
"""


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


async def task_row(engine: AsyncEngine, pk: int) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(tables.tasks).where(t.id == pk))).one()


def instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def same_instant(shown: str | None, expected: datetime | None) -> bool:
    if shown is None or expected is None:
        return shown is expected
    return datetime.fromisoformat(shown.replace("Z", "+00:00")) == expected


def complete_input(pk: int, **more: Any) -> dict[str, Any]:
    return {"input": {"taskId": global_id("Task", pk), **more}}


# ---- Case.treatment ----------------------------------------------------------------------------


async def test_the_treatment_is_the_row_the_daily_run_left(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await factory.case(assignee="collector1", classification="MILD")
    await add_treatment(engine, made)
    data = await gql("collector1", TREATMENT, {"id": made.gid})
    assert data["case"]["treatment"] == {
        "strategy": "STANDARD",
        "version": "2026.1",
        "variant": "CHAMPION",
        "segment": "MILD",
        "enteredOn": "2026-11-29",
        "step": "MILD_SMS_1",
        "nextStep": "MILD_CALL_1",
        # 2026-12-01 00:00 in Asia/Shanghai (retail's calendar).
        "nextActionAt": "2026-11-30T16:00:00+00:00",
    }


async def test_next_action_at_is_the_start_of_the_day_in_the_portfolio_s_zone(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    us = await factory.case(portfolio="us-cards")
    await add_treatment(engine, us, next_action_on=date(2026, 12, 1))
    summer = await factory.case(portfolio="us-cards")
    await add_treatment(engine, summer, next_action_on=date(2026, 7, 1))
    shown = [
        (await gql("manager", TREATMENT, {"id": m.gid}))["case"]["treatment"]["nextActionAt"]
        for m in (us, summer)
    ]
    # America/New_York: UTC−5 in December, UTC−4 in July.
    assert shown == ["2026-12-01T05:00:00+00:00", "2026-07-01T04:00:00+00:00"]


async def test_without_a_row_the_treatment_is_null_and_nulls_stay_null(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    untreated = await factory.case(assignee="collector1")
    assert (await gql("collector1", TREATMENT, {"id": untreated.gid}))["case"] == {
        "treatment": None
    }
    unsegmented = await factory.case(assignee="collector1")
    await add_treatment(
        engine,
        unsegmented,
        segment=None,
        step=None,
        step_on=None,
        next_step=None,
        next_action_on=None,
        variant="CHALLENGER",
        version="2026.2",
    )
    assert (await gql("collector1", TREATMENT, {"id": unsegmented.gid}))["case"]["treatment"] == {
        "strategy": "STANDARD",
        "version": "2026.2",
        "variant": "CHALLENGER",
        "segment": None,
        "enteredOn": "2026-11-29",
        "step": None,
        "nextStep": None,
        "nextActionAt": None,
    }


# ---- Case.tasks and node -----------------------------------------------------------------------


async def test_a_case_lists_its_tasks_open_first_by_due_date_then_newest_first(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await factory.case(assignee="collector1")
    today = portfolio_today()
    later = await add_task(engine, made, due_on=today + timedelta(days=3))
    review = await add_task(
        engine,
        made,
        kind="LEGAL_REVIEW",
        step=REVIEW,
        reason=REVIEW_REASON,
        created_at=NOW - timedelta(days=1),
    )
    collector1 = await _staff_id(engine, "collector1")
    old_done = await add_task(
        engine,
        made,
        status="DONE",
        created_at=NOW - timedelta(days=9),
        completed_at=NOW - timedelta(days=8),
        completed_by=collector1,
        note="spoke to the borrower",
    )
    cancelled = await add_task(
        engine, made, status="CANCELLED", kind="SETTLEMENT_OFFER", step=None, party="GUARANTOR"
    )
    tasks = (await gql("collector1", CASE_TASKS, {"id": made.gid}))["case"]["tasks"]
    assert [x["id"] for x in tasks] == [
        global_id("Task", pk) for pk in (review, later, cancelled, old_done)
    ]
    assert tasks[0] == {
        "id": global_id("Task", review),
        "kind": "LEGAL_REVIEW",
        "status": "OPEN",
        "strategy": "STANDARD",
        "step": REVIEW,
        "reason": REVIEW_REASON,
        "party": "BORROWER",
        "dueOn": today.isoformat(),
        "createdAt": instant(NOW - timedelta(days=1)),
        "completedAt": None,
        "note": None,
        "completedBy": None,
        "case": {"id": made.gid},
    }
    assert (tasks[2]["step"], tasks[2]["party"]) == (None, "GUARANTOR")
    assert tasks[3]["completedBy"] == {"login": "collector1"}
    assert tasks[3]["note"] == "spoke to the borrower"
    assert same_instant(tasks[3]["completedAt"], NOW - timedelta(days=8))

    done = await gql("collector1", CASE_TASKS, {"id": made.gid, "status": ["DONE", "CANCELLED"]})
    assert [x["id"] for x in done["case"]["tasks"]] == [
        global_id("Task", pk) for pk in (cancelled, old_done)
    ]
    # The note is free text: only roles that work cases read it (an auditor gets null).
    audited = (await gql("auditor1", CASE_TASKS, {"id": made.gid, "status": ["DONE"]}))["case"]
    assert [(x["id"], x["note"]) for x in audited["tasks"]] == [(global_id("Task", old_done), None)]


async def test_a_task_is_a_node_for_those_who_see_its_case(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await factory.case(assignee="collector1")
    pk = await add_task(engine, made)
    node = (await gql("collector1", NODE, {"id": global_id("Task", pk)}))["node"]
    assert (node["__typename"], node["id"], node["step"], node["case"]) == (
        "Task",
        global_id("Task", pk),
        TASK_STEP,
        {"id": made.gid},
    )
    for login in ("collector3", "acme.agent1"):
        assert (await gql(login, NODE, {"id": global_id("Task", pk)}))["node"] is None


# ---- the worklist ------------------------------------------------------------------------------


async def worklist_items(gql: Gql, login: str) -> dict[str, Any]:
    """Every item of the login's worklist, by case id (all pages)."""
    items: dict[str, Any] = {}
    after = None
    while True:
        page = (await gql(login, WORKLIST, {"first": 100, "after": after}))["myWorklist"]
        items |= {e["node"]["case"]["id"]: e["node"] for e in page["edges"]}
        if not page["pageInfo"]["hasNextPage"]:
            return items
        after = page["pageInfo"]["endCursor"]


async def test_the_worklist_shows_each_case_s_open_tasks_with_step_and_reason(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    today = portfolio_today()
    mine = await factory.case(assignee="collector1", days_past_due=40)
    due = await add_task(engine, mine, due_on=today - timedelta(days=1))
    review = await add_task(engine, mine, kind="LEGAL_REVIEW", step=REVIEW, reason=REVIEW_REASON)
    tomorrow = await add_task(engine, mine, due_on=today + timedelta(days=1), step="MILD_CALL_2")
    await add_task(engine, mine, status="DONE")
    await add_task(engine, mine, status="CANCELLED")
    theirs = await factory.case(assignee="collector2", days_past_due=40)
    other = await add_task(engine, theirs, reason="Call collector2's borrower")

    items = await worklist_items(gql, "collector1")
    item = items[mine.gid]
    assert item["tasks"] == [
        {
            "id": global_id("Task", due),
            "kind": "CALL",
            "step": TASK_STEP,
            "reason": REASON,
            "dueOn": (today - timedelta(days=1)).isoformat(),
            "status": "OPEN",
        },
        {
            "id": global_id("Task", review),
            "kind": "LEGAL_REVIEW",
            "step": REVIEW,
            "reason": REVIEW_REASON,
            "dueOn": today.isoformat(),
            "status": "OPEN",
        },
        {
            "id": global_id("Task", tomorrow),
            "kind": "CALL",
            "step": "MILD_CALL_2",
            "reason": REASON,
            "dueOn": (today + timedelta(days=1)).isoformat(),
            "status": "OPEN",
        },
    ]
    # The ranking reasons as before, then one TASK_DUE per task due by today (not tomorrow's).
    assert item["reasons"] == [
        "DPD 40",
        f"OUTSTANDING {mine.case.outstanding_amount} CNY",
        f"TASK_DUE CALL {TASK_STEP}",
        f"TASK_DUE LEGAL_REVIEW {REVIEW}",
    ]
    # Another collector's case and its task are nowhere on collector1's worklist.
    assert theirs.gid not in items
    shown = {x["id"] for node in items.values() for x in node["tasks"]}
    assert global_id("Task", other) not in shown
    theirs_item = (await worklist_items(gql, "collector2"))[theirs.gid]
    assert [x["id"] for x in theirs_item["tasks"]] == [global_id("Task", other)]
    assert theirs_item["reasons"][-1] == f"TASK_DUE CALL {TASK_STEP}"


async def test_an_agency_sees_the_tasks_of_its_current_placements(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    placed = await factory.case(agency="Acme Recovery")
    pk = await add_task(engine, placed, kind="SETTLEMENT_OFFER", step="SERIOUS_SETTLEMENT")
    item = (await worklist_items(gql, "acme.agent1"))[placed.gid]
    assert [(x["id"], x["kind"]) for x in item["tasks"]] == [
        (global_id("Task", pk), "SETTLEMENT_OFFER")
    ]
    assert item["reasons"][-1] == "TASK_DUE SETTLEMENT_OFFER SERIOUS_SETTLEMENT"


# ---- completeTask ------------------------------------------------------------------------------


async def test_completing_a_task_records_it_with_a_timeline_entry_and_an_audit_entry(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await factory.case(assignee="collector1")
    pk = await add_task(engine, made)
    before = datetime.now(UTC)
    result, request_id = await send(
        gql, "collector1", COMPLETE, complete_input(pk, note="  promised to pay on Friday ")
    )
    assert result["__typename"] == "CompleteTaskSuccess"
    task = result["task"]
    assert {k: task[k] for k in ("id", "status", "note", "completedBy", "case")} == {
        "id": global_id("Task", pk),
        "status": "DONE",
        "note": "promised to pay on Friday",
        "completedBy": {"login": "collector1"},
        "case": {"id": made.gid},
    }
    row = await task_row(engine, pk)
    collector1 = await _staff_id(engine, "collector1")
    assert (row.status, row.completed_by, row.note, row.version) == (
        "DONE",
        collector1,
        "promised to pay on Friday",
        2,
    )
    assert before <= row.completed_at <= datetime.now(UTC)
    assert same_instant(task["completedAt"], row.completed_at)

    timeline = (await gql("collector1", TIMELINE, {"id": made.gid}))["case"]["timeline"]
    assert timeline["edges"][0]["node"] == {
        "kind": "TASK",
        "summary": f"Task CALL completed (step {TASK_STEP})",
        "actor": {"login": "collector1"},
    }
    entries = [e for e in await audit_of(engine, request_id) if e.action == "task.complete"]
    assert [
        (e.outcome, e.resource_type, e.resource_ids, e.case_ids, e.changes) for e in entries
    ] == [
        (
            "ALLOWED",
            "Task",
            [global_id("Task", pk)],
            [made.case.id],
            {"task_id": pk, "kind": "CALL", "step": TASK_STEP},
        )
    ]
    # The task leaves the worklist's tasks; the case keeps it, DONE.
    item = (await worklist_items(gql, "collector1"))[made.gid]
    assert item["tasks"] == [] and not any(r.startswith("TASK_DUE") for r in item["reasons"])


async def test_a_second_completion_is_task_already_closed_and_changes_nothing(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await factory.case(assignee="collector1")
    pk = await add_task(engine, made)
    first, _ = await send(gql, "collector1", COMPLETE, complete_input(pk, note="called"))
    assert first["__typename"] == "CompleteTaskSuccess"
    before = await task_row(engine, pk)
    again, request_id = await send(gql, "manager", COMPLETE, complete_input(pk, note="again"))
    assert again == {
        "__typename": "RuleViolationError",
        "code": "TASK_ALREADY_CLOSED",
        "field": "taskId",
        "message": "the task is already DONE",
    }
    assert tuple(await task_row(engine, pk)) == tuple(before)
    [denied] = [e for e in await audit_of(engine, request_id) if e.action == "task.complete"]
    assert (denied.outcome, denied.resource_ids, denied.changes) == (
        "DENIED",
        [global_id("Task", pk)],
        {"refused": "TASK_ALREADY_CLOSED"},
    )
    cancelled = await add_task(engine, made, status="CANCELLED")
    refused, _ = await send(gql, "collector1", COMPLETE, complete_input(cancelled))
    assert (refused["code"], refused["message"]) == (
        "TASK_ALREADY_CLOSED",
        "the task is already CANCELLED",
    )


@pytest.mark.parametrize("login", ["collector3", "collector2", "acme.agent1", "legal1"])
async def test_a_task_out_of_scope_is_not_found_exactly_as_one_that_does_not_exist(
    gql: Gql, factory: Factory, engine: AsyncEngine, login: str
) -> None:
    made = await factory.case(assignee="collector1")
    pk = await add_task(engine, made)
    before = await task_row(engine, pk)
    outside, request_id = await send(gql, login, COMPLETE, complete_input(pk, note="x"))
    missing, _ = await send(gql, login, COMPLETE, complete_input(10**9, note="x"))
    assert (
        outside
        == missing
        == {
            "__typename": "NotFoundError",
            "code": "TASK_NOT_FOUND",
            "field": "taskId",
            "message": "no such task",
        }
    )
    assert tuple(await task_row(engine, pk)) == tuple(before)
    [denied] = [e for e in await audit_of(engine, request_id) if e.action == "task.complete"]
    assert (denied.outcome, denied.changes) == ("DENIED", {"refused": "TASK_NOT_FOUND"})
    # An ID of another type, or no ID at all, is not found either.
    for wrong in (made.gid, "garbage"):
        refused, _ = await send(gql, login, COMPLETE, {"input": {"taskId": wrong}})
        assert refused["code"] == "TASK_NOT_FOUND"


@pytest.mark.parametrize(
    ("login", "shape"),
    [
        ("collector1", {"assignee": "collector1"}),
        ("lead1", {"assignee": "collector2"}),  # a team lead: the team's cases
        ("acme.agent1", {"agency": "Acme Recovery"}),  # an agency: its current placements
        ("legal1", {"stage": "LEGAL", "classification": "SEVERE"}),
        ("manager", {}),
    ],
)
async def test_whoever_works_the_case_completes_its_task(
    gql: Gql, factory: Factory, engine: AsyncEngine, login: str, shape: dict[str, Any]
) -> None:
    made = await factory.case(**shape)
    pk = await add_task(engine, made, kind="LEGAL_REVIEW", step=None)
    result, _ = await send(gql, login, COMPLETE, complete_input(pk))
    assert result["__typename"] == "CompleteTaskSuccess"
    assert (result["task"]["status"], result["task"]["note"]) == ("DONE", None)
    assert result["task"]["completedBy"] == {"login": login}
    timeline = (await gql(login, TIMELINE, {"id": made.gid}))["case"]["timeline"]
    assert timeline["edges"][0]["node"]["summary"] == "Task LEGAL_REVIEW completed"


async def test_a_lapsed_placement_is_out_of_the_agency_s_scope(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    lapsed = await factory.case(
        agency="Acme Recovery", placement_ends_on=portfolio_today() - timedelta(days=2)
    )
    pk = await add_task(engine, lapsed)
    refused, _ = await send(gql, "acme.agent1", COMPLETE, complete_input(pk))
    assert refused["code"] == "TASK_NOT_FOUND"


async def test_without_the_permission_completion_is_forbidden(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await factory.case(assignee="collector1")
    pk = await add_task(engine, made)
    assert_forbidden(await gql.errors("auditor1", COMPLETE, complete_input(pk)))
    assert (await task_row(engine, pk)).status == "OPEN"


async def test_the_note_is_at_most_1000_characters(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await factory.case(assignee="collector1")
    pk = await add_task(engine, made)
    refused, _ = await send(gql, "collector1", COMPLETE, complete_input(pk, note="x" * 1001))
    assert (refused["__typename"], refused["code"], refused["field"]) == (
        "ValidationError",
        "TEXT_TOO_LONG",
        "note",
    )
    assert (await task_row(engine, pk)).status == "OPEN"
    done, _ = await send(gql, "collector1", COMPLETE, complete_input(pk, note="y" * 1000))
    assert done["task"]["note"] == "y" * 1000


async def test_a_retry_with_the_idempotency_key_answers_with_the_first_result(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await factory.case(assignee="collector1")
    pk = await add_task(engine, made)
    other = await add_task(engine, made, step="MILD_CALL_2")
    key = str(uuid.uuid4())
    first, _ = await send(gql, "collector1", COMPLETE, complete_input(pk, idempotencyKey=key))
    retry, _ = await send(gql, "collector1", COMPLETE, complete_input(pk, idempotencyKey=key))
    assert first["__typename"] == retry["__typename"] == "CompleteTaskSuccess"
    assert retry == first
    async with engine.connect() as conn:
        events = (
            await conn.execute(
                select(tables.case_events.c.name).where(
                    tables.case_events.c.case_id == made.case.id
                )
            )
        ).all()
    assert [e.name for e in events] == ["TaskCompleted"]
    # The key, once used, is refused for another task (which stays open).
    reused, _ = await send(gql, "collector1", COMPLETE, complete_input(other, idempotencyKey=key))
    assert (reused["code"], reused["field"]) == ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
    assert (await task_row(engine, other)).status == "OPEN"


# ---- statements --------------------------------------------------------------------------------


async def test_treatments_and_tasks_of_a_page_of_cases_cost_one_statement_each(
    gql: Gql, factory: Factory, engine: AsyncEngine, sql_counter: StatementCounter
) -> None:
    collector = await factory.staff(f"tk.{uuid.uuid4().hex[:8]}", team="East")
    for n in range(12):
        made = await factory.case(assignee=collector.login, days_past_due=10 + n)
        if n % 3:
            await add_treatment(engine, made, step=f"MILD_SMS_{n}")
        for k in range(n % 4 + 1):
            done = k == 0 and n % 2 == 1  # the second case has one: its completer loads too
            await add_task(
                engine,
                made,
                step=f"MILD_CALL_{k}",
                status="DONE" if done else "OPEN",
                completed_by=collector.id if done else None,
                completed_at=NOW if done else None,
            )
    variables = {"login": collector.login}
    await gql("manager", LISTING, {"first": 1, **variables})  # warm up
    counts = {}
    for first in (2, 12):
        sql_counter.reset()
        edges = (await gql("manager", LISTING, {"first": first, **variables}))["cases"]["edges"]
        assert len(edges) == first
        counts[first] = sql_counter.count
        treatments = [s for s in sql_counter.statements if "FROM case_treatments" in s]
        tasks = [s for s in sql_counter.statements if "FROM tasks" in s]
        assert (len(treatments), len(tasks)) == (1, 1), sql_counter.statements
    assert counts[2] == counts[12], sql_counter.statements
    nodes = [e["node"] for e in edges]
    assert sum(1 for n in nodes if n["treatment"] is not None) == 8
    assert sum(len(n["tasks"]) for n in nodes) == sum(n % 4 + 1 for n in range(12))
    assert {x["completedBy"]["login"] for n in nodes for x in n["tasks"] if x["completedBy"]} == {
        collector.login
    }


async def _staff_id(engine: AsyncEngine, login: str) -> int:
    s = tables.staff.c
    async with engine.connect() as conn:
        return int((await conn.execute(select(s.id).where(s.login == login))).scalar_one())


# ---- completeTask: a closed case, a concurrent retry --------------------------------------------


async def test_a_task_of_a_case_closed_since_the_last_run_is_refused_with_the_closure(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await factory.case(assignee="collector1")
    pk = await add_task(engine, made)
    # The case closes (cured) after the daily run made the task, before the next one cancels it.
    c = tables.cases.c
    async with writing(engine) as conn:
        await conn.execute(
            update(tables.cases)
            .where(c.id == made.case.id)
            .values(status="CLOSED", close_reason="CURED", closed_at=NOW)
        )
    before = await task_row(engine, pk)
    refused, request_id = await send(gql, "collector1", COMPLETE, complete_input(pk, note="x"))
    assert refused == {
        "__typename": "RuleViolationError",
        "code": "CASE_CLOSED",
        "field": "taskId",
        "message": f"case {made.case.reference} is closed",
    }
    assert tuple(await task_row(engine, pk)) == tuple(before)
    [denied] = [e for e in await audit_of(engine, request_id) if e.action == "task.complete"]
    assert (denied.outcome, denied.resource_ids, denied.changes) == (
        "DENIED",
        [global_id("Task", pk)],
        {"refused": "CASE_CLOSED"},
    )
    # A task the run already cancelled is closed itself: that is what is said first.
    cancelled = await add_task(engine, made, status="CANCELLED")
    again, _ = await send(gql, "manager", COMPLETE, complete_input(cancelled))
    assert again["code"] == "TASK_ALREADY_CLOSED"


@pytest.mark.skipif(not PG_URL, reason="a race needs PostgreSQL (SQLite serialises writers)")
@pytest.mark.parametrize("round_", range(3))
async def test_concurrent_retries_with_one_key_answer_the_same_completion(
    gql: Gql, factory: Factory, engine: AsyncEngine, round_: int
) -> None:
    made = await factory.case(assignee="collector1")
    pk = await add_task(engine, made)
    variables = complete_input(pk, note="called", idempotencyKey=str(uuid.uuid4()))
    results = await asyncio.gather(*(send(gql, "collector1", COMPLETE, variables) for _ in "ab"))
    answers = [result for result, _ in results]
    assert [a["__typename"] for a in answers] == ["CompleteTaskSuccess"] * 2, answers
    assert answers[0] == answers[1]
    assert answers[0]["task"]["status"] == "DONE"
    row = await task_row(engine, pk)
    assert (row.status, row.version, row.note) == ("DONE", 2, "called")
    ev = tables.case_events.c
    async with engine.connect() as conn:
        stmt = select(ev.name).where(ev.case_id == made.case.id)
        assert list((await conn.execute(stmt)).scalars()) == ["TaskCompleted"]


# ---- the tasks listing -------------------------------------------------------------------------

TASKS = """
query($first: Int, $after: String, $filter: TaskFilter) {
  tasks(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { id dueOn status kind case { id assignee { login } agency { name } } } }
  }
}
"""


async def listed(
    gql: Gql, login: str, filter: dict[str, Any] | None = None, first: int = 100
) -> tuple[list[dict[str, Any]], int]:
    """Every task the login's listing holds under the filter (all pages), and its totalCount."""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        variables = {"first": first, "after": after, "filter": filter}
        page = (await gql(login, TASKS, variables))["tasks"]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes, page["totalCount"]
        after = page["pageInfo"]["endCursor"]


@pytest.mark.parametrize(
    ("login", "sees"),
    [
        ("collector1", {"own"}),
        ("lead1", {"own", "team"}),  # team East: collector1's and collector2's cases
        ("acme.agent1", {"acme"}),  # current placements only, not the lapsed one
        ("legal1", {"legal"}),
        ("manager", {"own", "team", "west", "acme", "lapsed", "pool", "legal"}),
        ("auditor1", {"own", "team", "west", "acme", "lapsed", "pool", "legal"}),
    ],
)
async def test_the_listing_holds_the_tasks_of_the_cases_in_the_caller_s_scope(
    gql: Gql, factory: Factory, engine: AsyncEngine, login: str, sees: set[str]
) -> None:
    shapes: dict[str, dict[str, Any]] = {
        "own": {"assignee": "collector1"},
        "team": {"assignee": "collector2"},
        "west": {"assignee": "collector3"},
        "acme": {"agency": "Acme Recovery"},
        "lapsed": {
            "agency": "Acme Recovery",
            "placement_ends_on": portfolio_today() - timedelta(days=2),
        },
        "pool": {},
        "legal": {"stage": "LEGAL", "classification": "SEVERE"},
    }
    made = {name: await factory.case(**shape) for name, shape in shapes.items()}
    ids = {name: global_id("Task", await add_task(engine, m)) for name, m in made.items()}
    nodes, total = await listed(gql, login)
    shown = {node["id"] for node in nodes}
    assert {name for name, gid in ids.items() if gid in shown} == sees
    assert total == len(nodes) == len(shown)
    # Earliest due first, then by id, over every page.
    order = [(node["dueOn"], int(_pk(node["id"]))) for node in nodes]
    assert order == sorted(order)


def _pk(gid: str) -> str:
    return base64.b64decode(gid).decode().split(":")[1]


async def test_a_collector_lists_only_the_tasks_of_cases_assigned_to_them_now(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    """A task made for collector1 whose case went to collector3 is collector3's now."""
    moved = await factory.case(assignee="collector3")
    collector1 = await _staff_id(engine, "collector1")
    pk = await add_task(engine, moved, assignee_id=collector1)
    for login, holds in (("collector1", False), ("collector3", True)):
        nodes, _ = await listed(gql, login)
        assert (global_id("Task", pk) in {n["id"] for n in nodes}) is holds


async def test_the_filters_status_kind_case_unowned_and_due_by(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    today = portfolio_today()
    pool = await factory.case(classification="SERIOUS")  # recalled: neither collector nor agency
    owned = await factory.case(assignee="collector1")
    placed = await factory.case(agency="Acme Recovery")
    review = await add_task(engine, pool, kind="LEGAL_REVIEW", step=REVIEW, reason=REVIEW_REASON)
    pool_done = await add_task(engine, pool, status="DONE", due_on=today - timedelta(days=3))
    overdue = await add_task(engine, owned, due_on=today - timedelta(days=1))
    later = await add_task(engine, owned, due_on=today + timedelta(days=2))
    offer = await add_task(engine, placed, kind="SETTLEMENT_OFFER", step="SERIOUS_SETTLEMENT")

    async def ids(filter: dict[str, Any]) -> list[int]:
        nodes, total = await listed(gql, "manager", filter)
        assert total == len(nodes)
        return [int(_pk(n["id"])) for n in nodes]

    cases = [pool.gid, owned.gid, placed.gid]
    assert await ids({"caseId": pool.gid}) == [pool_done, review]
    assert await ids({"caseId": pool.gid, "status": ["OPEN"]}) == [review]
    assert await ids({"caseId": owned.gid, "status": ["DONE", "CANCELLED"]}) == []
    assert await ids({"caseId": placed.gid, "kind": ["SETTLEMENT_OFFER", "LEGAL_REVIEW"]}) == [
        offer
    ]
    assert await ids({"caseId": owned.gid, "dueBy": today.isoformat()}) == [overdue]
    assert await ids({"caseId": owned.gid, "dueBy": (today + timedelta(days=2)).isoformat()}) == [
        overdue,
        later,
    ]
    # The pool: tasks of cases with neither a collector nor an agency now.
    unowned = {"unowned": True, "status": ["OPEN"]}
    nodes, total = await listed(gql, "manager", unowned)
    assert total == len(nodes)
    assert all(n["case"]["assignee"] is None and n["case"]["agency"] is None for n in nodes)
    shown = {int(_pk(n["id"])) for n in nodes}
    assert review in shown and not shown & {pool_done, overdue, later, offer}
    for gid, expected in zip(cases, ([review], [overdue, later], [offer]), strict=True):
        got_unowned = await ids({"caseId": gid, "unowned": True, "status": ["OPEN"]})
        got_owned = await ids({"caseId": gid, "unowned": False, "status": ["OPEN"]})
        assert (got_unowned, got_owned) == ((expected, []) if gid == pool.gid else ([], expected))
    # A team lead's scope holds its team's cases, never the pool.
    assert review not in {int(_pk(n["id"])) for n in (await listed(gql, "lead1", unowned))[0]}


async def test_pages_follow_the_cursor_and_count_every_task(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    collector = await factory.staff(f"tl.{uuid.uuid4().hex[:8]}", team="East")
    today = portfolio_today()
    made = [await factory.case(assignee=collector.login) for _ in range(3)]
    for n in range(12):
        await add_task(engine, made[n % 3], due_on=today + timedelta(days=(n * 5) % 4))
    async with engine.connect() as conn:
        stmt = select(t.id).where(t.case_id.in_([m.case.id for m in made])).order_by(t.due_on, t.id)
        expected = [global_id("Task", pk) for pk in (await conn.execute(stmt)).scalars()]
    pages, after = [], None
    while True:
        variables = {"first": 5, "after": after}
        page = (await gql(collector.login, TASKS, variables))["tasks"]
        assert page["totalCount"] == 12
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        pages.append([edge["node"]["id"] for edge in page["edges"]])
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [len(p) for p in pages] == [5, 5, 2]
    assert [gid for p in pages for gid in p] == expected
    # A cursor of another listing, or none at all, is bad input.
    for wrong in ("garbage", "eyJsIjoibm90aWNlczpORVdFU1QiLCJpIjoxfQ"):
        errors = await gql.errors(collector.login, TASKS, {"first": 5, "after": wrong})
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    errors = await gql.errors(collector.login, TASKS, {"filter": {"caseId": "garbage"}})
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_page_of_tasks_costs_the_same_statements_whatever_its_size(
    gql: Gql, factory: Factory, engine: AsyncEngine, sql_counter: StatementCounter
) -> None:
    collector = await factory.staff(f"tc.{uuid.uuid4().hex[:8]}", team="East")
    for _ in range(12):
        made = await factory.case(assignee=collector.login)
        await add_task(engine, made)
    await gql("manager", TASKS, {"first": 1})  # warm up
    counts = {}
    for first in (2, 12):
        sql_counter.reset()
        page = (await gql(collector.login, TASKS, {"first": first}))["tasks"]
        assert (len(page["edges"]), page["totalCount"]) == (first, 12)
        counts[first] = sql_counter.count
        listing = [s for s in sql_counter.statements if "FROM tasks" in s]
        assert len(listing) == 2, sql_counter.statements  # the page and its count
    assert counts[2] == counts[12], sql_counter.statements
    assert {e["node"]["case"]["assignee"]["login"] for e in page["edges"]} == {collector.login}


async def test_the_listing_is_audited_as_a_read_of_the_cases_shown(
    gql: Gql, factory: Factory, engine: AsyncEngine
) -> None:
    made = await factory.case(assignee="collector1")
    await add_task(engine, made)
    result, request_id = await _listing_request(gql, "manager", {"caseId": made.gid})
    assert result["totalCount"] == 1
    entries = await audit_of(engine, request_id)
    assert [(e.action, e.case_ids) for e in entries] == [("case.read", [made.case.id])]


async def _listing_request(
    gql: Gql, login: str, filter: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    response = await gql.raw(login, TASKS, {"first": 10, "filter": filter})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["tasks"], response.headers["x-request-id"]
