"""The decisions feed over HTTP: each kind of decision made by the real operation (placement,
recall, a payment that closes a case and its reversal that reopens it, promises kept, partially
kept and broken, flags set and lifted, complaints filed and resolved), read back page by page
with ``decisions(first, after)`` — each decision exactly once, in order, with no personal data —
its cursors, its audit entry, and who may read it.

The shared database holds other tests' decisions too: each test reads the feed from the cursor
of the newest decision before it acts, and looks at its own cases' decisions.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from api.common.ids import pk_of
from store import decisions, keyset, tables
from tests.e2e.payment_cases import POST, RECORD, REVERSE, Loan, an_hour_ago, make_loan, today
from tests.factories import Factory, global_id, writing
from tests.helpers import Gql, assert_bad_input, assert_forbidden

FEED = """
query($first: Int, $after: String) {
  decisions(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges {
      cursor
      node { sequence at kind caseId caseReference accountNumbers borrowerExternalId actor data }
    }
  }
}
"""
PAYLOAD = "__typename ... on UserError { code field message }"
PLACE = f"""
mutation($input: PlaceWithAgencyInput!) {{ r: placeWithAgency(input: $input) {{ {PAYLOAD} }} }}
"""
RECALL = f"""
mutation($input: RecallFromAgencyInput!) {{ r: recallFromAgency(input: $input) {{ {PAYLOAD} }} }}
"""
FLAG = f"""
mutation($input: FlagBorrowerInput!) {{ r: flagBorrower(input: $input) {{ {PAYLOAD} }} }}
"""
UNFLAG = f"""
mutation($input: UnflagBorrowerInput!) {{ r: unflagBorrower(input: $input) {{ {PAYLOAD} }} }}
"""
FILE = f"""
mutation($input: FileComplaintInput!) {{
  r: fileComplaint(input: $input) {{
    {PAYLOAD} ... on FileComplaintSuccess {{ complaint {{ id }} }}
  }}
}}
"""
RESOLVE = f"""
mutation($input: ResolveComplaintInput!) {{ r: resolveComplaint(input: $input) {{ {PAYLOAD} }} }}
"""
SECRET_NOTE = "Borrower said the neighbour Wang Fang knows everything"
SECRET_EVIDENCE = "hospital letter of Li Lei 2026-11-02"
SECRET_COMPLAINT = "The agent called my mother Zhang Min at 23:00"


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


@pytest.fixture
async def core(factory: Factory) -> str:
    staff = await factory.staff(roles=("integration",))
    return str(staff.login)


async def newest(engine: AsyncEngine) -> str | None:
    """The cursor after the newest decision so far (None: the feed is empty)."""
    async with engine.connect() as conn:
        last = await decisions.last_id(conn)
    return decisions.encode_cursor(last) if last else None


async def read_feed(
    gql: Gql, engine: AsyncEngine, after: str | None, login: str = "auditor1", first: int = 2
) -> list[dict[str, Any]]:
    """Every decision after ``after``, page by page, checking the pages' cursors and order."""
    nodes: list[dict[str, Any]] = []
    while True:
        page = (await gql(login, FEED, {"first": first, "after": after}))["decisions"]
        edges = page["edges"]
        info = page["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        for edge in edges:
            assert edge["cursor"] == decisions.encode_cursor(edge["node"]["sequence"])
        if edges:
            assert (info["startCursor"], info["endCursor"]) == (
                edges[0]["cursor"],
                edges[-1]["cursor"],
            )
        nodes += [edge["node"] for edge in edges]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    sequences = [node["sequence"] for node in nodes]
    assert sequences == sorted(set(sequences))  # each once, in order
    await assert_no_personal_data(engine, nodes)
    return nodes


FIELDS = {
    "sequence",
    "at",
    "kind",
    "caseId",
    "caseReference",
    "accountNumbers",
    "borrowerExternalId",
    "actor",
    "data",
}


async def assert_no_personal_data(engine: AsyncEngine, nodes: list[dict[str, Any]]) -> None:
    """No borrower's name, national ID, phone, e-mail, address or employer anywhere in these
    decisions (every borrower of the database is checked), and no field beyond the documented."""
    assert all(set(node) == FIELDS for node in nodes)
    text = json.dumps(nodes, ensure_ascii=False)
    b = tables.borrowers.c
    personal = select(b.full_name, b.national_id, b.phone, b.email, b.address, b.employer)
    async with engine.connect() as conn:
        rows = (await conn.execute(personal)).all()
    for row in rows:
        for value in row:
            assert value not in text


def of_cases(nodes: list[dict[str, Any]], *case_gids: str) -> list[tuple[str, str, Any]]:
    """(kind, actor, data) of the decisions about these cases, in feed order."""
    return [(n["kind"], n["actor"], n["data"]) for n in nodes if n["caseId"] in case_gids]


async def loan(factory: Factory, engine: AsyncEngine, **shape: Any) -> Loan:
    """A case owing 3000.00: instalments of 1000.00 due 40 and 10 days ago and in 20 days."""
    return await make_loan(
        factory,
        engine,
        schedule=[(-40, "1000.00"), (-10, "1000.00"), (20, "1000.00")],
        principal="3000.00",
        **shape,
    )


def payment(target: Loan, amount: str, paid_at: datetime | None = None) -> dict[str, Any]:
    when = paid_at or datetime.fromisoformat(an_hour_ago())
    return {
        "input": {
            "debtId": target.debt_gid,
            "amount": amount,
            "currency": "CNY",
            "paidAt": when.isoformat(),
            "reference": f"DEC-{uuid.uuid4().hex[:12]}",
        }
    }


async def ok(gql: Gql, login: str, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = (await gql(login, document, variables))["r"]
    assert result["__typename"].endswith("Success"), result
    return result


# ---- each kind, made by its operation -----------------------------------------------------------


async def test_placement_recall_closure_and_reopening_are_each_one_decision(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    borrower = await factory.borrower(external_id=f"CORE-{uuid.uuid4().hex[:8]}")
    target = await loan(factory, engine, borrower=borrower)
    after = await newest(engine)
    until = (today() + timedelta(days=20)).isoformat()
    place = {"caseId": target.case_gid, "agencyName": "Acme Recovery", "until": until}
    await ok(gql, "manager", PLACE, {"input": place})
    await ok(gql, "manager", RECALL, {"input": {"caseId": target.case_gid}})
    paid = await ok(gql, core, POST, payment(target, "3000.00"))
    assert paid["case"]["status"] == "CLOSED"
    reversal = {"input": {"paymentId": paid["payment"]["id"], "reason": "bounced"}}
    assert (await ok(gql, core, REVERSE, reversal))["case"]["status"] == "OPEN"

    nodes = await read_feed(gql, engine, after)
    assert of_cases(nodes, target.case_gid) == [
        ("CASE_PLACED", "manager", {"agencyName": "Acme Recovery", "placementEndsOn": until}),
        ("CASE_RECALLED", "manager", {"agencyName": "Acme Recovery", "reason": "RECALLED"}),
        ("CASE_CLOSED", core, {"closeReason": "PAID_IN_FULL", "stage": "COLLECTION"}),
        ("CASE_REOPENED", core, {"status": "OPEN", "stage": "COLLECTION"}),
    ]
    for node in nodes:
        if node["caseId"] == target.case_gid:
            assert node["caseReference"] == target.made.case.reference
            assert node["accountNumbers"] == [target.account_number]
            assert node["borrowerExternalId"] == borrower.external_id
            assert datetime.fromisoformat(node["at"]) <= datetime.now(UTC)


async def _backdate(engine: AsyncEngine, promise_gid: str, days: int) -> None:
    """Moves a promise's making and due date ``days`` back (its window has passed)."""
    p = tables.promises.c
    pk = pk_of(promise_gid, "PromiseToPay")
    async with writing(engine) as conn:
        await conn.execute(
            update(tables.promises)
            .where(p.id == pk)
            .values(
                promised_on=today() - timedelta(days=days),
                due_date=today() - timedelta(days=days - 5),
            )
        )


async def test_promises_kept_partially_kept_and_broken_are_decisions(
    gql: Gql, engine: AsyncEngine, factory: Factory, core: str
) -> None:
    kept, partly, broken = [await loan(factory, engine, assignee="collector1") for _ in range(3)]
    after = await newest(engine)
    due = (today() + timedelta(days=5)).isoformat()
    made = {}
    for target in (kept, partly, broken):
        promise = {"caseId": target.case_gid, "amount": "500.00", "currency": "CNY", "dueDate": due}
        made[target.case_gid] = (await ok(gql, "collector1", RECORD, {"input": promise}))["promise"]
    # Kept: paid in full inside its window, at once.
    await ok(gql, core, POST, payment(kept, "500.00"))
    # Its window passed (made 20 days ago, due 15 days ago, 3 days of grace): a payment of
    # 200.00 twelve days ago counts toward it; the evaluation after it finds it partly kept.
    for target in (partly, broken):
        await _backdate(engine, made[target.case_gid]["id"], 20)
    await ok(gql, core, POST, payment(partly, "200.00", datetime.now(UTC) - timedelta(days=17)))
    # Nothing paid in its window: the next payment's evaluation finds it broken.
    await ok(gql, core, POST, payment(broken, "100.00"))

    nodes = await read_feed(gql, engine, after, first=3)
    terms = {"amount": "500.00", "currency": "CNY"}
    passed = (today() - timedelta(days=15)).isoformat()
    assert of_cases(nodes, kept.case_gid) == [
        ("PROMISE_KEPT", core, {**terms, "dueDate": due, "paidAmount": "500.00"})
    ]
    assert of_cases(nodes, partly.case_gid) == [
        ("PROMISE_PARTIALLY_KEPT", core, {**terms, "dueDate": passed, "paidAmount": "200.00"})
    ]
    assert of_cases(nodes, broken.case_gid) == [
        ("PROMISE_BROKEN", core, {**terms, "dueDate": passed, "paidAmount": "0.00"})
    ]


async def test_flags_and_complaints_are_decisions_without_their_free_text(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    borrower = await factory.borrower()
    retail = await factory.case(borrower=borrower)
    sme = await factory.case(borrower=borrower, portfolio="sme")
    gids = (retail.gid, sme.gid)
    after = await newest(engine)
    review = (today() + timedelta(days=90)).isoformat()
    flag = {
        "borrowerId": global_id("Borrower", borrower.id),
        "flag": "HARDSHIP",
        "evidenceRef": SECRET_EVIDENCE,
        "note": SECRET_NOTE,
        "reviewOn": review,
    }
    await ok(gql, "manager", FLAG, {"input": flag})
    unflag = {"borrowerId": flag["borrowerId"], "flag": "HARDSHIP", "note": SECRET_NOTE}
    await ok(gql, "manager", UNFLAG, {"input": unflag})
    complaint = {
        "caseId": retail.gid,
        "kind": "DISPUTE",
        "channel": "LETTER",
        "written": True,
        "description": SECRET_COMPLAINT,
    }
    filed = await ok(gql, "manager", FILE, {"input": complaint})
    resolution = {"complaintId": filed["complaint"]["id"], "resolution": SECRET_NOTE}
    await ok(gql, "manager", RESOLVE, {"input": resolution})

    nodes = await read_feed(gql, engine, after)
    flagged = ("BORROWER_FLAGGED", "manager", {"flag": "HARDSHIP", "reviewOn": review})
    lifted = ("BORROWER_UNFLAGGED", "manager", {"flag": "HARDSHIP"})
    # A flag covers every case of the borrower: the core books it on each case's accounts.
    assert of_cases(nodes, retail.gid) == [
        flagged,
        lifted,
        ("COMPLAINT_FILED", "manager", {"complaintKind": "DISPUTE"}),
        ("COMPLAINT_RESOLVED", "manager", {"complaintKind": "DISPUTE"}),
    ]
    assert of_cases(nodes, sme.gid) == [flagged, lifted]
    text = json.dumps([n for n in nodes if n["caseId"] in gids], ensure_ascii=False)
    for secret in (SECRET_NOTE, SECRET_EVIDENCE, SECRET_COMPLAINT, "Wang", "Li Lei", "Zhang"):
        assert secret not in text


# ---- cursors, audit, permission -----------------------------------------------------------------


async def test_a_page_is_audited_with_its_cases_and_counts(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    target = await loan(factory, engine)
    after = await newest(engine)
    await ok(
        gql, "manager", PLACE, {"input": {"caseId": target.case_gid, "agencyName": "Acme Recovery"}}
    )
    response = await gql.raw("auditor1", FEED, {"first": 5, "after": after})
    body = response.json()
    (edge,) = body["data"]["decisions"]["edges"]
    a = tables.audit_entries.c
    async with engine.connect() as conn:
        entry = (
            await conn.execute(
                select(tables.audit_entries).where(a.request_id == response.headers["x-request-id"])
            )
        ).one()
    assert (entry.action, entry.outcome, entry.actor_login) == (
        "decision.read",
        "ALLOWED",
        "auditor1",
    )
    assert entry.case_ids == [target.case_id]
    sequence = edge["node"]["sequence"]
    assert entry.changes == {"decisions": 1, "firstSequence": sequence, "lastSequence": sequence}


@pytest.mark.parametrize(
    "after",
    ["garbage", keyset.encode_cursor("cases", 5), keyset.encode_cursor("decisions", 0)],
)
async def test_a_bad_cursor_is_bad_user_input(gql: Gql, after: str) -> None:
    assert_bad_input(await gql.errors("auditor1", FEED, {"after": after}), "after")


async def test_page_size_is_bounded(gql: Gql) -> None:
    assert_bad_input(await gql.errors("auditor1", FEED, {"first": 101}), "first")


@pytest.mark.parametrize("login", ["admin", "manager", "auditor1"])
async def test_every_reader_sees_the_whole_stream(
    gql: Gql, engine: AsyncEngine, login: str
) -> None:
    page = (await gql(login, FEED, {"first": 1}))["decisions"]
    async with engine.connect() as conn:
        assert page["totalCount"] == await decisions.count(conn)
        dt = tables.decisions.c
        stored = (await conn.execute(select(func.count(), func.min(dt.id)))).one()
    # Counted and paged independently of the code under test: the oldest decision comes first.
    assert page["totalCount"] == stored[0]
    assert [e["node"]["sequence"] for e in page["edges"]] == ([stored[1]] if stored[1] else [])


@pytest.mark.parametrize("login", ["collector1", "lead1", "legal1", "acme.agent1", "acme.manager"])
async def test_workers_and_agencies_may_not_read_the_feed(gql: Gql, login: str) -> None:
    assert_forbidden(await gql.errors(login, FEED, {"first": 1}))
