"""addContactPoint, updateContactPoint and Borrower.contactPoints over HTTP: validation, masking
per role (and the read noted in the audit), optimistic versions, scoping, audit without values."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.e2e.contacts_support import ADD_POINT, UPDATE_POINT, audit_of, gid, point, send
from tests.factories import Factory
from tests.helpers import Gql, assert_forbidden

cp = tables.contact_points.c
POINTS = """
query($id: ID!) {
  r: case(id: $id) { borrower { contactPoints { id kind value owner status timeZone } } }
}
"""


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


def add_input(borrower_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "input": {
            "borrowerId": gid("Borrower", borrower_id),
            "kind": "PHONE",
            "value": "+86 139-1234-5678",
            **extra,
        }
    }


async def stored(engine: AsyncEngine, point_gid: str) -> Any:
    from api.common.ids import pk_of

    async with engine.connect() as conn:
        stmt = select(tables.contact_points).where(cp.id == pk_of(point_gid, "ContactPoint"))
        return (await conn.execute(stmt)).one()


async def test_add_a_number_masked_and_audited_without_its_value(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made = await factory.case(assignee="collector1")
    variables = add_input(
        made.borrower.id,
        owner="GUARANTOR",
        timeZone="Asia/Shanghai",
        consentedHours={"start": "09:00:00", "end": "18:00:00"},
        consented=True,
        consentEvidence="rec-2026-0001",
    )
    # The collector the consent would free may not record it.
    refused, _ = await send(gql, "collector1", ADD_POINT, variables)
    assert (refused["code"], refused["field"]) == ("CONSENT_CHANGE_NOT_ALLOWED", "consented")
    result, request_id = await send(gql, "manager", ADD_POINT, variables)
    assert result["__typename"] == "AddContactPointSuccess"
    added = result["contactPoint"]
    assert {k: added[k] for k in ("kind", "value", "owner", "status", "timeZone", "version")} == {
        "kind": "PHONE",
        "value": "+86****5678",
        "owner": "GUARANTOR",
        "status": "UNVERIFIED",
        "timeZone": "Asia/Shanghai",
        "version": 1,
    }
    assert added["consentedHours"] == {"start": "09:00:00", "end": "18:00:00"}
    assert added["consentedAt"] is not None
    row = await stored(engine, added["id"])
    assert row.value == "+8613912345678"  # stored without separators
    entries = await audit_of(engine, request_id)
    assert [(e.action, e.outcome, e.resource_ids, e.borrower_ids) for e in entries] == [
        ("contact_point.add", "ALLOWED", [added["id"]], [made.borrower.id]),
        ("case.read", "ALLOWED", [], [made.borrower.id]),
    ]
    assert entries[0].changes == {
        "kind": "PHONE",
        "owner": "GUARANTOR",
        "status": "UNVERIFIED",
        "timeZone": "Asia/Shanghai",
        "consentedHours": "09:00-18:00",
        "consentedAt": added["consentedAt"].replace("Z", "+00:00"),
        "consentEvidence": "rec-2026-0001",
    }
    assert entries[1].fields == [{"name": "contact_point.phone", "clear": False}]
    assert "5678" not in str(entries[0]._mapping)


async def test_borrower_contact_points_are_masked_per_role(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made = await factory.case(stage="LEGAL", classification="SEVERE")
    phone = await point(factory, made.borrower.id, value="13812345678", zone="Asia/Shanghai")
    email = await point(factory, made.borrower.id, kind="EMAIL", value="zhang.wei@example.org")
    address = await point(
        factory, made.borrower.id, kind="ADDRESS", value="上海市浦东新区测试路5号"
    )
    masked, request_id = await send(gql, "manager", POINTS, {"id": made.gid})
    assert [p["value"] for p in masked["borrower"]["contactPoints"]] == [
        "138****5678",
        "z***@example.org",
        "****",
    ]
    entries = await audit_of(engine, request_id)
    assert entries[-1].fields == [
        {"name": "contact_point.address", "clear": False},
        {"name": "contact_point.email", "clear": False},
        {"name": "contact_point.phone", "clear": False},
    ]
    # Legal sees a borrower in legal proceedings in clear, and the read says so.
    clear, request_id = await send(gql, "legal1", POINTS, {"id": made.gid})
    assert [p["value"] for p in clear["borrower"]["contactPoints"]] == [
        phone.value,
        email.value,
        address.value,
    ]
    assert {"name": "contact_point.phone", "clear": True} in (
        (await audit_of(engine, request_id))[-1].fields
    )
    assert [p["id"] for p in clear["borrower"]["contactPoints"]] == [
        gid("ContactPoint", x.id) for x in (phone, email, address)
    ]


async def test_add_refusals(gql: Gql, engine: AsyncEngine, factory: Factory) -> None:
    made = await factory.case(agency="Acme Recovery")
    await point(factory, made.borrower.id, value="13900001111")
    borrower = made.borrower.id
    for variables, expected in (
        (add_input(borrower, value="call me"), ("CONTACT_VALUE_INVALID", "value")),
        (add_input(borrower, kind="EMAIL", value="nobody@"), ("CONTACT_VALUE_INVALID", "value")),
        (add_input(borrower, timeZone="Mars/Olympus"), ("INVALID_TIME_ZONE", "timeZone")),
        (
            add_input(borrower, consentedHours={"start": "09:00:00", "end": "09:00:00"}),
            ("CONTACT_VALUE_INVALID", "consentedHours"),
        ),
        (add_input(borrower, consented=True), ("CONSENT_CHANGE_NOT_ALLOWED", "consented")),
        (
            add_input(borrower, consentedHours={"start": "09:00:00", "end": "18:00:00"}),
            ("CONSENT_CHANGE_NOT_ALLOWED", "consentedHours"),
        ),
    ):
        result, request_id = await send(gql, "acme.agent1", ADD_POINT, variables)
        assert (result["code"], result["field"]) == expected
        entries = await audit_of(engine, request_id)
        assert [(e.action, e.outcome, e.changes) for e in entries] == [
            ("contact_point.add", "DENIED", {"refused": expected[0]})
        ]
    outside, _ = await send(gql, "zenith.agent1", ADD_POINT, add_input(borrower))
    assert (outside["__typename"], outside["code"], outside["field"]) == (
        "NotFoundError",
        "BORROWER_NOT_FOUND",
        "borrowerId",
    )
    async with engine.connect() as conn:
        count = len((await conn.execute(select(cp.id).where(cp.borrower_id == borrower))).all())
    assert count == 1
    assert_forbidden(await gql.errors("auditor1", ADD_POINT, add_input(borrower)))


async def test_update_status_zone_hours_and_consent(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made = await factory.case(assignee="collector1")
    phone = await point(factory, made.borrower.id, zone="Asia/Shanghai")
    point_gid = gid("ContactPoint", phone.id)
    change = {
        "contactPointId": point_gid,
        "status": "OPTED_OUT",
        "timeZone": "Asia/Urumqi",
        "consentedHours": {"start": "20:00:00", "end": "01:00:00"},
        "consented": True,
        "expectedVersion": 1,
    }
    refused, _ = await send(gql, "collector1", UPDATE_POINT, {"input": change})
    assert (refused["code"], refused["field"]) == ("CONSENT_CHANGE_NOT_ALLOWED", "timeZone")
    missing, _ = await send(gql, "manager", UPDATE_POINT, {"input": change})
    assert (missing["code"], missing["field"]) == ("CONSENT_EVIDENCE_REQUIRED", "consentEvidence")
    change["consentEvidence"] = "doc-4711"
    result, request_id = await send(gql, "manager", UPDATE_POINT, {"input": change})
    updated = result["contactPoint"]
    assert (updated["status"], updated["timeZone"], updated["version"]) == (
        "OPTED_OUT",
        "Asia/Urumqi",
        2,
    )
    assert updated["consentedHours"] == {"start": "20:00:00", "end": "01:00:00"}
    assert updated["consentedAt"] is not None
    entries = await audit_of(engine, request_id)
    assert entries[0].action == "contact_point.update"
    changes = entries[0].changes
    assert changes["status"] == {"before": "VERIFIED", "after": "OPTED_OUT"}
    assert changes["timeZone"] == {"before": "Asia/Shanghai", "after": "Asia/Urumqi"}
    assert changes["consentedHours"] == {"before": None, "after": "20:00-01:00"}
    assert changes["consentEvidence"] == "doc-4711"
    assert set(changes) == {
        "status",
        "timeZone",
        "consentedHours",
        "consentedAt",
        "consentEvidence",
    }
    # Absent fields stay as they are; null clears.
    cleared, _ = await send(
        gql,
        "manager",
        UPDATE_POINT,
        {
            "input": {
                "contactPointId": point_gid,
                "timeZone": None,
                "consentedHours": None,
                "consentEvidence": "doc-4712",
            }
        },
    )
    assert cleared["contactPoint"]["status"] == "OPTED_OUT"
    assert cleared["contactPoint"]["timeZone"] is None
    assert cleared["contactPoint"]["consentedHours"] is None
    row = await stored(engine, point_gid)
    assert (row.time_zone, row.consent_start, row.status, row.version) == (
        None,
        None,
        "OPTED_OUT",
        3,
    )
    stale, request_id = await send(
        gql,
        "collector1",
        UPDATE_POINT,
        {"input": {"contactPointId": point_gid, "status": "VERIFIED", "expectedVersion": 1}},
    )
    assert (stale["__typename"], stale["code"], stale["field"]) == (
        "ConflictError",
        "CONFLICT",
        "expectedVersion",
    )
    bad_zone, _ = await send(
        gql,
        "collector1",
        UPDATE_POINT,
        {"input": {"contactPointId": point_gid, "timeZone": "Nowhere/Town"}},
    )
    assert (bad_zone["code"], bad_zone["field"]) == ("INVALID_TIME_ZONE", "timeZone")
    assert (await stored(engine, point_gid)).version == 3


async def test_update_outside_scope(gql: Gql, factory: Factory) -> None:
    made = await factory.case(agency="Acme Recovery")
    phone = await point(factory, made.borrower.id)
    change = {"input": {"contactPointId": gid("ContactPoint", phone.id), "status": "INVALID"}}
    result, _ = await send(gql, "zenith.agent1", UPDATE_POINT, change)
    assert (result["__typename"], result["code"], result["field"]) == (
        "NotFoundError",
        "CONTACT_POINT_NOT_FOUND",
        "contactPointId",
    )
    result, _ = await send(gql, "acme.agent1", UPDATE_POINT, change)
    assert result["contactPoint"]["status"] == "INVALID"


async def test_only_consent_holders_lift_what_protects_the_person(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    """Collectors, team leads and agency staff mark points invalid or opted out, one way;
    lifting either, and consent, is for managers and the integration account (the borrower's
    self-service channel), with evidence for consent and an opt-out lifted."""
    made = await factory.case(assignee="collector1", agency="Acme Recovery")
    opted = await point(factory, made.borrower.id, status="OPTED_OUT", value="13900002222")
    invalid = await point(factory, made.borrower.id, status="INVALID", value="13900003333")
    fresh = await point(factory, made.borrower.id, status="UNVERIFIED", value="13900004444")

    def change(pk: int, **fields: Any) -> dict[str, Any]:
        return {"input": {"contactPointId": gid("ContactPoint", pk), **fields}}

    for login in ("collector1", "lead1", "acme.agent1", "acme.manager"):
        for target, status in ((opted, "VERIFIED"), (opted, "INVALID"), (invalid, "UNVERIFIED")):
            result, request_id = await send(
                gql, login, UPDATE_POINT, change(target.id, status=status, consentEvidence="r")
            )
            assert (result["code"], result["field"]) == ("CONSENT_CHANGE_NOT_ALLOWED", "status")
            assert [
                (e.action, e.outcome, e.changes) for e in await audit_of(engine, request_id)
            ] == [("contact_point.update", "DENIED", {"refused": "CONSENT_CHANGE_NOT_ALLOWED"})]
    # Agents verify a point and mark one opted out (one way).
    verified, _ = await send(gql, "acme.agent1", UPDATE_POINT, change(fresh.id, status="VERIFIED"))
    assert verified["contactPoint"]["status"] == "VERIFIED"
    out, _ = await send(gql, "acme.agent1", UPDATE_POINT, change(fresh.id, status="OPTED_OUT"))
    assert out["contactPoint"]["status"] == "OPTED_OUT"
    # The integration account lifts an opt-out with evidence; a manager an invalid mark.
    missing, _ = await send(gql, "core.banking", UPDATE_POINT, change(opted.id, status="VERIFIED"))
    assert (missing["code"], missing["field"]) == ("CONSENT_EVIDENCE_REQUIRED", "consentEvidence")
    lifted, request_id = await send(
        gql,
        "core.banking",
        UPDATE_POINT,
        change(opted.id, status="VERIFIED", consentEvidence="selfservice-8841"),
    )
    assert lifted["contactPoint"]["status"] == "VERIFIED"
    assert (await audit_of(engine, request_id))[0].changes == {
        "status": {"before": "OPTED_OUT", "after": "VERIFIED"},
        "consentEvidence": "selfservice-8841",
    }
    valid, _ = await send(gql, "manager", UPDATE_POINT, change(invalid.id, status="VERIFIED"))
    assert valid["contactPoint"]["status"] == "VERIFIED"


async def test_withdrawn_consent_takes_its_hours_with_it(gql: Gql, factory: Factory) -> None:
    made = await factory.case(assignee="collector1")
    phone = await point(factory, made.borrower.id, zone="Asia/Shanghai")
    pk = gid("ContactPoint", phone.id)
    given, _ = await send(
        gql,
        "core.banking",
        UPDATE_POINT,
        {
            "input": {
                "contactPointId": pk,
                "consented": True,
                "consentedHours": {"start": "07:00:00", "end": "09:00:00"},
                "consentEvidence": "selfservice-1",
            }
        },
    )
    assert given["contactPoint"]["consentedHours"] == {"start": "07:00:00", "end": "09:00:00"}
    for login in ("collector1", "lead1"):
        kept, _ = await send(
            gql, login, UPDATE_POINT, {"input": {"contactPointId": pk, "consented": False}}
        )
        assert (kept["code"], kept["field"]) == ("CONSENT_CHANGE_NOT_ALLOWED", "consented")
    withdrawn, _ = await send(
        gql,
        "core.banking",
        UPDATE_POINT,
        {"input": {"contactPointId": pk, "consented": False, "consentEvidence": "selfservice-2"}},
    )
    assert (
        withdrawn["contactPoint"]["consentedAt"],
        withdrawn["contactPoint"]["consentedHours"],
    ) == (
        None,
        None,
    )
    # Hours without consent are refused.
    hours, _ = await send(
        gql,
        "manager",
        UPDATE_POINT,
        {
            "input": {
                "contactPointId": pk,
                "consentedHours": {"start": "07:00:00", "end": "09:00:00"},
                "consentEvidence": "doc-1",
            }
        },
    )
    assert (hours["code"], hours["field"]) == ("CONTACT_VALUE_INVALID", "consentedHours")


async def test_a_masked_duplicate_is_added_not_revealed(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    """An agent who sees numbers masked adding one the borrower has: no refusal tells them so
    (it would be an oracle for the masked digits); the copy shares the number's rules."""
    made = await factory.case(agency="Acme Recovery")
    await point(factory, made.borrower.id, value="13900001111", status="OPTED_OUT")
    again, request_id = await send(
        gql, "acme.agent1", ADD_POINT, add_input(made.borrower.id, value="139 0000 1111")
    )
    assert again["__typename"] == "AddContactPointSuccess"
    assert (again["contactPoint"]["value"], again["contactPoint"]["status"]) == (
        "139****1111",
        "UNVERIFIED",
    )
    async with engine.connect() as conn:
        values = (
            await conn.execute(select(cp.value).where(cp.borrower_id == made.borrower.id))
        ).scalars()
        assert sorted(values) == ["13900001111", "13900001111"]
    start = """
    mutation($input: StartContactInput!) {
      r: startContact(input: $input) { __typename ... on ComplianceViolation { rule } }
    }
    """
    refused, _ = await send(
        gql,
        "acme.agent1",
        start,
        {
            "input": {
                "caseId": made.gid,
                "channel": "PHONE",
                "contactPointId": again["contactPoint"]["id"],
            }
        },
    )
    assert refused == {"__typename": "ComplianceViolation", "rule": "OPTED_OUT"}
    assert request_id
