"""The collection policy (rule-set kind COLLECTION_POLICY) through maker–checker: a version approved
from a start changes, from then on, the grace days and horizon of the promises recorded, the
watch window of a cure by a payment, and the daily run's escalation point (read at each date's
instant).

The API tests run on a database of their own, with the app's clock set by the tests (a policy in
effect must not reach the shared database's other tests)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.collection_policy import DEFAULT, to_payload
from jobs.importing import import_feed
from store import tables
from tests.clocked_app import clocked_app
from tests.daily_support import case_row, events, make_case, noon, run
from tests.e2e.payment_cases import POST, RECORD, Loan, make_loan, payment_input, today
from tests.e2e.test_changes import APPROVE, RULE_SET, World
from tests.factories import Factory, writing
from tests.feeds.support import KEY, NOW, borrower, debt, write_feed

KIND = "COLLECTION_POLICY"
BUILTIN = {
    "promiseGraceDays": 3,
    "promiseMaxHorizonDays": 30,
    "watchDays": 60,
    "escalateAfterDays": 30,
}


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with clocked_app(tmp_path_factory, "policy", cases=10) as (gql, engine, clock):
        yield World(gql, engine, clock, Factory(engine))


@pytest.fixture(autouse=True)
def now(world: World) -> None:
    """Every test starts at the real time (a test that moves the clock moves it forward)."""
    world.clock.at = max(world.clock.at, datetime.now(UTC))


async def approved(world: World, payload: dict[str, Any], start: datetime | None = None) -> int:
    """Proposes a collection policy (manager) and approves it (admin); returns its version."""
    proposed = await world.propose("manager", KIND, payload, start)
    assert proposed["__typename"] == "ProposeRuleChangeSuccess", proposed
    decided = await world.r("admin", APPROVE, {"id": proposed["change"]["id"]})
    assert decided["__typename"] == "ApproveRuleChangeSuccess", decided
    return int(decided["change"]["ruleSetVersion"])


async def case_with_arrears(world: World, **shape: Any) -> Loan:
    """Principal 1900.00, interest 100.00, penalty 30.00, fee 10.00; instalments of 1000.00 due
    40 days ago and in 20 days (DPD 40): 1000.00 clears the arrears, a balance stays (a cure)."""
    return await make_loan(
        world.factory,
        world.engine,
        schedule=[(-40, "1000.00"), (20, "1000.00")],
        principal="1900.00",
        interest="100.00",
        penalty="30.00",
        fee="10.00",
        **shape,
    )


async def promise(world: World, target: Loan, due_in: int) -> Any:
    due = (today() + timedelta(days=due_in)).isoformat()
    variables = {
        "input": {"caseId": target.case_gid, "amount": "100.00", "currency": "CNY", "dueDate": due}
    }
    return await world.r("collector1", RECORD, variables)


async def test_the_rule_set_shows_its_checked_in_default(world: World) -> None:
    shown = await world.r("auditor1", RULE_SET, {"kind": KIND, "name": "default"})
    assert (shown["kind"], shown["name"], shown["builtin"]) == (KIND, "default", BUILTIN)
    assert to_payload(DEFAULT) == BUILTIN


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**BUILTIN, "promiseGraceDays": -1}, "payload.promiseGraceDays"),
        ({**BUILTIN, "promiseGraceDays": 31}, "payload.promiseGraceDays"),
        ({**BUILTIN, "promiseMaxHorizonDays": 0}, "payload.promiseMaxHorizonDays"),
        ({**BUILTIN, "watchDays": 366}, "payload.watchDays"),
        ({**BUILTIN, "watchDays": 2.5}, "payload.watchDays"),
        ({**BUILTIN, "escalateAfterDays": "30"}, "payload.escalateAfterDays"),
        ({**BUILTIN, "graceDays": 3}, "payload"),
        ({"promiseGraceDays": 3}, "payload.promiseMaxHorizonDays"),
        ([3, 30, 60, 30], "payload"),
    ],
)
async def test_a_bad_payload_is_change_invalid_naming_the_key(
    world: World, payload: Any, field: str
) -> None:
    refused = await world.propose("manager", KIND, payload)
    assert (refused["__typename"], refused["code"], refused["field"]) == (
        "ValidationError",
        "CHANGE_INVALID",
        field,
    )


async def test_a_promise_keeps_the_grace_days_of_the_policy_in_effect_when_recorded(
    world: World,
) -> None:
    target = await case_with_arrears(world, assignee="collector1")
    first = await approved(world, {**BUILTIN, "promiseGraceDays": 0})
    made = await promise(world, target, 11)
    assert made["__typename"] == "RecordPromiseSuccess", made
    assert made["promise"]["graceDays"] == 0

    # Approved from a minute ahead: not yet in effect, then in effect from its start.
    start = world.clock.now() + timedelta(minutes=1)
    tighter = {**BUILTIN, "promiseGraceDays": 5, "promiseMaxHorizonDays": 10}
    assert await approved(world, tighter, start) == first + 1
    assert (await promise(world, target, 11))["promise"]["graceDays"] == 0
    world.clock.at = start
    shown = await world.r("auditor1", RULE_SET, {"kind": KIND, "name": "default"})
    assert shown["inEffect"]["payload"] == tighter
    at_horizon = await promise(world, target, 10)
    assert at_horizon["__typename"] == "RecordPromiseSuccess", at_horizon
    assert at_horizon["promise"]["graceDays"] == 5
    beyond = await promise(world, target, 11)
    assert (beyond["code"], beyond["field"]) == ("PROMISE_DUE_DATE_INVALID", "dueDate")
    assert str(today() + timedelta(days=10)) in beyond["message"]


async def test_a_cure_is_watched_for_the_watch_days_in_effect(world: World) -> None:
    await approved(world, {**BUILTIN, "watchDays": 15})
    target = await case_with_arrears(world)
    reference = f"TX-{uuid.uuid4().hex[:12]}"
    posted = await world.r("manager", POST, payment_input(target, "1000.00", reference))
    assert posted["__typename"] == "PostPaymentSuccess", posted
    assert (posted["case"]["status"], posted["case"]["closeReason"]) == ("CLOSED", "CURED")
    assert posted["case"]["watchUntil"] == (today() + timedelta(days=15)).isoformat()

    await approved(world, {**BUILTIN, "watchDays": 0})
    other = await case_with_arrears(world)
    reference = f"TX-{uuid.uuid4().hex[:12]}"
    posted = await world.r("manager", POST, payment_input(other, "1000.00", reference))
    assert posted["case"]["watchUntil"] == today().isoformat()


# ---- The daily run and the feed ------------------------------------------------------------------

D0 = datetime(2027, 6, 15, tzinfo=UTC).date()


async def stored_version(
    engine: AsyncEngine, version: int, escalate_after_days: int, effective_from: datetime
) -> None:
    """A stored version of the collection policy, as an approval writes it."""
    async with writing(engine) as conn:
        await conn.execute(
            insert(tables.rule_set_versions).values(
                kind=KIND,
                name="default",
                version=version,
                payload={**BUILTIN, "escalateAfterDays": escalate_after_days},
                effective_from=effective_from,
                change_id=None,
            )
        )


async def test_the_daily_run_escalates_by_the_policy_in_effect_at_each_dates_instant(
    migrated: AsyncEngine,
) -> None:
    # Escalation past 10 days until the run's instant of D0 + 1, past 20 days from then on.
    await stored_version(migrated, 1, 10, noon(D0) - timedelta(days=30))
    await stored_version(migrated, 2, 20, noon(D0) + timedelta(hours=1))
    at_ten = await make_case(migrated, [[D0 - timedelta(days=10)]])
    at_eleven = await make_case(migrated, [[D0 - timedelta(days=11)]])
    first = await run(migrated, D0)
    assert first.days[0].escalated == 1
    assert (await case_row(migrated, at_ten.case_id)).stage == "EARLY"
    assert (await case_row(migrated, at_eleven.case_id)).stage == "COLLECTION"
    moves = await events(migrated, at_eleven.case_id, "CaseTransitioned")
    assert [m.data["trigger"] for m in moves] == ["ESCALATE"]

    # D0 + 1: the case at 11 days past due would escalate under version 1, not under version 2.
    second = await run(migrated, D0 + timedelta(days=1))
    assert second.days[0].escalated == 0
    row = await case_row(migrated, at_ten.case_id)
    assert (row.days_past_due, row.stage) == (11, "EARLY")


async def test_the_feed_opens_a_case_escalated_past_the_policy_in_effect(
    migrated: AsyncEngine, tmp_path: Path
) -> None:
    await stored_version(migrated, 1, 5, NOW - timedelta(days=1))
    rows = [borrower(1), debt(1, "CL-AT-5", dpd=5), borrower(2), debt(2, "CL-AT-6", dpd=6)]
    report = await import_feed(
        migrated, write_feed(tmp_path / "feed.jsonl", rows), audit_key=KEY, now=NOW
    )
    assert report.summary["casesOpened"] == 2
    c, d = tables.cases.c, tables.debts.c
    async with migrated.connect() as conn:
        stmt = select(d.account_number, c.days_past_due, c.stage)
        stmt = stmt.join(tables.debts, d.case_id == c.id)
        found = {
            row.account_number: (row.days_past_due, row.stage) for row in await conn.execute(stmt)
        }
    assert found == {"CL-AT-5": (5, "EARLY"), "CL-AT-6": (6, "COLLECTION")}
