"""startContact with an idempotency key over HTTP: a dialler that retries after a timeout gets the
first answer again (the attempt it reserved, or the same ComplianceViolation with the attempt it
recorded), never a second attempt; another input under the key is refused; a refusal that
records nothing keeps no key; concurrent retries (PostgreSQL) make one contact between them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.conftest import PG_URL
from tests.e2e.contacts_support import (
    COMPLETE,
    LOG,
    START,
    audit_of,
    gid,
    midday_zone,
    next_morning,
    parse,
    past_contact,
    point,
    send,
)
from tests.factories import Factory
from tests.helpers import Gql

ct, k = tables.contacts.c, tables.idempotency_keys.c
REUSED = ("ValidationError", "IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
needs_postgres = pytest.mark.skipif(
    not PG_URL, reason="a race needs PostgreSQL (SQLite serialises every writer anyway)"
)


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


def new_key() -> str:
    return f"dialler-{uuid.uuid4()}"


def start_input(case_gid: str, key: str, **extra: Any) -> dict[str, Any]:
    return {"input": {"caseId": case_gid, "channel": "PHONE", "idempotencyKey": key, **extra}}


async def midday_case(factory: Factory, used: int = 0, **shape: Any) -> tuple[Any, Any, str]:
    """A case whose borrower and phone are in a zone where it is midday now, with ``used`` of
    the day's six attempts made already."""
    zone = midday_zone()
    borrower = await factory.borrower(time_zone=zone)
    made = await factory.case(borrower=borrower, **shape)
    phone = await point(factory, borrower.id, zone=zone)
    now = datetime.now(UTC)
    for minutes in range(1, used + 1):
        await past_contact(factory, made.case, now - timedelta(minutes=minutes), point_id=phone.id)
    return made, phone, zone


async def started(engine: AsyncEngine, *case_ids: int) -> list[tuple[int, bool]]:
    """The attempts startContact recorded on the cases: (id, blocked), oldest first."""
    stmt = (
        select(ct.id, ct.blocked)
        .where(ct.case_id.in_(case_ids), ct.source == "STARTED")
        .order_by(ct.id)
    )
    async with engine.connect() as conn:
        return [(row.id, bool(row.blocked)) for row in (await conn.execute(stmt)).all()]


async def claims(engine: AsyncEngine, key: str) -> list[tuple[str, int | None]]:
    stmt = select(k.operation, k.case_id).where(k.key == key)
    async with engine.connect() as conn:
        return [(row.operation, row.case_id) for row in (await conn.execute(stmt)).all()]


async def test_a_granted_start_retried_returns_the_same_attempt(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made, phone, _ = await midday_case(factory, assignee="collector1")
    key = new_key()
    first, _ = await send(gql, "collector1", START, start_input(made.gid, key))
    assert first["__typename"] == "StartContactSuccess"
    again, request_id = await send(gql, "collector1", START, start_input(made.gid, key))
    assert again == first
    assert [(e.action, e.outcome) for e in await audit_of(engine, request_id)] == [
        ("api.write", "ALLOWED")
    ]
    rows = await started(engine, made.case.id)
    assert [(gid("Contact", pk), blocked) for pk, blocked in rows] == [
        (first["contact"]["id"], False)
    ]
    assert await claims(engine, key) == [("contact.start", made.case.id)]
    # Completed meanwhile: the retry still answers with that attempt (as it is now).
    done, _ = await send(
        gql,
        "collector1",
        COMPLETE,
        {"input": {"contactId": first["contact"]["id"], "outcome": "NO_ANSWER"}},
    )
    assert done["__typename"] == "CompleteContactSuccess"
    later, _ = await send(gql, "collector1", START, start_input(made.gid, key))
    assert (later["__typename"], later["contact"]["id"], later["contact"]["outcome"]) == (
        "StartContactSuccess",
        first["contact"]["id"],
        "NO_ANSWER",
    )
    assert len(await started(engine, made.case.id)) == 1
    # Without a key, each request asks again.
    plain = {"input": {"caseId": made.gid, "channel": "PHONE"}}
    one, _ = await send(gql, "collector1", START, plain)
    two, _ = await send(gql, "collector1", START, plain)
    assert one["contact"]["id"] != two["contact"]["id"]
    assert phone.id


async def test_a_refused_start_retried_returns_the_same_refusal(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    """Six attempts made today: refused by DAILY_ATTEMPTS until tomorrow 08:00. The retry gets
    the same refusal and the same recorded attempt, and records nothing more."""
    made, _, zone = await midday_case(factory, used=6, assignee="collector1")
    key = new_key()
    first, first_request = await send(gql, "collector1", START, start_input(made.gid, key))
    assert (first["__typename"], first["code"], first["rule"], first["field"]) == (
        "ComplianceViolation",
        "COMPLIANCE_VIOLATION",
        "DAILY_ATTEMPTS",
        None,
    )
    assert parse(first["nextAllowedAt"]) == next_morning(zone, datetime.now(UTC))
    assert [(e.action, e.outcome) for e in await audit_of(engine, first_request)] == [
        ("contact.start", "DENIED")
    ]
    again, request_id = await send(gql, "collector1", START, start_input(made.gid, key))
    assert again["__typename"] == "ComplianceViolation"
    fields = ("code", "rule", "field", "nextAllowedAt", "breaches", "contact")
    assert {f: again[f] for f in fields} == {f: first[f] for f in fields}
    assert again["contact"] == {
        "id": first["contact"]["id"],
        "blocked": True,
        "rule": "DAILY_ATTEMPTS",
    }
    assert [(e.action, e.outcome) for e in await audit_of(engine, request_id)] == [
        ("api.write", "ALLOWED")
    ]
    rows = await started(engine, made.case.id)
    assert [(gid("Contact", pk), blocked) for pk, blocked in rows] == [
        (first["contact"]["id"], True)
    ]
    assert await claims(engine, key) == [("contact.start", made.case.id)]


async def test_a_refusal_on_the_case_is_replayed_with_its_field(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made, _, _ = await midday_case(factory, assignee="collector1", status="ON_HOLD")
    key = new_key()
    first, _ = await send(gql, "collector1", START, start_input(made.gid, key))
    again, _ = await send(gql, "collector1", START, start_input(made.gid, key))
    expected = ("ComplianceViolation", "CASE_ON_HOLD", "caseId", None, ["CASE_ON_HOLD"])
    for result in (first, again):
        assert (
            result["__typename"],
            result["rule"],
            result["field"],
            result["nextAllowedAt"],
            result["breaches"],
        ) == expected
    assert again["contact"] == first["contact"]
    assert len(await started(engine, made.case.id)) == 1


async def test_a_key_reused_with_any_other_input_is_refused(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made, phone, zone = await midday_case(factory, assignee="collector1")
    other_case, _, _ = await midday_case(factory, assignee="collector1")
    visit = await point(
        factory, made.borrower.id, kind="ADDRESS", zone=zone, value="上海市测试路2号"
    )
    key = new_key()
    original = start_input(made.gid, key, contactPointId=gid("ContactPoint", phone.id))
    first, _ = await send(gql, "collector1", START, original)
    assert first["__typename"] == "StartContactSuccess"
    for field, value in (
        ("caseId", other_case.gid),
        ("channel", "SMS"),
        ("party", "GUARANTOR"),
        ("contactPointId", None),  # the default point is not the point named
        ("secondAgentLogin", "collector2"),
    ):
        changed = {**original["input"], field: value}
        result, request_id = await send(gql, "collector1", START, {"input": changed})
        assert (result["__typename"], result["code"], result["field"]) == REUSED, field
        entries = await audit_of(engine, request_id)
        assert [(e.action, e.outcome, e.changes) for e in entries] == [
            ("contact.start", "DENIED", {"refused": "IDEMPOTENCY_KEY_REUSED"})
        ]
    visiting = {**original["input"], "channel": "FIELD_VISIT"}
    visiting["contactPointId"] = gid("ContactPoint", visit.id)
    result, _ = await send(gql, "collector1", START, {"input": visiting})
    assert (result["__typename"], result["code"], result["field"]) == REUSED
    # A key used for logContact is not startContact's, nor the other way round.
    log_key = new_key()
    logged = {
        "input": {"caseId": made.gid, "channel": "PHONE", "direction": "OUTBOUND",
                  "outcome": "NO_ANSWER", "idempotencyKey": log_key}
    }  # fmt: skip
    result, _ = await send(gql, "collector1", LOG, logged)
    assert result["__typename"] == "LogContactSuccess"
    result, _ = await send(gql, "collector1", START, start_input(made.gid, log_key))
    assert (result["__typename"], result["code"], result["field"]) == REUSED
    logged["input"]["idempotencyKey"] = key
    result, _ = await send(gql, "collector1", LOG, logged)
    assert (result["__typename"], result["code"], result["field"]) == REUSED
    # Another caller's key of the same name is theirs.
    theirs, _ = await send(gql, "lead1", START, original)
    assert theirs["__typename"] == "StartContactSuccess"
    assert theirs["contact"]["id"] != first["contact"]["id"]
    too_long = start_input(made.gid, "k" * 129)
    result, _ = await send(gql, "collector1", START, too_long)
    assert (result["code"], result["field"]) == ("IDEMPOTENCY_KEY_TOO_LONG", "idempotencyKey")
    rows = await started(engine, made.case.id, other_case.case.id)
    assert [blocked for _, blocked in rows] == [False, False]


async def test_a_refusal_that_records_nothing_keeps_no_key(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made, _, _ = await midday_case(factory, assignee="collector1")
    closed, _, _ = await midday_case(factory, assignee="collector1", status="CLOSED")
    key = new_key()
    for _ in range(2):  # refused again on retry, not replayed
        result, request_id = await send(gql, "collector1", START, start_input(closed.gid, key))
        assert (result["__typename"], result["code"], result["field"]) == (
            "RuleViolationError",
            "CASE_CLOSED",
            "caseId",
        )
        entries = await audit_of(engine, request_id)
        assert [(e.action, e.outcome, e.changes) for e in entries] == [
            ("contact.start", "DENIED", {"refused": "CASE_CLOSED"})
        ]
    missing, _ = await send(gql, "collector1", START, start_input(gid("Case", 999_999), key))
    assert (missing["code"], missing["field"]) == ("CASE_NOT_FOUND", "caseId")
    mismatch = start_input(made.gid, key, secondAgentLogin="collector2")
    result, _ = await send(gql, "collector1", START, mismatch)
    assert (result["code"], result["field"]) == ("INVALID_INPUT", "secondAgentLogin")
    assert await claims(engine, key) == []
    # The key is still free: its first request that makes an attempt takes it.
    granted, _ = await send(gql, "collector1", START, start_input(made.gid, key))
    assert granted["__typename"] == "StartContactSuccess"
    assert await claims(engine, key) == [("contact.start", made.case.id)]
    assert await started(engine, closed.case.id) == []


# ---- concurrent retries (PostgreSQL) -----------------------------------------------------------


@needs_postgres
@pytest.mark.parametrize("round_", range(3))
async def test_concurrent_retries_of_the_last_attempt_reserve_it_once(
    gql: Gql, engine: AsyncEngine, factory: Factory, round_: int
) -> None:
    """Five of the six attempts of the day made: six retries of one keyed request at once get
    the one attempt between them; none is refused by the attempt another retry reserved."""
    made, _, _ = await midday_case(factory, used=5, agency="Acme Recovery")
    key = new_key()
    variables = start_input(made.gid, key)
    results = await asyncio.gather(*(send(gql, "acme.agent1", START, variables) for _ in range(6)))
    answers = [r for r, _ in results]
    assert [a["__typename"] for a in answers] == ["StartContactSuccess"] * 6, round_
    assert all(a == answers[0] for a in answers)
    rows = await started(engine, made.case.id)
    assert [(gid("Contact", pk), blocked) for pk, blocked in rows] == [
        (answers[0]["contact"]["id"], False)
    ]
    assert await claims(engine, key) == [("contact.start", made.case.id)]


@needs_postgres
@pytest.mark.parametrize("round_", range(3))
async def test_concurrent_retries_of_a_refused_start_record_one_refusal(
    gql: Gql, engine: AsyncEngine, factory: Factory, round_: int
) -> None:
    made, _, _ = await midday_case(factory, used=6, agency="Acme Recovery")
    key = new_key()
    variables = start_input(made.gid, key)
    results = await asyncio.gather(*(send(gql, "acme.agent1", START, variables) for _ in range(6)))
    answers = [r for r, _ in results]
    assert [a["__typename"] for a in answers] == ["ComplianceViolation"] * 6, round_
    fields = ("code", "rule", "field", "nextAllowedAt", "breaches", "contact")
    assert all({f: a[f] for f in fields} == {f: answers[0][f] for f in fields} for a in answers)
    assert answers[0]["rule"] == "DAILY_ATTEMPTS"
    rows = await started(engine, made.case.id)
    assert [(gid("Contact", pk), blocked) for pk, blocked in rows] == [
        (answers[0]["contact"]["id"], True)
    ]
    assert await claims(engine, key) == [("contact.start", made.case.id)]
    denied = [
        e
        for _, request_id in results
        for e in await audit_of(engine, request_id)
        if (e.action, e.outcome) == ("contact.start", "DENIED")
    ]
    assert len(denied) == 1  # the one refusal recorded; the others answered with it
