"""logContact over HTTP: never refused for a conduct rule, breaches kept on the record, field
visits with a second agent, exactly once per idempotency key, scoped and audited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.e2e.contacts_support import (
    LOG,
    audit_of,
    contact_row,
    gid,
    iso,
    parse,
    past_contact,
    point,
    send,
)
from tests.factories import Factory
from tests.helpers import Gql, assert_forbidden

SHANGHAI = ZoneInfo("Asia/Shanghai")
ct = tables.contacts.c


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


async def shanghai_case(factory: Factory, **shape: Any) -> tuple[Any, Any]:
    borrower = await factory.borrower(time_zone="Asia/Shanghai")
    made = await factory.case(borrower=borrower, **shape)
    phone = await point(factory, borrower.id, zone="Asia/Shanghai")
    return made, phone


def log_input(case_gid: str, **extra: Any) -> dict[str, Any]:
    return {
        "input": {
            "caseId": case_gid,
            "channel": "PHONE",
            "direction": "OUTBOUND",
            "outcome": "NO_ANSWER",
            **extra,
        }
    }


async def test_a_night_call_is_kept_with_its_breach(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made, phone = await shanghai_case(factory, assignee="collector1")
    night = datetime(2026, 5, 1, 23, 15, tzinfo=SHANGHAI)
    variables = log_input(made.gid, occurredAt=night.isoformat(), notes="dialler batch 7")
    result, request_id = await send(gql, "collector1", LOG, variables)
    assert result["__typename"] == "LogContactSuccess"
    contact = result["contact"]
    assert contact["breaches"] == ["QUIET_HOURS"]
    assert contact["blocked"] is False
    assert contact["source"] == "LOGGED"
    assert parse(contact["occurredAt"]) == night
    assert contact["contactPoint"] == {"id": gid("ContactPoint", phone.id)}
    row = await contact_row(engine, contact["id"])
    assert (row.breaches, row.outcome, row.notes) == (
        ["QUIET_HOURS"],
        "NO_ANSWER",
        "dialler batch 7",
    )
    entries = await audit_of(engine, request_id)
    assert [(e.action, e.outcome) for e in entries] == [("contact.log", "ALLOWED")]
    assert entries[0].changes["breaches"] == ["QUIET_HOURS"]
    assert entries[0].changes["occurredAt"] == night.astimezone(UTC).isoformat()
    assert "dialler batch" not in str(entries[0]._mapping)


async def test_an_inbound_night_call_breaks_nothing(gql: Gql, factory: Factory) -> None:
    made, _ = await shanghai_case(factory, assignee="collector1")
    night = datetime(2026, 5, 1, 23, 15, tzinfo=SHANGHAI).isoformat()
    variables = log_input(made.gid, direction="INBOUND", outcome="PROMISE_TO_PAY", occurredAt=night)
    result, _ = await send(gql, "collector1", LOG, variables)
    assert result["contact"]["breaches"] == []
    assert result["contact"]["contactPoint"] is None  # an inbound call need not name a point


async def test_the_seventh_attempt_of_a_day_is_logged_as_a_breach(
    gql: Gql, factory: Factory
) -> None:
    made, phone = await shanghai_case(factory, assignee="collector1")
    day = datetime(2026, 5, 1, 9, 0, tzinfo=SHANGHAI)
    for minutes in range(6):
        await past_contact(factory, made.case, day + timedelta(minutes=minutes), point_id=phone.id)
    variables = log_input(made.gid, occurredAt=(day + timedelta(hours=1)).isoformat())
    result, _ = await send(gql, "collector1", LOG, variables)
    assert result["contact"]["breaches"] == ["DAILY_ATTEMPTS"]
    # Logged for a moment before the others: counted against what had happened by then.
    earlier = log_input(made.gid, occurredAt=(day - timedelta(minutes=1)).isoformat())
    result, _ = await send(gql, "collector1", LOG, earlier)
    assert result["contact"]["breaches"] == []


async def test_field_visits_name_a_second_agent(gql: Gql, factory: Factory) -> None:
    made, _ = await shanghai_case(factory, assignee="collector1")
    address = await point(
        factory,
        made.borrower.id,
        kind="ADDRESS",
        value="上海市浦东新区测试路9号",
        zone="Asia/Shanghai",
    )
    visit = log_input(
        made.gid,
        channel="FIELD_VISIT",
        outcome="RIGHT_PARTY_CONTACT",
        contactPointId=gid("ContactPoint", address.id),
        occurredAt=datetime(2026, 5, 1, 15, 0, tzinfo=SHANGHAI).isoformat(),
    )
    alone, _ = await send(gql, "collector1", LOG, visit)
    assert alone["contact"]["breaches"] == ["FIELD_VISIT_TWO_STAFF"]
    visit["input"]["secondAgentLogin"] = "collector2"
    paired, _ = await send(gql, "collector1", LOG, visit)
    assert paired["contact"]["breaches"] == []
    query = "query($id: ID!) { r: node(id: $id) { ... on Contact { secondAgent { login } } } }"
    shown, _ = await send(gql, "manager", query, {"id": paired["contact"]["id"]})
    assert shown == {"secondAgent": {"login": "collector2"}}
    visit["input"]["secondAgentLogin"] = "acme.agent1"  # not a colleague of the lender's staff
    other, _ = await send(gql, "collector1", LOG, visit)
    assert (other["code"], other["field"]) == ("STAFF_NOT_FOUND", "secondAgentLogin")


async def test_logging_is_exactly_once_per_key(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made, _ = await shanghai_case(factory, assignee="collector1")
    variables = log_input(made.gid, idempotencyKey="log-7f1c", outcome="LEFT_MESSAGE")
    first, _ = await send(gql, "collector1", LOG, variables)
    again, request_id = await send(gql, "collector1", LOG, variables)
    assert again == first
    assert [(e.action, e.outcome) for e in await audit_of(engine, request_id)] == [
        ("api.write", "ALLOWED")
    ]
    other = log_input(made.gid, idempotencyKey="log-7f1c", outcome="PROMISE_TO_PAY")
    reused, _ = await send(gql, "collector1", LOG, other)
    assert (reused["code"], reused["field"]) == ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
    # Concurrent retries with one new key: one contact, and every retry answers with it.
    racing = log_input(made.gid, idempotencyKey="log-race", outcome="LEFT_MESSAGE")
    results = await asyncio.gather(*(send(gql, "collector1", LOG, racing) for _ in range(4)))
    assert [r["__typename"] for r, _ in results] == ["LogContactSuccess"] * 4
    assert len({r["contact"]["id"] for r, _ in results}) == 1
    settled, _ = await send(gql, "collector1", LOG, racing)
    async with engine.connect() as conn:
        count = (
            await conn.execute(select(func.count()).where(ct.case_id == made.case.id))
        ).scalar_one()
    assert count == 2
    assert settled == results[0][0]


async def test_a_key_reused_with_any_other_input_is_refused(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made, phone = await shanghai_case(factory, assignee="collector1")
    other_case, _ = await shanghai_case(factory, assignee="collector1")
    second = await point(factory, made.borrower.id, value="13911110000", zone="Asia/Shanghai")
    at = datetime(2026, 5, 1, 10, 0, tzinfo=SHANGHAI)
    original = log_input(
        made.gid,
        idempotencyKey="log-every-field",
        occurredAt=at.isoformat(),
        notes="left a voicemail",
        recordingRef="rec-1",
        contactPointId=gid("ContactPoint", phone.id),
    )
    first, _ = await send(gql, "collector1", LOG, original)
    assert first["__typename"] == "LogContactSuccess"
    same_instant = {**original["input"], "occurredAt": at.astimezone(UTC).isoformat()}
    again, _ = await send(gql, "collector1", LOG, {"input": same_instant})
    assert again == first  # the same instant written another way is the same input
    later = (at + timedelta(minutes=1)).isoformat()
    callback = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for field, value in (
        ("caseId", other_case.gid),
        ("channel", "AUTOMATED_CALL"),
        ("direction", "INBOUND"),
        ("party", "GUARANTOR"),
        ("outcome", "CALLBACK_REQUESTED"),
        ("contactPointId", gid("ContactPoint", second.id)),
        ("contactPointId", None),  # the default point is not the point named
        ("occurredAt", later),
        ("occurredAt", None),
        ("notes", "left two voicemails"),
        ("recordingRef", "rec-2"),
        ("callbackAt", callback),
        ("secondAgentLogin", "collector2"),
    ):
        changed = {**original["input"], field: value}
        result, _ = await send(gql, "collector1", LOG, {"input": changed})
        assert (result["__typename"], result["code"], result["field"]) == (
            "ValidationError",
            "IDEMPOTENCY_KEY_REUSED",
            "idempotencyKey",
        ), field
    async with engine.connect() as conn:
        count = (
            await conn.execute(
                select(func.count()).where(ct.case_id.in_([made.case.id, other_case.case.id]))
            )
        ).scalar_one()
    assert count == 1


async def test_log_refusals(gql: Gql, engine: AsyncEngine, factory: Factory) -> None:
    made, _ = await shanghai_case(factory, agency="Acme Recovery")
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    for variables, expected in (
        (log_input(made.gid, occurredAt=future), ("OCCURRED_IN_FUTURE", "occurredAt")),
        (
            log_input(made.gid, outcome="CALLBACK_REQUESTED"),
            ("CALLBACK_TIME_REQUIRED", "callbackAt"),
        ),
        (
            log_input(made.gid, callbackAt=iso(datetime.now(UTC) + timedelta(days=1))),
            ("CONTACT_VALUE_INVALID", "callbackAt"),
        ),
        (log_input(made.gid, notes="x" * 4001), ("CONTACT_VALUE_INVALID", "notes")),
    ):
        result, request_id = await send(gql, "acme.agent1", LOG, variables)
        assert (result["code"], result["field"]) == expected
        assert [(e.action, e.outcome) for e in await audit_of(engine, request_id)] == [
            ("contact.log", "DENIED")
        ]
    outside, _ = await send(gql, "zenith.agent1", LOG, log_input(made.gid))
    assert (outside["code"], outside["field"]) == ("CASE_NOT_FOUND", "caseId")
    async with engine.connect() as conn:
        count = (
            await conn.execute(select(func.count()).where(ct.case_id == made.case.id))
        ).scalar_one()
    assert count == 0


async def test_who_may_log(gql: Gql, factory: Factory) -> None:
    made, _ = await shanghai_case(factory, agency="Acme Recovery")
    assert_forbidden(await gql.errors("auditor1", LOG, log_input(made.gid)))
    result, _ = await send(gql, "acme.manager", LOG, log_input(made.gid, direction="INBOUND"))
    assert result["__typename"] == "LogContactSuccess"
    assert result["contact"]["agent"] == {"login": "acme.manager"}
