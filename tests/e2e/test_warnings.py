"""Early warning over GraphQL: ``warnings`` scoped like cases for every login, the life cycle
RAISED → ACKNOWLEDGED → HANDLED with each refusal, ``postExternalSignal`` with its idempotency
and permission, and statements per page that do not grow with the page size."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.access import LOGINS, case_rule
from tests.e2e.conftest import StatementCounter
from tests.factories import Factory, global_id, today
from tests.helpers import Gql, assert_bad_input, assert_forbidden
from tests.logcapture import LogCapture
from tests.operations_warnings import insert_warning

w, c, e = tables.warnings.c, tables.cases.c, tables.audit_entries.c
PAYLOAD = "__typename ... on UserError { code field message }"


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    try:
        yield made
    finally:
        await made.cleanup()


def wid(pk: int) -> str:
    return global_id("Warning", pk)


LIST = """
query($first: Int, $after: String, $filter: WarningFilter) {
  warnings(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id rule severity status case { id } } }
  }
}
"""


async def every_id(gql: Gql, login: str, filter: dict[str, Any] | None = None) -> list[str]:
    """Every warning the login gets, page by page."""
    ids: list[str] = []
    after = None
    while True:
        data = (await gql(login, LIST, {"first": 100, "after": after, "filter": filter}))[
            "warnings"
        ]
        ids.extend(edge["node"]["id"] for edge in data["edges"])
        if not data["pageInfo"]["hasNextPage"]:
            assert data["totalCount"] == len(ids)
            return ids
        after = data["pageInfo"]["endCursor"]


# ---- scoping ------------------------------------------------------------------------------------


async def test_every_login_sees_the_warnings_of_the_cases_it_sees(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    shapes: list[dict[str, Any]] = [
        {},
        {"assignee": "collector1"},
        {"assignee": "collector2"},
        {"assignee": "collector3"},
        {"stage": "LEGAL", "classification": "SEVERE"},
        {"agency": "Acme Recovery"},
        {"agency": "Zenith Collections"},
        {"agency": "Acme Recovery", "placement_ends_on": today().replace(year=2000)},
    ]
    mine = set()
    for shape in shapes:
        made = await factory.case(**shape)
        for _ in range(2):
            mine.add(wid(await insert_warning(engine, made)))
    seen_somewhere: set[str] = set()
    for login, role in LOGINS.items():
        assert "warning:read" in role.permissions
        async with engine.connect() as conn:
            rule = await case_rule(conn, login)
            stmt = select(w.id).join(tables.cases, c.id == w.case_id).where(rule)
            expected = {wid(pk) for pk in (await conn.execute(stmt)).scalars()}
        got = await every_id(gql, login)
        assert len(got) == len(set(got))  # no warning twice across pages
        assert set(got) == expected, login  # totalCount was checked page by page as well
        seen_somewhere |= set(got) & mine
        if role.sees_all_cases:
            assert mine <= set(got), login
    # The lapsed placement's warnings are seen only by those who see every case.
    assert seen_somewhere == mine


async def test_listing_is_newest_first_and_filters(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made = await factory.case(assignee="collector1")
    ids = [
        await insert_warning(engine, made, rule=rule, severity=severity)
        for rule, severity in (
            ("RISING_DPD", "MEDIUM"),
            ("LARGE_OUTSTANDING", "HIGH"),
            ("PARTIAL_PAYMENTS", "LOW"),
        )
    ]
    by_case = {"caseId": made.gid}
    assert await every_id(gql, "collector1", by_case) == [wid(pk) for pk in reversed(ids)]
    # Keyset pages: one at a time, hasNextPage until the last.
    page = (await gql("collector1", LIST, {"first": 1, "filter": by_case}))["warnings"]
    assert [e["node"]["id"] for e in page["edges"]] == [wid(ids[2])]
    assert (page["totalCount"], page["pageInfo"]["hasNextPage"]) == (3, True)
    after = page["pageInfo"]["endCursor"]
    page = (await gql("collector1", LIST, {"first": 2, "after": after, "filter": by_case}))[
        "warnings"
    ]
    assert [e["node"]["id"] for e in page["edges"]] == [wid(ids[1]), wid(ids[0])]
    assert page["pageInfo"]["hasNextPage"] is False
    for filter, expected in (
        ({**by_case, "rule": ["RISING_DPD", "PARTIAL_PAYMENTS"]}, [ids[2], ids[0]]),
        ({**by_case, "severity": ["HIGH"]}, [ids[1]]),
        ({**by_case, "status": ["HANDLED"]}, []),
        ({**by_case, "status": ["RAISED"], "severity": ["LOW", "MEDIUM"]}, [ids[2], ids[0]]),
    ):
        assert await every_id(gql, "collector1", filter) == [wid(pk) for pk in expected]
    # Another collector's filter on this case finds nothing, and says nothing of it.
    data = await gql("collector2", LIST, {"filter": by_case})
    assert data["warnings"] == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }


async def test_bad_filters_and_cursors_are_bad_input(gql: Gql) -> None:
    for variables, fragment in (
        ({"filter": {"rule": ["NO_SUCH_RULE"]}}, "unknown rule"),
        ({"filter": {"caseId": global_id("Debt", 1)}}, "filter.caseId"),
        ({"after": "not-a-cursor"}, "after"),
        ({"after": global_id("Case", 1)}, "after"),
        ({"first": 101}, "first"),
    ):
        assert_bad_input(await gql.errors("admin", LIST, variables), fragment)


async def test_statements_do_not_grow_with_the_page_size(
    gql: Gql, engine: AsyncEngine, factory: Factory, sql_counter: StatementCounter
) -> None:
    query = """
    query($first: Int) {
      warnings(first: $first) {
        totalCount
        edges { node { id reason case { reference borrower { phone } assignee { login } }
                       assignee { login } agency { name } acknowledgedBy { login } } }
      }
    }
    """
    for n in range(12):
        made = await factory.case(assignee="collector1" if n % 2 else None)
        await insert_warning(engine, made)
    await gql("manager", query, {"first": 1})  # warm up
    counts = {}
    for first in (2, 12):
        sql_counter.reset()
        data = await gql("manager", query, {"first": first})
        assert len(data["warnings"]["edges"]) == first
        counts[first] = sql_counter.count
    assert counts[2] == counts[12], sql_counter.statements


# ---- the life cycle -----------------------------------------------------------------------------

ACK = f"""
mutation($input: AcknowledgeWarningInput!) {{
  acknowledgeWarning(input: $input) {{
    {PAYLOAD}
    ... on AcknowledgeWarningSuccess {{
      warning {{ id status version acknowledgedAt acknowledgedBy {{ login }} handledAt note }}
    }}
  }}
}}
"""
HANDLE = f"""
mutation($input: HandleWarningInput!) {{
  handleWarning(input: $input) {{
    {PAYLOAD}
    ... on HandleWarningSuccess {{
      warning {{
        id status version acknowledgedBy {{ login }} handledAt handledBy {{ login }} note
      }}
    }}
  }}
}}
"""


async def refusal(gql: Gql, login: str, document: str, data: dict[str, Any]) -> tuple[str, str]:
    payload = next(iter((await gql(login, document, {"input": data})).values()))
    return payload["code"], payload["field"]


async def row(engine: AsyncEngine, pk: int) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(tables.warnings).where(w.id == pk))).one()


async def test_acknowledge_then_handle(gql: Gql, engine: AsyncEngine, factory: Factory) -> None:
    made = await factory.case(assignee="collector1")
    pk = await insert_warning(engine, made)
    data = await gql("collector1", ACK, {"input": {"warningId": wid(pk)}})
    warning = data["acknowledgeWarning"]["warning"]
    assert warning["status"] == "ACKNOWLEDGED"
    assert (warning["version"], warning["acknowledgedBy"], warning["handledAt"]) == (
        2,
        {"login": "collector1"},
        None,
    )
    assert await refusal(gql, "collector1", ACK, {"warningId": wid(pk)}) == (
        "WARNING_ALREADY_ACKNOWLEDGED",
        None,
    )
    # A stale version is refused and changes nothing.
    stale = {"warningId": wid(pk), "note": "done", "expectedVersion": 1}
    assert await refusal(gql, "collector1", HANDLE, stale) == ("CONFLICT", "expectedVersion")
    assert (await row(engine, pk)).status == "ACKNOWLEDGED"
    note = "Borrower lost her job; agreed to call back after the 15th. " + uuid.uuid4().hex
    data = await gql(
        "lead1",
        HANDLE,
        {"input": {"warningId": wid(pk), "note": f"  {note} ", "expectedVersion": 2}},
    )
    warning = data["handleWarning"]["warning"]
    assert (warning["status"], warning["version"], warning["note"]) == ("HANDLED", 3, note)
    assert (warning["acknowledgedBy"], warning["handledBy"]) == (
        {"login": "collector1"},
        {"login": "lead1"},
    )
    stored = await row(engine, pk)
    assert (stored.status, stored.note, stored.version) == ("HANDLED", note, 3)
    assert stored.acknowledged_at < stored.handled_at
    assert await refusal(gql, "collector1", HANDLE, {"warningId": wid(pk)}) == (
        "WARNING_ALREADY_HANDLED",
        None,
    )
    assert await refusal(gql, "collector1", ACK, {"warningId": wid(pk)}) == (
        "WARNING_ALREADY_HANDLED",
        None,
    )
    # Each step is on the case's record and in the audit trail, the note in neither.
    ev = tables.case_events.c
    async with engine.connect() as conn:
        stmt = select(ev.name, ev.data).where(ev.case_id == made.case.id).order_by(ev.id)
        events = (await conn.execute(stmt)).all()
        stmt = select(e.action, e.actor_login, e.changes).where(e.action.like("warning.%"))
        entries = (await conn.execute(stmt.order_by(e.id))).all()
    assert [(x.name, x.data["warning_id"]) for x in events] == [
        ("WarningAcknowledged", pk),
        ("WarningHandled", pk),
    ]
    assert events[1].data["with_note"] is True
    assert note not in str(events)
    mine = [x for x in entries if x.changes and x.changes.get("warning_id") == pk]
    assert [(x.action, x.actor_login) for x in mine] == [
        ("warning.acknowledge", "collector1"),
        ("warning.handle", "lead1"),
    ]
    assert note not in str(mine)


async def test_handle_straight_from_raised(gql: Gql, engine: AsyncEngine, factory: Factory) -> None:
    made = await factory.case(agency="Acme Recovery")
    pk = await insert_warning(engine, made)
    data = await gql("acme.agent1", HANDLE, {"input": {"warningId": wid(pk)}})
    warning = data["handleWarning"]["warning"]
    assert (warning["status"], warning["acknowledgedBy"], warning["note"]) == (
        "HANDLED",
        None,
        None,
    )


async def test_refusals(gql: Gql, engine: AsyncEngine, factory: Factory) -> None:
    made = await factory.case(assignee="collector1")
    pk = await insert_warning(engine, made)
    before = await row(engine, pk)
    # Not on your cases, no such warning, not a warning's ID: all the same NOT_FOUND.
    for target in (wid(pk), wid(2_000_000_000), global_id("Case", made.case.id), "junk"):
        for document in (ACK, HANDLE):
            assert await refusal(gql, "collector2", document, {"warningId": target}) == (
                "WARNING_NOT_FOUND",
                "warningId",
            )
    # A note over the limit.
    long = {"warningId": wid(pk), "note": "x" * 2001}
    assert await refusal(gql, "collector1", HANDLE, long) == ("TEXT_TOO_LONG", "note")
    # Roles without warning:handle are refused by authorisation.
    for login in ("auditor1", "legal1", "admin", "core.banking"):
        assert "warning:handle" not in LOGINS[login].permissions
        for document in (ACK, HANDLE):
            assert_forbidden(await gql.errors(login, document, {"input": {"warningId": wid(pk)}}))
    assert await row(engine, pk) == before
    # The note at the limit is taken.
    data = await gql("collector1", HANDLE, {"input": {"warningId": wid(pk), "note": "y" * 2000}})
    assert data["handleWarning"]["warning"]["status"] == "HANDLED"


# ---- postExternalSignal -------------------------------------------------------------------------

POST = f"""
mutation($input: PostExternalSignalInput!) {{
  postExternalSignal(input: $input) {{
    {PAYLOAD}
    ... on PostExternalSignalSuccess {{
      externalSignal {{ kind severity receivedAt borrower {{ id phone }} }}
      warnings {{ id rule severity status reason case {{ id }} }}
    }}
  }}
}}
"""


async def signals_of(engine: AsyncEngine, borrower_id: int) -> list[Any]:
    g = tables.external_signals.c
    async with engine.connect() as conn:
        stmt = select(tables.external_signals).where(g.borrower_id == borrower_id)
        return list((await conn.execute(stmt.order_by(g.id))).all())


async def test_a_signal_warns_every_open_case_once_per_key(
    gql: Gql, engine: AsyncEngine, factory: Factory, log_capture: LogCapture
) -> None:
    borrower = await factory.borrower(external_id=f"B-{uuid.uuid4().hex[:10]}")
    retail = await factory.case(borrower=borrower, assignee="collector1")
    cards = await factory.case(borrower=borrower, portfolio="us-cards")
    await factory.case(borrower=borrower, portfolio="closed", status="CLOSED")
    details = f"Bureau: new default at another lender {uuid.uuid4().hex}"
    key = str(uuid.uuid4())
    data = {
        "borrowerId": global_id("Borrower", borrower.id),
        "kind": "CREDIT_BUREAU_HIT",
        "severity": "HIGH",
        "details": details,
        "idempotencyKey": key,
    }
    first = (await gql("core.banking", POST, {"input": data}))["postExternalSignal"]
    assert first["__typename"] == "PostExternalSignalSuccess", first
    assert first["externalSignal"]["kind"] == "CREDIT_BUREAU_HIT"
    assert first["externalSignal"]["borrower"]["id"] == data["borrowerId"]
    assert first["externalSignal"]["borrower"]["phone"] != borrower.phone  # masked
    assert sorted(x["case"]["id"] for x in first["warnings"]) == sorted([retail.gid, cards.gid])
    assert {(x["rule"], x["severity"], x["status"], x["reason"]) for x in first["warnings"]} == {
        ("EXTERNAL_SIGNAL", "HIGH", "RAISED", "External signal: CREDIT_BUREAU_HIT.")
    }
    # The same request again: the first answer, nothing posted twice.
    again = (await gql("core.banking", POST, {"input": data}))["postExternalSignal"]
    assert again == first
    [stored] = await signals_of(engine, borrower.id)
    assert (stored.details, stored.kind, stored.severity) == (details, "CREDIT_BUREAU_HIT", "HIGH")
    # Other input under the same key is refused.
    other = {**data, "severity": "LOW"}
    assert await refusal(gql, "core.banking", POST, other) == (
        "IDEMPOTENCY_KEY_REUSED",
        "idempotencyKey",
    )
    # A new signal by the core's external id (no key) warns again: a new cause.
    by_external = {
        "borrowerExternalId": borrower.external_id,
        "kind": "JOB_LOSS",
        "severity": "MEDIUM",
        "details": details,
    }
    second = (await gql("manager", POST, {"input": by_external}))["postExternalSignal"]
    assert len(second["warnings"]) == 2
    assert len(await signals_of(engine, borrower.id)) == 2
    async with engine.connect() as conn:
        stmt = select(func.count()).where(w.borrower_id == borrower.id)
        assert (await conn.execute(stmt)).scalar_one() == 4
        stmt = select(e.action, e.changes, e.case_ids).where(e.action == "signal.post")
        entries = [x for x in (await conn.execute(stmt)).all() if x.changes.get("kind")]
    # Audited (twice: the replay added nothing), never with the details.
    assert sorted(
        x.changes["kind"] for x in entries if set(x.case_ids) == {retail.case.id, cards.case.id}
    ) == ["CREDIT_BUREAU_HIT", "JOB_LOSS"]
    assert details not in str(entries)
    assert details not in str(log_capture.lines())


async def test_signal_refusals(gql: Gql, engine: AsyncEngine, factory: Factory) -> None:
    made = await factory.case()
    borrower_id = global_id("Borrower", made.borrower.id)
    base = {"kind": "INCOME_DROP", "severity": "LOW", "details": "-30%"}
    for data, expected in (
        ({**base}, ("INVALID_INPUT", "borrowerId")),
        (
            {**base, "borrowerId": borrower_id, "borrowerExternalId": "X"},
            ("INVALID_INPUT", "borrowerId"),
        ),
        ({**base, "borrowerId": borrower_id, "details": "d" * 2001}, ("TEXT_TOO_LONG", "details")),
        (
            {**base, "borrowerId": global_id("Borrower", 2_000_000_000)},
            ("BORROWER_NOT_FOUND", "borrowerId"),
        ),
        ({**base, "borrowerId": "junk"}, ("BORROWER_NOT_FOUND", "borrowerId")),
        ({**base, "borrowerExternalId": "NO-SUCH"}, ("BORROWER_NOT_FOUND", "borrowerExternalId")),
    ):
        assert await refusal(gql, "manager", POST, data) == expected, data
    # The kind is the ExternalSignalKind enum: anything else fails validation.
    unknown = await gql.errors(
        "manager", POST, {"input": {**base, "borrowerId": borrower_id, "kind": "GOSSIP"}}
    )
    assert unknown[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "ExternalSignalKind" in unknown[0]["message"]
    assert await signals_of(engine, made.borrower.id) == []
    for login in ("collector1", "acme.agent1", "auditor1", "admin", "legal1", "lead1"):
        assert "signal:post" not in LOGINS[login].permissions
        errors = await gql.errors(login, POST, {"input": {**base, "borrowerId": borrower_id}})
        assert_forbidden(errors)
    assert await signals_of(engine, made.borrower.id) == []


async def test_warnings_of_a_signal_are_scoped(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made = await factory.case(assignee="collector3")
    data = {
        "borrowerId": global_id("Borrower", made.borrower.id),
        "kind": "FRAUD_SUSPECTED",
        "severity": "HIGH",
        "details": "-",
    }
    posted = (await gql("manager", POST, {"input": data}))["postExternalSignal"]
    [warning] = posted["warnings"]
    filter = {"caseId": made.gid}
    assert await every_id(gql, "collector3", filter) == [warning["id"]]
    assert await every_id(gql, "collector1", filter) == []
    node = "query($id: ID!) { node(id: $id) { id } }"
    assert (await gql("collector3", node, {"id": warning["id"]}))["node"] == {"id": warning["id"]}
    assert (await gql("collector1", node, {"id": warning["id"]}))["node"] is None
