"""Legal holds over HTTP: placeLegalHold and releaseLegalHold with their permissions (a collector is
FORBIDDEN), typed errors (an unknown case, a second hold, releasing a released hold, no hold in
force, neither or both ids), the audit entries of each change and refusal, ``Case.legalHolds``
(legal_hold:read; the reason only for those who manage holds or work cases); and an anonymised
borrower's placeholders, masked and revealed, as they are."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.retention.placeholders import PLACEHOLDER
from store import tables
from tests.factories import Factory, MadeCase, global_id
from tests.helpers import Gql, assert_forbidden

PAYLOAD = "__typename ... on UserError { code field }"
HOLD = "id inForce reason placedBy { login } releasedBy { login } releasedAt"
PLACE = f"""
mutation($input: PlaceLegalHoldInput!) {{
  r: placeLegalHold(input: $input) {{
    {PAYLOAD} ... on PlaceLegalHoldSuccess {{ legalHold {{ {HOLD} }} case {{ id }} }}
  }}
}}
"""
RELEASE = f"""
mutation($input: ReleaseLegalHoldInput!) {{
  r: releaseLegalHold(input: $input) {{
    {PAYLOAD} ... on ReleaseLegalHoldSuccess {{ legalHold {{ {HOLD} }} case {{ id }} }}
  }}
}}
"""
HOLDS = "query($id: ID!) { case(id: $id) { legalHolds { id inForce reason } } }"
REASON = "lawsuit 2026-沪0115-123 pending"
e = tables.audit_entries.c


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


async def last_entry(engine: AsyncEngine, action: str) -> Any:
    async with engine.connect() as conn:
        stmt = select(tables.audit_entries).where(e.action == action).order_by(e.id.desc())
        return (await conn.execute(stmt.limit(1))).one()


async def place(gql: Gql, made: MadeCase, login: str = "manager") -> dict[str, Any]:
    variables = {"input": {"caseId": made.gid, "reason": REASON}}
    result: dict[str, Any] = (await gql(login, PLACE, variables))["r"]
    return result


async def test_a_hold_is_placed_shown_and_released_with_its_audit(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made = await factory.case(status="CLOSED")
    placed = await place(gql, made)
    assert placed["__typename"] == "PlaceLegalHoldSuccess"
    hold = placed["legalHold"]
    assert {k: hold[k] for k in ("inForce", "reason", "placedBy", "releasedBy", "releasedAt")} == {
        "inForce": True,
        "reason": REASON,
        "placedBy": {"login": "manager"},
        "releasedBy": None,
        "releasedAt": None,
    }
    assert placed["case"] == {"id": made.gid}
    entry = await last_entry(engine, "legal_hold.place")
    assert (entry.outcome, entry.actor_login, entry.case_ids, entry.reason_text) == (
        "ALLOWED",
        "manager",
        [made.case.id],
        REASON,
    )
    assert entry.changes == {"holdId": hold["id"], "inForce": True}

    # One in force per case.
    again = await place(gql, made, "admin")
    assert again == {
        "__typename": "RuleViolationError",
        "code": "LEGAL_HOLD_EXISTS",
        "field": "caseId",
    }
    refused = await last_entry(engine, "legal_hold.place")
    assert (refused.outcome, refused.case_ids) == ("DENIED", [made.case.id])
    assert refused.changes == {"refused": "LEGAL_HOLD_EXISTS"}

    # By its ID, to those who read holds (null to anyone else).
    node = "query($id: ID!) { node(id: $id) { ... on LegalHold { id inForce } } }"
    by_id = await gql("manager", node, {"id": hold["id"]})
    assert by_id["node"] == {"id": hold["id"], "inForce": True}
    assert (await gql("collector1", node, {"id": hold["id"]}))["node"] is None

    # Visible on the case: the auditor reads it (legal_hold:read) without the free text.
    shown = await gql("manager", HOLDS, {"id": made.gid})
    assert shown["case"]["legalHolds"] == [{"id": hold["id"], "inForce": True, "reason": REASON}]
    audited = await gql("auditor1", HOLDS, {"id": made.gid})
    assert audited["case"]["legalHolds"] == [{"id": hold["id"], "inForce": True, "reason": None}]

    released = await gql(
        "manager", RELEASE, {"input": {"holdId": hold["id"], "reason": "lawsuit withdrawn"}}
    )
    result = released["r"]
    assert result["__typename"] == "ReleaseLegalHoldSuccess"
    assert result["legalHold"]["inForce"] is False
    assert result["legalHold"]["releasedBy"] == {"login": "manager"}
    assert result["legalHold"]["releasedAt"] is not None
    entry = await last_entry(engine, "legal_hold.release")
    assert (entry.outcome, entry.case_ids, entry.reason_text) == (
        "ALLOWED",
        [made.case.id],
        "lawsuit withdrawn",
    )
    assert entry.changes == {"holdId": hold["id"], "inForce": False}

    # A released hold stays released; a case without one in force has none to release.
    twice = await gql("manager", RELEASE, {"input": {"holdId": hold["id"], "reason": "again"}})
    assert twice["r"] == {
        "__typename": "RuleViolationError",
        "code": "LEGAL_HOLD_RELEASED",
        "field": "holdId",
    }
    refused = await last_entry(engine, "legal_hold.release")
    assert (refused.outcome, refused.resource_type, refused.changes) == (
        "DENIED",
        "LegalHold",
        {"refused": "LEGAL_HOLD_RELEASED"},
    )
    by_case = await gql("manager", RELEASE, {"input": {"caseId": made.gid, "reason": "again"}})
    assert by_case["r"] == {
        "__typename": "NotFoundError",
        "code": "LEGAL_HOLD_NOT_FOUND",
        "field": "caseId",
    }

    # A new hold is released by its case.
    second = await place(gql, made, "admin")
    assert second["__typename"] == "PlaceLegalHoldSuccess"
    done = await gql("legal1", RELEASE, {"input": {"caseId": made.gid, "reason": "settled"}})
    # legal1 sees LEGAL cases only: this one is out of their scope.
    assert done["r"] == {"__typename": "NotFoundError", "code": "CASE_NOT_FOUND", "field": "caseId"}
    done = await gql("manager", RELEASE, {"input": {"caseId": made.gid, "reason": "settled"}})
    assert done["r"]["legalHold"]["id"] == second["legalHold"]["id"]
    listed = await gql("manager", HOLDS, {"id": made.gid})
    assert [(h["id"], h["inForce"]) for h in listed["case"]["legalHolds"]] == [
        (second["legalHold"]["id"], False),
        (hold["id"], False),
    ]


async def test_legal_staff_hold_legal_cases(gql: Gql, factory: Factory) -> None:
    made = await factory.case(stage="LEGAL", classification="SEVERE")
    placed = await place(gql, made, "legal1")
    assert placed["__typename"] == "PlaceLegalHoldSuccess"
    assert placed["legalHold"]["placedBy"] == {"login": "legal1"}


async def test_collectors_are_forbidden_and_unknown_cases_are_not_found(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made = await factory.case(assignee="collector1")
    variables = {"input": {"caseId": made.gid, "reason": REASON}}
    assert_forbidden(await gql.errors("collector1", PLACE, variables))
    release = {"input": {"caseId": made.gid, "reason": "no"}}
    assert_forbidden(await gql.errors("collector1", RELEASE, release))
    assert_forbidden(await gql.errors("collector1", HOLDS, {"id": made.gid}))
    denied = await last_entry(engine, "authz.denied")
    assert denied.changes == {"permission": "legal_hold:read", "field": "legalHolds"}

    unknown = {"input": {"caseId": global_id("Case", 987654321), "reason": REASON}}
    assert (await gql("manager", PLACE, unknown))["r"] == {
        "__typename": "NotFoundError",
        "code": "CASE_NOT_FOUND",
        "field": "caseId",
    }
    refused = await last_entry(engine, "legal_hold.place")
    assert (refused.outcome, refused.case_ids, refused.changes) == (
        "DENIED",
        [987654321],
        {"refused": "CASE_NOT_FOUND"},
    )
    no_hold = {"input": {"holdId": global_id("LegalHold", 987654321), "reason": "x"}}
    assert (await gql("manager", RELEASE, no_hold))["r"] == {
        "__typename": "NotFoundError",
        "code": "LEGAL_HOLD_NOT_FOUND",
        "field": "holdId",
    }
    both = {"input": {"holdId": global_id("LegalHold", 1), "caseId": made.gid, "reason": "x"}}
    neither = {"input": {"reason": "x"}}
    for variables in (both, neither):
        assert (await gql("manager", RELEASE, variables))["r"] == {
            "__typename": "ValidationError",
            "code": "INVALID_INPUT",
            "field": "holdId",
        }
    blank = {"input": {"caseId": made.gid, "reason": "  "}}
    assert (await gql("manager", PLACE, blank))["r"] == {
        "__typename": "ValidationError",
        "code": "REASON_REQUIRED",
        "field": "reason",
    }


async def test_an_anonymised_borrower_shows_and_reveals_placeholders(
    gql: Gql, factory: Factory
) -> None:
    borrower = await factory.borrower(
        full_name=PLACEHOLDER,
        national_id=f"[anon]{987654}",
        phone=PLACEHOLDER,
        email=PLACEHOLDER,
        address=PLACEHOLDER,
        city=PLACEHOLDER,
        district=PLACEHOLDER,
        employer=PLACEHOLDER,
    )
    made = await factory.case(borrower=borrower, assignee="collector1")
    query = """query($id: ID!) { case(id: $id) { borrower { id fullName nationalId phone email
      address employer } } }"""
    shown = (await gql("collector1", query, {"id": made.gid}))["case"]["borrower"]
    assert {k: v for k, v in shown.items() if k != "id"} == {
        "fullName": PLACEHOLDER,
        "nationalId": "[anon]987654",
        "phone": PLACEHOLDER,
        "email": PLACEHOLDER,
        "address": PLACEHOLDER,
        "employer": PLACEHOLDER,
    }
    reveal = """mutation($input: RevealConfidentialInput!) { revealConfidential(input: $input) {
      __typename ... on RevealConfidentialSuccess { value } ... on UserError { code } } }"""
    for field, value in (("PHONE", PLACEHOLDER), ("EMAIL", PLACEHOLDER)):
        variables = {
            "input": {
                "borrowerId": shown["id"],
                "field": field,
                "reasonCode": "CONTACT_BORROWER",
                "reasonText": "checking the record",
            }
        }
        revealed = (await gql("collector1", reveal, variables))["revealConfidential"]
        assert revealed == {"__typename": "RevealConfidentialSuccess", "value": value}
