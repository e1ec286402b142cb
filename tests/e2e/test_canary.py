"""Canary: everything each role can reach, fetched and searched for clear personal data.

For every demo login the test walks every page of ``cases`` selecting every field of Case,
Borrower, Debt (with instalments), Staff and Agency, then fetches ``node(id:)`` for every
Borrower, Debt, Staff and Agency id it saw, plus ``viewer``. Every borrower's national ID,
phone, address and e-mail are loaded in clear from the database, and none may appear anywhere
in the responses, except that ``legal1`` sees a borrower in legal proceedings (one of their cases
in stage LEGAL) in clear, at ``cases…borrower`` and ``node(id:)`` alike (and only there).

Guessed global IDs: a collector and an agency agent enumerate ids 1..N of every type in
aliased ``node(id:)`` fields, and get exactly the objects of their scope and null for the rest.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.ext.asyncio import AsyncEngine

from api.common.ids import to_global_id
from store import tables
from tests.helpers import Gql, agency_cases_rule

c, s, a, b, d = (
    tables.cases.c,
    tables.staff.c,
    tables.agencies.c,
    tables.borrowers.c,
    tables.debts.c,
)

LOGINS = [
    "admin",
    "manager",
    "lead1",
    "collector1",
    "collector2",
    "collector3",
    "legal1",
    "auditor1",
    "acme.manager",
    "acme.agent1",
    "zenith.agent1",
]
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


def masked(value: str) -> str:
    return f"{value[:3]}****{value[-4:]}"


def pk_of(gid: str) -> int:
    return int(base64.b64decode(gid).decode().partition(":")[2])


async def borrowers(engine: AsyncEngine) -> dict[int, Any]:
    """Every borrower in clear, with the stage of their case(s)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(tables.borrowers))).all()
        stages = (await conn.execute(select(c.borrower_id, c.stage))).all()
    legal = {row.borrower_id for row in stages if row.stage == "LEGAL"}
    return {row.id: (row, row.id in legal) for row in rows}


def expected_masks(row: Any) -> dict[str, str]:
    """What every role without a clear rule sees."""
    local, _, domain = row.email.partition("@")
    return {
        "nationalId": masked(row.national_id),
        "phone": masked(row.phone),
        "email": f"{local[0]}***@{domain}",
        "address": f"{row.city}{row.district}****",
        "employer": "****",
        "income": "****",
    }


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


@pytest.mark.parametrize("login", LOGINS)
async def test_no_clear_personal_data_reaches_the_role(
    gql: Gql, engine: AsyncEngine, login: str
) -> None:
    clear = await borrowers(engine)
    pages: list[Any] = []
    after = None
    while True:
        data = await gql(login, EVERYTHING, {"after": after})
        pages.append(data)
        if not data["cases"]["pageInfo"]["hasNextPage"]:
            break
        after = data["cases"]["pageInfo"]["endCursor"]
    assert pages[0]["cases"]["edges"], f"{login} should reach some cases"

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
                assert shown == expected_masks(row), (login, node["reference"])

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
                assert shown == expected_masks(row), (login, node["id"])
    viewer = await gql(login, VIEWER)
    assert viewer["viewer"]["login"] == login

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


async def visible_ids(engine: AsyncEngine, login: str) -> dict[str, set[int]]:
    """The ids of every type the login may see, from the scope rules (plain SQL)."""
    async with engine.connect() as conn:
        me = (await conn.execute(select(tables.staff).where(s.login == login))).one()
        rule: ColumnElement[bool]
        if "collector" in me.roles:
            rule = c.assignee_id == me.id
        else:
            assert set(me.roles) <= {"agency_agent", "agency_manager"}
            rule = agency_cases_rule(me.agency_id)
        cases = set((await conn.execute(select(c.id).where(rule))).scalars())
        borrower_ids = set(
            (await conn.execute(select(c.borrower_id).where(c.id.in_(cases)))).scalars()
        )
        debt_ids = set((await conn.execute(select(d.id).where(d.case_id.in_(cases)))).scalars())
        own = select(a.id).where(a.id == me.agency_id, a.active.is_(True))
        staff_rule = true() if me.agency_id is None else s.agency_id.in_(own)
        agency_rule = true() if me.agency_id is None else a.id.in_(own)
        staff_ids = set((await conn.execute(select(s.id).where(staff_rule))).scalars())
        agency_ids = set((await conn.execute(select(a.id).where(agency_rule))).scalars())
    return {
        "Case": cases,
        "Borrower": borrower_ids,
        "Debt": debt_ids,
        "Staff": staff_ids,
        "Agency": agency_ids,
    }


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
    gid = to_global_id(type_name, pk)
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
            gid = to_global_id(type_name, pk)
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


@pytest.mark.parametrize("login", ["collector1", "acme.agent1"])
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
    probes = [{"query": f'{{ node(id: "{to_global_id("Case", pk)}") {{ id }} }}'} for pk in (1, 2)]
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
