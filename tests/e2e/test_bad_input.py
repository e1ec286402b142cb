"""Out-of-range input is refused as bad input, never INTERNAL, on SQLite and PostgreSQL alike:
IDs, cursors, dates, page sizes and strings that no column can hold. An ID that decodes to no
possible row answers as an unknown one does (null from queries, a typed NotFound from
mutations, as docs/API.md says); everything else is BAD_USER_INPUT, decided before the
database is asked (PostgreSQL INTEGER is 32-bit: asyncpg refuses 2**31 with an error)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.helpers import Gql, assert_bad_input

CASE = "query($id: ID!) { r: case(id: $id) { id } }"
NODE = "query($id: ID!) { r: node(id: $id) { id } }"
CASES = """
query($first: Int, $after: String, $filter: CaseFilter, $orderBy: CaseOrder) {
  r: cases(first: $first, after: $after, filter: $filter, orderBy: $orderBy) { totalCount }
}"""
TRAIL = """
query($first: Int, $after: String, $filter: AuditFilter) {
  r: auditTrail(first: $first, after: $after, filter: $filter) { totalCount }
}"""
HISTORY = """
query($id: ID!, $after: String) { r: accessHistory(borrowerId: $id, after: $after) { totalCount } }
"""
TYPED = "{ __typename ... on UserError { code field } }"
ASSIGN = (
    'mutation($id: ID!) { r: assignCase(input: {caseId: $id, assigneeLogin: "collector1"}) '
    + TYPED
    + " }"
)
PLACE = (
    'mutation($id: ID!) { r: placeWithAgency(input: {caseId: $id, agencyName: "Acme Recovery"}) '
    + TYPED
    + " }"
)
RECALL = "mutation($id: ID!) { r: recallFromAgency(input: {caseId: $id}) " + TYPED + " }"
REVEAL = (
    "mutation($id: ID!) { r: revealConfidential(input: {borrowerId: $id, field: PHONE, "
    'reasonCode: CONTACT_BORROWER, reasonText: "a call"}) ' + TYPED + " }"
)

BIG = 2**31  # one past PostgreSQL's INTEGER
HUGE = 99999999999999999999  # past 64 bits too


def gid(text: str) -> str:
    """A global ID holding any text (``Type:number`` when issued by the API)."""
    return base64.b64encode(text.encode()).decode()


def case_cursor(order: str = "DAYS_PAST_DUE_DESC", value: Any = 5, case_id: Any = 1) -> str:
    raw = json.dumps({"o": order, "v": value, "i": case_id})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def audit_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@dataclass(frozen=True)
class Probe:
    login: str
    query: str
    variables: dict[str, Any]
    expect: str  # "null", a typed error code, "BAD_USER_INPUT: <message part>", or "REFUSED"


def bad(login: str, query: str, variables: dict[str, Any], fragment: str) -> Probe:
    return Probe(login, query, variables, f"BAD_USER_INPUT: {fragment}")


def trail_filter(**fields: Any) -> dict[str, Any]:
    return {"filter": fields}


PROBES = {
    # IDs whose number no row can have: null, as for any unknown ID.
    "case-id-past-64-bits": Probe("manager", CASE, {"id": gid(f"Case:{HUGE}")}, "null"),
    "case-id-past-32-bits": Probe("manager", CASE, {"id": gid(f"Case:{BIG}")}, "null"),
    "case-id-negative": Probe("manager", CASE, {"id": gid("Case:-1")}, "null"),
    "case-id-exponent": Probe("manager", CASE, {"id": gid("Case:1e5")}, "null"),
    "case-id-underscore": Probe("manager", CASE, {"id": gid("Case:1_0")}, "null"),
    "node-borrower-2**63": Probe("manager", NODE, {"id": gid(f"Borrower:{2**63}")}, "null"),
    "node-staff-past-32-bits": Probe("manager", NODE, {"id": gid(f"Staff:{BIG}")}, "null"),
    "node-agency-past-32-bits": Probe("manager", NODE, {"id": gid(f"Agency:{BIG}")}, "null"),
    "node-debt-past-64-bits": Probe("manager", NODE, {"id": gid(f"Debt:{HUGE}")}, "null"),
    # ... and a typed NotFound from mutations.
    "assign-case-past-32-bits": Probe(
        "manager", ASSIGN, {"id": gid(f"Case:{BIG}")}, "CASE_NOT_FOUND"
    ),
    "assign-case-past-64-bits": Probe(
        "manager", ASSIGN, {"id": gid(f"Case:{HUGE}")}, "CASE_NOT_FOUND"
    ),
    "place-case-past-32-bits": Probe(
        "manager", PLACE, {"id": gid(f"Case:{BIG}")}, "CASE_NOT_FOUND"
    ),
    "recall-case-past-64-bits": Probe(
        "manager", RECALL, {"id": gid(f"Case:{HUGE}")}, "CASE_NOT_FOUND"
    ),
    "reveal-borrower-past-32-bits": Probe(
        "manager", REVEAL, {"id": gid(f"Borrower:{BIG}")}, "BORROWER_NOT_FOUND"
    ),
    # IDs used as filters: bad input.
    "history-borrower-past-32-bits": bad(
        "admin", HISTORY, {"id": gid(f"Borrower:{BIG}")}, "borrowerId is not a Borrower ID"
    ),
    "trail-case-id-past-32-bits": bad(
        "admin", TRAIL, trail_filter(caseId=gid(f"Case:{BIG}")), "filter.caseId"
    ),
    "trail-borrower-id-past-64-bits": bad(
        "admin", TRAIL, trail_filter(borrowerId=gid(f"Borrower:{HUGE}")), "filter.borrowerId"
    ),
    # Case cursors holding what no row can hold.
    "cursor-case-id-past-32-bits": bad(
        "manager", CASES, {"after": case_cursor(case_id=BIG)}, "after"
    ),
    "cursor-case-id-2**62": bad("manager", CASES, {"after": case_cursor(case_id=2**62)}, "after"),
    "cursor-case-id-zero": bad("manager", CASES, {"after": case_cursor(case_id=0)}, "after"),
    "cursor-case-id-bool": bad("manager", CASES, {"after": case_cursor(case_id=True)}, "after"),
    "cursor-case-id-string": bad("manager", CASES, {"after": case_cursor(case_id="1")}, "after"),
    "cursor-days-past-32-bits": bad("manager", CASES, {"after": case_cursor(value=BIG)}, "after"),
    "cursor-days-float": bad("manager", CASES, {"after": case_cursor(value=1.5)}, "after"),
    "cursor-amount-past-numeric-18-2": bad(
        "manager",
        CASES,
        {
            "after": case_cursor("OUTSTANDING_DESC", "99999999999999999999.00"),
            "orderBy": "OUTSTANDING_DESC",
        },
        "after",
    ),
    "cursor-amount-exponent": bad(
        "manager",
        CASES,
        {"after": case_cursor("OUTSTANDING_ASC", "1e30"), "orderBy": "OUTSTANDING_ASC"},
        "after",
    ),
    "cursor-amount-number": bad(
        "manager",
        CASES,
        {"after": case_cursor("OUTSTANDING_ASC", 5), "orderBy": "OUTSTANDING_ASC"},
        "after",
    ),
    "cursor-date-year-0": bad(
        "manager",
        CASES,
        {"after": case_cursor("OPENED_ON_DESC", "0000-01-01"), "orderBy": "OPENED_ON_DESC"},
        "after",
    ),
    "cursor-date-number": bad(
        "manager",
        CASES,
        {"after": case_cursor("OPENED_ON_DESC", 20260101), "orderBy": "OPENED_ON_DESC"},
        "after",
    ),
    "cursor-reference-object": bad(
        "manager",
        CASES,
        {"after": case_cursor("REFERENCE_ASC", {"a": 1}), "orderBy": "REFERENCE_ASC"},
        "after",
    ),
    "cursor-reference-too-long": bad(
        "manager",
        CASES,
        {"after": case_cursor("REFERENCE_ASC", "A" * 33), "orderBy": "REFERENCE_ASC"},
        "after",
    ),
    "cursor-reference-nul": bad(
        "manager",
        CASES,
        {"after": case_cursor("REFERENCE_ASC", "AR\u0000"), "orderBy": "REFERENCE_ASC"},
        "after",
    ),
    "cursor-deeply-nested": bad(
        "manager", CASES, {"after": audit_cursor("[" * 5000 + "]" * 5000)}, "after"
    ),
    # Audit cursors.
    "audit-cursor-past-32-bits": bad(
        "admin", TRAIL, {"after": audit_cursor(f"audit:{BIG}")}, "after"
    ),
    "audit-cursor-past-64-bits": bad(
        "admin", TRAIL, {"after": audit_cursor(f"audit:{HUGE}")}, "after"
    ),
    "audit-cursor-negative": bad("admin", TRAIL, {"after": audit_cursor("audit:-5")}, "after"),
    "audit-cursor-zero": bad("admin", TRAIL, {"after": audit_cursor("audit:0")}, "after"),
    "audit-cursor-underscore": bad("admin", TRAIL, {"after": audit_cursor("audit:5_0")}, "after"),
    "audit-cursor-space": bad("admin", TRAIL, {"after": audit_cursor("audit: 5")}, "after"),
    "history-cursor-past-32-bits": bad(
        "admin",
        HISTORY,
        {"id": gid("Borrower:1"), "after": audit_cursor(f"audit:{BIG}")},
        "after",
    ),
    # Instants outside what a timestamp can hold once in UTC, or without a zone.
    "since-after-9999-in-utc": bad(
        "admin", TRAIL, trail_filter(since="9999-12-31T23:59:59-14:00"), "filter.since"
    ),
    "until-before-year-1-in-utc": bad(
        "admin", TRAIL, trail_filter(until="0001-01-01T00:00:00+14:00"), "filter.until"
    ),
    "since-without-zone": bad(
        "admin", TRAIL, trail_filter(since="2026-01-01T00:00:00"), "needs a time zone"
    ),
    "since-literal-after-9999-in-utc": bad(
        "admin",
        '{ r: auditTrail(filter: {since: "9999-12-31T23:59:59-14:00"}) { totalCount } }',
        {},
        "filter.since",
    ),
    # Page sizes and counts.
    "first-negative": bad("manager", CASES, {"first": -1}, "first"),
    "first-a-million": bad("manager", CASES, {"first": 1_000_000}, "first"),
    "trail-first-101": bad("admin", TRAIL, {"first": 101}, "first"),
    "min-days-negative": bad(
        "manager", CASES, {"filter": {"minDaysPastDue": -1}}, "minDaysPastDue"
    ),
    # Strings PostgreSQL cannot store or compare (NUL).
    "search-nul": Probe("manager", CASES, {"filter": {"search": "a\u0000b"}}, "NUL"),
    "assignee-nul": Probe("manager", CASES, {"filter": {"assigneeLogin": "x\u0000"}}, "NUL"),
    "agency-nul": Probe("manager", CASES, {"filter": {"agencyName": "\u0000"}}, "NUL"),
    "phone-nul": Probe("legal1", CASES, {"filter": {"borrowerPhone": "138\u0000"}}, "NUL"),
    "actor-nul": Probe("admin", TRAIL, trail_filter(actorLogin="a\u0000"), "NUL"),
    "action-nul": Probe("admin", TRAIL, trail_filter(action="a\u0000"), "NUL"),
    "resource-nul": Probe("admin", TRAIL, trail_filter(resourceId="\u0000"), "NUL"),
    # Refused by graphql-core before anything runs (GraphQL Int is 32-bit; year 0 is no
    # DateTime), with the code api/errors.py gives its value errors.
    "min-days-literal-past-32-bits": Probe(
        "manager",
        "{ r: cases(filter: {minDaysPastDue: 2147483648}) { totalCount } }",
        {},
        "REFUSED",
    ),
    "first-variable-past-32-bits": Probe("manager", CASES, {"first": BIG}, "REFUSED"),
    "first-variable-1e100": Probe("manager", CASES, {"first": 1e100}, "REFUSED"),
    "since-year-0": Probe("admin", TRAIL, trail_filter(since="0000-01-01T00:00:00Z"), "REFUSED"),
}


@pytest.mark.parametrize("probe", list(PROBES.values()), ids=list(PROBES))
async def test_out_of_range_input_is_never_an_internal_error(gql: Gql, probe: Probe) -> None:
    response = await gql.raw(probe.login, probe.query, probe.variables)
    if probe.expect == "NUL":  # any text of any input, refused before GraphQL runs
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        assert "NUL characters" in response.json()["errors"][0]["message"]
        return
    assert response.status_code == 200, response.text
    body = response.json()
    errors = body.get("errors") or []
    assert "INTERNAL" not in {e.get("extensions", {}).get("code") for e in errors}, body
    if probe.expect == "null":
        assert body == {"data": {"r": None}}
    elif probe.expect == "REFUSED":
        assert body.get("data") is None and errors, body
        assert all(e["extensions"]["code"] == "BAD_USER_INPUT" for e in errors), body
        assert all("path" not in e for e in errors), body
    elif probe.expect.startswith("BAD_USER_INPUT: "):
        assert_bad_input(errors, probe.expect.removeprefix("BAD_USER_INPUT: "))
    else:
        assert not errors, body
        assert body["data"]["r"]["code"] == probe.expect
