"""Canary: everything each demo login can reach, fetched and searched for clear personal data.

For every demo login the test walks every page of ``cases`` selecting every field of Case,
Borrower, Debt (with instalments), Staff and Agency, then fetches ``node(id:)`` for every
Borrower, Debt, Staff and Agency id it saw, plus ``viewer``. The cases listed are exactly the
login's scope (computed in plain SQL by tests/access.py), each once, and ``totalCount`` counts
exactly them; agency users see only their own agency and its staff. Every borrower's national
ID, phone, address and e-mail are loaded in clear from the database, and none may appear
anywhere in the responses, except that ``legal1`` sees a borrower in legal proceedings (one of
their cases in stage LEGAL) in clear, at ``cases…borrower`` and ``node(id:)`` alike (and only
there).

Guessed global IDs: a collector, a team lead, legal and an agency agent enumerate ids 1..N of
every type in aliased ``node(id:)`` fields, and get exactly the objects of their scope and null
for the rest.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.access import LOGINS, case_rule, masks, visible_ids
from tests.factories import global_id
from tests.helpers import Gql

c = tables.cases.c
CONFIDENTIAL = ("nationalId", "phone", "address", "email")
COLUMN = {"nationalId": "national_id", "phone": "phone", "address": "address", "email": "email"}
MAX_ALIASES = 30  # the server refuses documents with more aliases

MONEY = "{ amount currency }"
AGENCY = "id name commissionRate placementDays active"
STAFF = f"id login name roles team capacity active agency {{ {AGENCY} }}"
BORROWER = "id fullName timeZone nationalId phone email address employer income"
DEBT = f"""
  id accountNumber productType status currency principal {MONEY} interest {MONEY}
  penalty {MONEY} fee {MONEY} outstanding {MONEY} openedOn pausedDays daysPastDue
  instalments {{ sequence dueDate amountDue {MONEY} amountPaid {MONEY} }}
"""
EVERYTHING = f"""
query Everything($after: String) {{
  cases(first: 100, after: $after) {{
    totalCount
    pageInfo {{ hasNextPage endCursor }}
    edges {{ cursor node {{
      id reference portfolio status stage classification bucket daysPastDue dpdAsOf
      policyVersion totalOutstanding {MONEY} openedOn placedAt placementEndsOn version
      borrower {{ {BORROWER} }}
      debts {{ {DEBT} }}
      assignee {{ {STAFF} }}
      agency {{ {AGENCY} }}
    }} }}
  }}
}}
"""
VIEWER = f"{{ viewer {{ login name roles team permissions agency {{ {AGENCY} }} }} }}"
FRAGMENTS = {
    "Borrower": BORROWER,
    "Debt": DEBT,
    "Staff": STAFF,
    "Agency": AGENCY,
}


def pk_of(gid: str) -> int:
    return int(base64.b64decode(gid).decode().partition(":")[2])


async def borrowers(engine: AsyncEngine) -> dict[int, Any]:
    """Every borrower in clear, with the stage of their case(s)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(tables.borrowers))).all()
        stages = (await conn.execute(select(c.borrower_id, c.stage))).all()
    legal = {row.borrower_id for row in stages if row.stage == "LEGAL"}
    return {row.id: (row, row.id in legal) for row in rows}


async def node_batches(gql: Gql, login: str, type_name: str, ids: list[str]) -> list[Any]:
    """node(id:) for every id, in requests of at most MAX_ALIASES aliases."""
    responses = []
    selection = FRAGMENTS[type_name]
    for start in range(0, len(ids), MAX_ALIASES):
        chunk = ids[start : start + MAX_ALIASES]
        fields = " ".join(
            f'n{i}: node(id: "{gid}") {{ __typename ... on {type_name} {{ {selection} }} }}'
            for i, gid in enumerate(chunk)
        )
        data = await gql(login, f"{{ {fields} }}")
        for i, gid in enumerate(chunk):
            node = data[f"n{i}"]
            assert node is not None and node["id"] == gid, (login, type_name, gid)
        responses.append(data)
    return responses


async def in_scope(engine: AsyncEngine, login: str) -> set[str]:
    """The references of the cases the login may see, by the rules (tests/access.py)."""
    async with engine.connect() as conn:
        stmt = select(c.reference).where(await case_rule(conn, login))
        return set((await conn.execute(stmt)).scalars())


@pytest.mark.parametrize("login", list(LOGINS))
async def test_each_login_reaches_exactly_its_scope_and_no_clear_personal_data(
    gql: Gql, engine: AsyncEngine, login: str
) -> None:
    clear = await borrowers(engine)
    expected = await in_scope(engine, login)
    pages: list[Any] = []
    after = None
    while True:
        data = await gql(login, EVERYTHING, {"after": after})
        pages.append(data)
        if not data["cases"]["pageInfo"]["hasNextPage"]:
            break
        after = data["cases"]["pageInfo"]["endCursor"]
    assert expected, f"the demo portfolio should give {login} some cases"
    references = [e["node"]["reference"] for page in pages for e in page["cases"]["edges"]]
    assert len(references) == len(set(references)), "a case was listed twice"
    assert set(references) == expected
    assert {page["cases"]["totalCount"] for page in pages} == {len(expected)}
    agency = LOGINS[login].agency
    if agency is not None:
        # Agency users see only their own agency, and of the staff only its own.
        for page in pages:
            for edge in page["cases"]["edges"]:
                node = edge["node"]
                assert node["agency"]["name"] == agency, node["reference"]
                holder = node["assignee"]
                assert holder is None or holder["agency"]["name"] == agency, node["reference"]

    seen: dict[str, set[str]] = {t: set() for t in FRAGMENTS}
    legal_clear_seen = 0
    redacted_pages = copy.deepcopy(pages)
    for page in redacted_pages:
        for edge in page["cases"]["edges"]:
            node = edge["node"]
            borrower = node["borrower"]
            seen["Borrower"].add(borrower["id"])
            seen["Debt"].update(debt["id"] for debt in node["debts"])
            for holder in (node["assignee"], node["agency"]):
                if holder is not None:
                    seen["Staff" if "login" in holder else "Agency"].add(holder["id"])
            if node["assignee"] is not None and node["assignee"]["agency"] is not None:
                seen["Agency"].add(node["assignee"]["agency"]["id"])
            row, legal = clear[pk_of(borrower["id"])]
            if login == "legal1" and legal:
                # The one place a clear value may appear: legal, for a borrower in legal
                # proceedings (legal1 sees only legal-stage cases).
                for name in CONFIDENTIAL:
                    assert borrower[name] == getattr(row, COLUMN[name]), (name, borrower)
                    borrower[name] = "<clear, allowed>"
                assert borrower["employer"] == row.employer
                legal_clear_seen += 1
            else:
                shown = {k: borrower[k] for k in (*CONFIDENTIAL, "employer", "income")}
                assert shown == masks(row), (login, node["reference"])

    node_responses = []
    for type_name, ids in seen.items():
        node_responses += await node_batches(gql, login, type_name, sorted(ids))
    node_clear_seen = 0
    for response in node_responses:
        for node in response.values():
            if node["__typename"] == "Borrower":
                # node(id:) of a borrower shows what cases…borrower shows.
                row, legal = clear[pk_of(node["id"])]
                if login == "legal1" and legal:
                    for name in CONFIDENTIAL:
                        assert node[name] == getattr(row, COLUMN[name]), (name, node)
                        node[name] = "<clear, allowed>"
                    node_clear_seen += 1
                    continue
                shown = {k: node[k] for k in (*CONFIDENTIAL, "employer", "income")}
                assert shown == masks(row), (login, node["id"])
    viewer = await gql(login, VIEWER)
    assert viewer["viewer"]["login"] == login
    assert (viewer["viewer"]["agency"] or {}).get("name") == agency

    text = json.dumps([redacted_pages, node_responses, viewer], ensure_ascii=False)
    for row, _legal in clear.values():
        for name in CONFIDENTIAL:
            value = getattr(row, COLUMN[name])
            assert value not in text, (login, name, row.id)

    if login == "legal1":
        assert legal_clear_seen > 0, "legal1 should see some borrowers in clear"
        assert legal_clear_seen == sum(1 for _row, legal in clear.values() if legal)
        assert node_clear_seen == len(seen["Borrower"])
    else:
        assert legal_clear_seen == node_clear_seen == 0


# ---- Guessed global IDs ------------------------------------------------------------------------


async def max_ids(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            name: int((await conn.execute(select(func.max(table.c.id)))).scalar_one())
            for name, table in (
                ("Case", tables.cases),
                ("Borrower", tables.borrowers),
                ("Debt", tables.debts),
                ("Staff", tables.staff),
                ("Agency", tables.agencies),
            )
        }


def probe(type_name: str, pk: int) -> tuple[str, str]:
    gid = global_id(type_name, pk)
    return (
        f"{type_name[0].lower()}{pk}",
        f'{type_name[0].lower()}{pk}: node(id: "{gid}") {{ __typename id }}',
    )


def check(data: dict[str, Any], probes: list[tuple[str, int]], visible: dict[str, set[int]]) -> int:
    """Asserts every probe is returned iff visible; returns how many were visible."""
    shown = 0
    for type_name, pk in probes:
        alias, _ = probe(type_name, pk)
        if pk in visible[type_name]:
            gid = global_id(type_name, pk)
            assert data[alias] == {"__typename": type_name, "id": gid}, alias
            shown += 1
        else:
            assert data[alias] is None, alias
    return shown


@pytest.mark.parametrize("login", ["collector1", "acme.agent1"])
async def test_guessed_ids_in_one_aliased_request(
    gql: Gql, engine: AsyncEngine, login: str
) -> None:
    """ONE request, ids 1..N of every type (N as large as the alias limit allows)."""
    visible = await visible_ids(engine, login)
    n = MAX_ALIASES // len(visible)
    probes = [(type_name, pk) for type_name in visible for pk in range(1, n + 1)]
    assert len(probes) <= MAX_ALIASES
    data = await gql(login, "{ " + " ".join(probe(t, pk)[1] for t, pk in probes) + " }")
    assert len(data) == len(probes)
    shown = check(data, probes, visible)
    # The enumeration crossed the scope boundary both ways.
    assert 0 < shown < len(probes)
    assert any(pk in visible["Case"] for pk in range(1, n + 1)), "no case of ours in 1..N"
    assert any(pk not in visible["Case"] for pk in range(1, n + 1))


async def test_more_aliases_than_the_limit_are_refused(gql: Gql) -> None:
    fields = " ".join(probe("Case", pk)[1] for pk in range(1, MAX_ALIASES + 2))
    errors = await gql.errors("collector1", "{ " + fields + " }")
    assert "alias" in errors[0]["message"].lower()


@pytest.mark.parametrize("login", ["collector1", "lead1", "legal1", "acme.agent1"])
async def test_every_guessable_id_of_every_type(gql: Gql, engine: AsyncEngine, login: str) -> None:
    """Every id 1..max+2 of every type, batched through aliases (a JSON-list batch body is not
    supported); exactly the visible ones come back."""
    visible = await visible_ids(engine, login)
    highest = await max_ids(engine)
    probes = [(type_name, pk) for type_name in visible for pk in range(1, highest[type_name] + 3)]
    shown = 0
    for start in range(0, len(probes), MAX_ALIASES):
        chunk = probes[start : start + MAX_ALIASES]
        data = await gql(login, "{ " + " ".join(probe(t, pk)[1] for t, pk in chunk) + " }")
        shown += check(data, chunk, visible)
    assert shown == sum(len(ids) for ids in visible.values())
    assert all(visible[t] for t in visible), visible


async def test_a_json_list_batch_body_is_refused_unexecuted(gql: Gql, engine: AsyncEngine) -> None:
    """Batching is only possible through aliases (which the alias limit caps)."""
    probes = [{"query": f'{{ node(id: "{global_id("Case", pk)}") {{ id }} }}'} for pk in (1, 2)]
    async with engine.connect() as conn:
        before = (
            await conn.execute(select(func.coalesce(func.max(tables.audit_entries.c.id), 0)))
        ).scalar_one()
    response = await gql.client.post(
        "/graphql",
        json=probes,
        headers={"Authorization": f"Bearer {gql.token('collector1')}"},
    )
    assert response.status_code == 400
    assert "Q2FzZT" not in response.text  # no node came back
    async with engine.connect() as conn:
        reads = (
            await conn.execute(
                select(func.count()).where(
                    tables.audit_entries.c.id > before,
                    tables.audit_entries.c.action == "case.read",
                )
            )
        ).scalar_one()
    assert reads == 0
