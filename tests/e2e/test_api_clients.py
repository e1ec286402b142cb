"""API clients of partner agencies, end to end: GraphQL over HTTP to the real app, the token
endpoint with HTTP Basic and a form body, the CLI, and the audit trail.

The module runs on a database of its own (seeded like the session's): the service accounts its
clients add to an agency would otherwise show in other modules' listings of agency staff."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.settings import Settings
from domain.clock import Clock, FixedClock
from store import tables
from store.db import create_engine
from store.demo import seed_demo
from store.migrate import upgrade
from tests.cli import invoke
from tests.conftest import PG_URL, _create_pg_database
from tests.factories import global_id
from tests.helpers import Gql, agency_cases_rule, assert_forbidden

ACME, ZENITH = "Acme Recovery", "Zenith Collections"
ZENITH_MANAGER = "zenith.manager"
PAYLOAD = "__typename ... on UserError { code field message }"
CLIENT_FIELDS = (
    "id clientId name createdAt revokedAt agency { name } secrets { createdAt expiresAt }"
)

CREATE = f"""
mutation($input: CreateApiClientInput!) {{
  r: createApiClient(input: $input) {{
    {PAYLOAD}
    ... on CreateApiClientSuccess {{ clientSecret apiClient {{ {CLIENT_FIELDS} }} }}
  }}
}}"""
ROTATE = f"""
mutation($input: RotateApiClientSecretInput!) {{
  r: rotateApiClientSecret(input: $input) {{
    {PAYLOAD}
    ... on RotateApiClientSecretSuccess {{ clientSecret apiClient {{ {CLIENT_FIELDS} }} }}
  }}
}}"""
REVOKE = f"""
mutation($input: RevokeApiClientInput!) {{
  r: revokeApiClient(input: $input) {{
    {PAYLOAD}
    ... on RevokeApiClientSuccess {{ apiClient {{ {CLIENT_FIELDS} }} }}
  }}
}}"""
LIST = f"""
query($after: String) {{
  apiClients(first: 2, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }}
    edges {{ cursor node {{ {CLIENT_FIELDS} }} }}
  }}
}}"""
CASES = """
query($after: String) {
  cases(first: 100, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id agency { name } } }
  }
}"""
VIEWER = "{ viewer { login roles agency { name } } }"


# ---- a database and an app of the module's own -------------------------------------------------


@pytest.fixture(scope="module")
async def own_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    if PG_URL:
        url, drop = await _create_pg_database(PG_URL)
        try:
            yield url
        finally:
            await drop()
    else:
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('clients') / 'arrears.db'}"


@pytest.fixture(scope="module")
async def own_engine(own_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(own_url)
    await upgrade(engine)
    await seed_demo(engine, cases=80, seed=11)
    async with engine.begin() as conn:
        a = tables.agencies.c
        zenith = (await conn.execute(select(a.id).where(a.name == ZENITH))).scalar_one()
        await conn.execute(
            insert(tables.staff).values(
                login=ZENITH_MANAGER,
                name="Zenith Manager",
                roles=["agency_manager"],
                agency_id=zenith,
                capacity=0,
                active=True,
            )
        )
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def own_settings(settings: Settings, own_url: str) -> Settings:
    return settings.model_copy(update={"database_url": own_url})


@asynccontextmanager
async def serving(
    settings: Settings, engine: AsyncEngine, clock: Clock | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, engine=engine, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://arrears.test") as c:
            yield c


@pytest.fixture(scope="module")
async def http(own_settings: Settings, own_engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(own_settings, own_engine) as client:
        yield client


@pytest.fixture(scope="module")
def staff(http: httpx.AsyncClient, own_settings: Settings) -> Gql:
    return Gql(http, own_settings)


@pytest.fixture(scope="module")
async def agencies(own_engine: AsyncEngine) -> dict[str, int]:
    a = tables.agencies.c
    async with own_engine.connect() as conn:
        rows = (await conn.execute(select(a.name, a.id))).all()
    return {row.name: row.id for row in rows}


# ---- helpers ----------------------------------------------------------------------------------


async def exchange(
    http: httpx.AsyncClient, client_id: str, secret: str, **form: str
) -> httpx.Response:
    """POST /oauth/token with HTTP Basic client authentication and a form body."""
    return await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", **form},
        auth=(client_id, secret),
    )


async def token_of(http: httpx.AsyncClient, client_id: str, secret: str) -> str:
    response = await exchange(http, client_id, secret)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert response.headers["cache-control"] == "no-store"
    token: str = body["access_token"]
    return token


async def as_token(
    http: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any] | None = None
) -> httpx.Response:
    return await http.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )


async def create(staff: Gql, login: str, agency_id: int, name: str | None = None) -> Any:
    variables = {"input": {"agencyId": global_id("Agency", agency_id), "name": name}}
    return (await staff(login, CREATE, variables))["r"]


def assert_invalid_client(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic ")


async def audit_rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(tables.audit_entries))).all())


def entries_of(rows: list[Any], client_id: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for row in rows:
        if (row.changes or {}).get("clientId") == client_id and row.outcome == "ALLOWED":
            found.setdefault(row.action, []).append(row)
    return found


def assert_secret_absent(rows: list[Any], *secrets: str) -> None:
    text = json.dumps([dict(row._mapping) for row in rows], default=str)
    for secret in secrets:
        assert secret not in text


async def all_cases(http: httpx.AsyncClient, token: str) -> tuple[set[str], int]:
    ids: set[str] = set()
    after = None
    while True:
        response = await as_token(http, token, CASES, {"after": after})
        assert response.status_code == 200, response.text
        page = response.json()["data"]["cases"]
        ids |= {edge["node"]["id"] for edge in page["edges"]}
        total = page["totalCount"]
        if not page["pageInfo"]["hasNextPage"]:
            return ids, total
        after = page["pageInfo"]["endCursor"]


# ---- creation and who may ---------------------------------------------------------------------


async def test_an_agency_manager_creates_a_client_whose_secret_is_shown_once(
    staff: Gql, agencies: dict[str, int], own_engine: AsyncEngine
) -> None:
    made = await create(staff, "acme.manager", agencies[ACME], "Acme dialler")
    assert made["__typename"] == "CreateApiClientSuccess"
    client = made["apiClient"]
    secret = made["clientSecret"]
    assert client["clientId"].startswith("ac_") and len(client["clientId"]) == 19
    assert client["name"] == "Acme dialler"
    assert client["agency"] == {"name": ACME}
    assert client["revokedAt"] is None
    assert len(client["secrets"]) == 1 and client["secrets"][0]["expiresAt"] is None
    assert len(secret) >= 43

    # Read again: the client, never its secret.
    response = await staff.raw("acme.manager", LIST)
    assert secret not in response.text
    listed = [e["node"] for e in response.json()["data"]["apiClients"]["edges"]]
    assert client in listed

    # Its service account: an active agency agent of Acme, only a digest of the secret kept.
    async with own_engine.connect() as conn:
        s, acs = tables.staff.c, tables.api_client_secrets.c
        account = (
            await conn.execute(select(s).where(s.login == "client:" + client["clientId"]))
        ).one()
        digests = (await conn.execute(select(acs.secret_digest))).scalars().all()
    assert (account.roles, account.agency_id, account.active) == (
        ["agency_agent"],
        agencies[ACME],
        True,
    )
    assert secret not in digests


async def test_who_may_create_rotate_revoke_and_list(staff: Gql, agencies: dict[str, int]) -> None:
    made = await create(staff, "admin", agencies[ACME])
    assert made["__typename"] == "CreateApiClientSuccess"
    assert made["apiClient"]["name"] == "Acme Recovery API client"
    client_id = made["apiClient"]["clientId"]

    # Another agency's manager: that agency and its clients do not exist for them.
    other = await create(staff, ZENITH_MANAGER, agencies[ACME])
    assert other == {
        "__typename": "NotFoundError",
        "code": "AGENCY_NOT_FOUND",
        "field": "agencyId",
        "message": "no such agency",
    }
    for document in (ROTATE, REVOKE):
        refused = (await staff(ZENITH_MANAGER, document, {"input": {"clientId": client_id}}))["r"]
        assert (refused["__typename"], refused["code"], refused["field"]) == (
            "NotFoundError",
            "API_CLIENT_NOT_FOUND",
            "clientId",
        )
    zenith_list = (await staff(ZENITH_MANAGER, LIST))["apiClients"]
    assert zenith_list["totalCount"] == 0 and zenith_list["edges"] == []

    # Roles without api_client:manage (or :read) are refused by authorisation.
    variables = {"input": {"agencyId": global_id("Agency", agencies[ACME])}}
    for login in ("collector1", "manager", "acme.agent1", "auditor1"):
        assert_forbidden(await staff.errors(login, CREATE, variables))
    assert_forbidden(await staff.errors("collector1", LIST))
    assert_forbidden(await staff.errors("acme.agent1", ROTATE, {"input": {"clientId": client_id}}))

    # The auditor and the admin read every client; the pages chain by cursor.
    for login in ("auditor1", "admin"):
        seen: list[str] = []
        after = None
        while True:
            page = (await staff(login, LIST, {"after": after}))["apiClients"]
            seen += [edge["node"]["clientId"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert client_id in seen and len(seen) == page["totalCount"] == len(set(seen))

    # A node by its global ID, to api_client:read only.
    node_query = "query($id: ID!) { node(id: $id) { ... on ApiClient { clientId } } }"
    variables = {"id": made["apiClient"]["id"]}
    assert (await staff("auditor1", node_query, variables))["node"] == {"clientId": client_id}
    assert (await staff("collector1", node_query, variables))["node"] is None


# ---- the token endpoint and what a client sees ------------------------------------------------


async def test_a_client_sees_its_agencys_cases_only(
    staff: Gql, http: httpx.AsyncClient, agencies: dict[str, int], own_engine: AsyncEngine
) -> None:
    made = await create(staff, "acme.manager", agencies[ACME])
    client_id, secret = made["apiClient"]["clientId"], made["clientSecret"]
    token = await token_of(http, client_id, secret)

    viewer = (await as_token(http, token, VIEWER)).json()["data"]["viewer"]
    assert viewer == {
        "login": f"client:{client_id}",
        "roles": ["agency_agent"],
        "agency": {"name": ACME},
    }
    seen, total = await all_cases(http, token)
    c = tables.cases.c
    async with own_engine.connect() as conn:
        placed = (await conn.execute(select(c.id).where(agency_cases_rule(agencies[ACME])))).all()
        elsewhere = (
            await conn.execute(select(c.id).where(agency_cases_rule(agencies[ZENITH])))
        ).all()
    expected = {global_id("Case", row.id) for row in placed}
    assert expected and elsewhere
    assert seen == expected and total == len(expected)
    assert not seen & {global_id("Case", row.id) for row in elsewhere}

    # Every GraphQL request of the client is audited with its service login as the actor.
    rows = await audit_rows(own_engine)
    mine = [row for row in rows if row.actor_login == f"client:{client_id}"]
    assert {row.action for row in mine} >= {"case.read", "api.read", "auth.token_issued"}
    read = next(row for row in mine if row.action == "case.read")
    assert read.actor_agency_id == agencies[ACME] and read.actor_roles == ["agency_agent"]


async def test_refusals_of_the_token_endpoint(
    staff: Gql, http: httpx.AsyncClient, agencies: dict[str, int]
) -> None:
    made = await create(staff, "acme.manager", agencies[ACME])
    client_id, secret = made["apiClient"]["clientId"], made["clientSecret"]

    assert_invalid_client(await exchange(http, client_id, secret + "x"))
    assert_invalid_client(await exchange(http, "ac_doesnotexist0000", secret))
    no_auth = await http.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert_invalid_client(no_auth)
    # The secret in the body is not a way in: HTTP Basic only.
    in_body = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert_invalid_client(in_body)
    # Both answers alike: they do not tell which clients exist.
    unknown = (await exchange(http, "ac_doesnotexist0000", secret)).json()
    assert unknown == (await exchange(http, client_id, "wrong")).json()

    wrong_grant = await exchange(http, client_id, secret, grant_type="password")
    assert wrong_grant.status_code == 400
    assert wrong_grant.json()["error"] == "unsupported_grant_type"
    no_grant = await http.post("/oauth/token", data={"scope": "x"}, auth=(client_id, secret))
    assert no_grant.status_code == 400
    assert no_grant.json() == {
        "error": "invalid_request",
        "error_description": "grant_type is required",
    }
    as_json = await http.post(
        "/oauth/token", json={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    repeated = await http.post(
        "/oauth/token",
        content="grant_type=client_credentials&grant_type=client_credentials",
        headers={"content-type": "application/x-www-form-urlencoded"},
        auth=(client_id, secret),
    )
    assert repeated.status_code == 400 and repeated.json()["error"] == "invalid_request"
    assert (await http.get("/oauth/token")).status_code == 405


async def test_failed_client_authentications_are_limited_per_address(
    own_settings: Settings, own_engine: AsyncEngine, staff: Gql, agencies: dict[str, int]
) -> None:
    made = await create(staff, "acme.manager", agencies[ACME])
    client_id, secret = made["apiClient"]["clientId"], made["clientSecret"]
    strict = own_settings.model_copy(update={"unauthenticated_per_minute": 2})
    before = len(await audit_rows(own_engine))
    async with serving(strict, own_engine) as http:
        assert_invalid_client(await exchange(http, client_id, "wrong-1"))
        assert_invalid_client(await exchange(http, client_id, "wrong-2"))
        limited = await exchange(http, client_id, "wrong-3")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        # The same limit as bad bearer tokens: /graphql from this address is limited too.
        bad_bearer = await http.post(
            "/graphql",
            json={"query": "{ viewer { login } }"},
            headers={"Authorization": "Bearer x"},
        )
        assert bad_bearer.status_code == 429
    rows = (await audit_rows(own_engine))[before:]
    failed = [row for row in rows if row.action == "auth.failed"]
    assert failed and all(row.outcome == "DENIED" for row in failed)
    assert failed[0].changes["reason"] == "invalid client credentials"
    assert_secret_absent(rows, "wrong-1", "wrong-2", "wrong-3", secret)


# ---- rotation and revocation -------------------------------------------------------------------


async def test_rotation_keeps_the_old_secret_working_for_the_overlap(
    staff: Gql,
    http: httpx.AsyncClient,
    agencies: dict[str, int],
    own_settings: Settings,
    own_engine: AsyncEngine,
) -> None:
    made = await create(staff, "acme.manager", agencies[ACME])
    client_id, old = made["apiClient"]["clientId"], made["clientSecret"]
    before = datetime.now(UTC)
    rotated = (await staff("acme.manager", ROTATE, {"input": {"clientId": client_id}}))["r"]
    assert rotated["__typename"] == "RotateApiClientSecretSuccess"
    new = rotated["clientSecret"]
    assert new != old
    first, second = rotated["apiClient"]["secrets"]
    assert second["expiresAt"] is None
    ends = datetime.fromisoformat(first["expiresAt"])
    assert before + timedelta(days=1) <= ends <= datetime.now(UTC) + timedelta(days=1)

    # Within the overlap both work ...
    await token_of(http, client_id, old)
    await token_of(http, client_id, new)
    # ... after it only the new one.
    later = FixedClock(ends + timedelta(seconds=1))
    async with serving(own_settings, own_engine, later) as after:
        assert_invalid_client(await exchange(after, client_id, old))
        await token_of(after, client_id, new)

    # An overlap of 0: the old secret stops at once.
    at_once = own_settings.model_copy(update={"client_secret_overlap_seconds": 0})
    async with serving(at_once, own_engine) as now:
        admin = Gql(now, at_once)
        again = (await admin("admin", ROTATE, {"input": {"clientId": client_id}}))["r"]
        newest = again["clientSecret"]
        assert_invalid_client(await exchange(now, client_id, new))
        await token_of(now, client_id, newest)


async def test_revocation_stops_tokens_and_secrets_at_once(
    staff: Gql, http: httpx.AsyncClient, agencies: dict[str, int], own_engine: AsyncEngine
) -> None:
    made = await create(staff, "acme.manager", agencies[ACME])
    client_id, secret = made["apiClient"]["clientId"], made["clientSecret"]
    token = await token_of(http, client_id, secret)
    assert (await as_token(http, token, VIEWER)).status_code == 200

    variables = {"input": {"clientId": client_id, "reason": "contract ended"}}
    revoked = (await staff("acme.manager", REVOKE, variables))["r"]
    assert revoked["__typename"] == "RevokeApiClientSuccess"
    assert revoked["apiClient"]["revokedAt"] is not None

    after = await as_token(http, token, VIEWER)
    assert after.status_code == 401
    assert after.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert_invalid_client(await exchange(http, client_id, secret))
    # A revoked client is revoked: neither rotated nor revoked again.
    for document in (ROTATE, REVOKE):
        again = (await staff("acme.manager", document, {"input": {"clientId": client_id}}))["r"]
        assert (again["__typename"], again["code"]) == ("RuleViolationError", "API_CLIENT_REVOKED")
    async with own_engine.connect() as conn:
        s = tables.staff.c
        active = (
            await conn.execute(select(s.active).where(s.login == f"client:{client_id}"))
        ).scalar_one()
    assert active is False


# ---- the audit trail --------------------------------------------------------------------------


async def test_changes_and_issues_are_audited_without_the_secret(
    staff: Gql, http: httpx.AsyncClient, agencies: dict[str, int], own_engine: AsyncEngine
) -> None:
    made = await create(staff, "acme.manager", agencies[ACME], "audited")
    client_id, first = made["apiClient"]["clientId"], made["clientSecret"]
    await token_of(http, client_id, first)
    rotated = (await staff("acme.manager", ROTATE, {"input": {"clientId": client_id}}))["r"]
    second = rotated["clientSecret"]
    await token_of(http, client_id, second)
    await staff("acme.manager", REVOKE, {"input": {"clientId": client_id, "reason": "done"}})

    rows = await audit_rows(own_engine)
    entries = entries_of(rows, client_id)
    assert {a: len(e) for a, e in entries.items()} == {
        "api_client.create": 1,
        "api_client.rotate": 1,
        "api_client.revoke": 1,
        "auth.token_issued": 2,
    }
    gid = made["apiClient"]["id"]
    for action in ("api_client.create", "api_client.rotate", "api_client.revoke"):
        [entry] = entries[action]
        assert entry.actor_login == "acme.manager"
        assert entry.resource_type == "ApiClient" and entry.resource_ids == [gid]
        assert entry.changes["agencyId"] == agencies[ACME]
    assert entries["api_client.create"][0].changes["name"] == "audited"
    assert entries["api_client.revoke"][0].reason_text == "done"
    for issued in entries["auth.token_issued"]:
        assert issued.actor_login == f"client:{client_id}"
        assert issued.changes == {
            "clientId": client_id,
            "agencyId": agencies[ACME],
            "expiresIn": 900,
        }
    assert_secret_absent(rows, first, second)


# ---- the command line -------------------------------------------------------------------------


async def test_the_cli_creates_rotates_lists_and_revokes(
    own_url: str, http: httpx.AsyncClient, own_engine: AsyncEngine, agencies: dict[str, int]
) -> None:
    created = await asyncio.to_thread(invoke, "client", "create", "--agency", ZENITH, url=own_url)
    assert created.returncode == 0, created.stderr
    printed = json.loads(created.stdout)
    assert set(printed) == {"clientId", "clientSecret"}
    assert created.stdout.strip().count("\n") == 0
    client_id, secret = printed["clientId"], printed["clientSecret"]
    token = await token_of(http, client_id, secret)
    viewer = (await as_token(http, token, VIEWER)).json()["data"]["viewer"]
    assert viewer["agency"] == {"name": ZENITH}

    rotated = await asyncio.to_thread(invoke, "client", "rotate", client_id, url=own_url)
    assert rotated.returncode == 0, rotated.stderr
    again = json.loads(rotated.stdout)
    assert again["clientId"] == client_id and again["clientSecret"] != secret
    await token_of(http, client_id, again["clientSecret"])

    listed = await asyncio.to_thread(invoke, "client", "list", url=own_url)
    assert listed.returncode == 0
    line = next(x for x in listed.stdout.splitlines() if x.startswith(client_id))
    assert line.split("\t")[1:3] == [ZENITH, "active"]
    assert secret not in listed.stdout

    revoked = await asyncio.to_thread(invoke, "client", "revoke", client_id, url=own_url)
    assert revoked.returncode == 0 and revoked.stdout.strip() == f"revoked API client {client_id}"
    assert (await as_token(http, token, VIEWER)).status_code == 401

    rows = await audit_rows(own_engine)
    entries = entries_of(rows, client_id)
    for action in ("api_client.create", "api_client.rotate", "api_client.revoke"):
        [entry] = entries[action]
        assert (entry.actor_login, entry.actor_id) == ("system:cli", None)
        assert entry.changes["agencyId"] == agencies[ZENITH]
    assert_secret_absent(rows, secret, again["clientSecret"])

    for args, message in (
        (("create", "--agency", "No Such Agency"), "arrears: unknown agency 'No Such Agency'\n"),
        (("revoke", "ac_unknown"), "arrears: unknown API client 'ac_unknown'\n"),
        (("rotate", "ac_unknown"), "arrears: unknown API client 'ac_unknown'\n"),
        (("rotate", client_id), "arrears: the API client is revoked\n"),
    ):
        failed = await asyncio.to_thread(invoke, "client", *args, url=own_url)
        assert (failed.returncode, failed.stdout, failed.stderr) == (1, "", message)


# ---- allowed operations (persisted documents) --------------------------------------------------

OPERATIONS = f"""
mutation($input: SetApiClientOperationsInput!) {{
  r: setApiClientOperations(input: $input) {{
    {PAYLOAD}
    ... on SetApiClientOperationsSuccess {{ apiClient {{ clientId allowedOperations }} }}
  }}
}}"""
# Two documents the partner's system sends, as it sends them (the exact text is registered).
ALLOWED_VIEWER = "query Who { viewer { login agency { name } } }"
ALLOWED_CASES = "query Cases($first: Int) { cases(first: $first) { totalCount } }"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def set_operations(staff: Gql, login: str, client_id: str, documents: Any) -> Any:
    variables = {"input": {"clientId": client_id, "documents": documents}}
    return (await staff(login, OPERATIONS, variables))["r"]


def assert_not_allowed(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "OPERATION_NOT_ALLOWED"
    assert error["message"] == "this API client may send only its registered operations"
    assert "data" not in response.json()


async def test_a_client_held_to_its_allowed_operations(
    staff: Gql, http: httpx.AsyncClient, agencies: dict[str, int], own_engine: AsyncEngine
) -> None:
    made = await create(staff, "acme.manager", agencies[ACME], "Acme dialler")
    client_id, secret = made["apiClient"]["clientId"], made["clientSecret"]
    assert made["apiClient"].get("allowedOperations") is None
    token = await token_of(http, client_id, secret)

    held = await set_operations(
        staff, "acme.manager", client_id, [ALLOWED_VIEWER, ALLOWED_CASES, ALLOWED_VIEWER]
    )
    assert held["__typename"] == "SetApiClientOperationsSuccess", held
    digests = sorted({sha256(ALLOWED_VIEWER), sha256(ALLOWED_CASES)})
    assert held["apiClient"] == {"clientId": client_id, "allowedOperations": digests}

    # A registered document, byte for byte (its variables are the client's to choose): data.
    sent = await as_token(http, token, ALLOWED_VIEWER)
    assert sent.status_code == 200, sent.text
    assert sent.json()["data"]["viewer"] == {
        "login": f"client:{client_id}",
        "agency": {"name": ACME},
    }
    counted = await as_token(http, token, ALLOWED_CASES, {"first": 1})
    assert counted.status_code == 200 and counted.json()["data"]["cases"]["totalCount"] > 0

    # Another document, or the same one with one space more: refused before it runs.
    before = len(await audit_rows(own_engine))
    assert_not_allowed(await as_token(http, token, VIEWER))
    assert_not_allowed(await as_token(http, token, ALLOWED_VIEWER + " "))
    assert_not_allowed(await as_token(http, token, ALLOWED_VIEWER.replace("query Who ", "")))
    rows = (await audit_rows(own_engine))[before:]
    refused = [row for row in rows if row.action == "request.refused"]
    assert len(refused) == 3 and len(rows) == 3
    for row in refused:
        assert (row.actor_login, row.outcome, row.reason_code) == (
            f"client:{client_id}",
            "DENIED",
            "OPERATION_NOT_ALLOWED",
        )
        assert row.changes == {"status": 403}

    # Staff are never held to an allow-list.
    assert (await staff("acme.manager", VIEWER))["viewer"]["login"] == "acme.manager"
    assert (await staff("acme.agent1", VIEWER))["viewer"]["login"] == "acme.agent1"

    # Read back by those who read clients.
    listed = (
        await staff(
            "auditor1",
            "{ apiClients(first: 100) { edges { node { clientId allowedOperations } } } }",
        )
    )["apiClients"]["edges"]
    assert {"clientId": client_id, "allowedOperations": digests} in [e["node"] for e in listed]

    # Cleared (null): any operation again.
    cleared = await set_operations(staff, "acme.manager", client_id, None)
    assert cleared["apiClient"] == {"clientId": client_id, "allowedOperations": None}
    again = await as_token(http, token, VIEWER)
    assert again.status_code == 200 and again.json()["data"]["viewer"]["roles"] == ["agency_agent"]
    ac = tables.api_clients.c
    async with own_engine.connect() as conn:
        # SQL NULL, not JSON null.
        cleared_row = (
            await conn.execute(
                select(ac.id).where(ac.client_id == client_id, ac.allowed_operations.is_(None))
            )
        ).one_or_none()
    assert cleared_row is not None

    # Set and cleared: audited with the digests (not secrets), in the same transaction.
    entries = entries_of(await audit_rows(own_engine), client_id)["api_client.operations"]
    assert [(e.changes["operations"], e.changes["digests"]) for e in entries] == [
        (2, digests),
        (None, None),
    ]
    for entry in entries:
        assert entry.actor_login == "acme.manager"
        assert entry.resource_type == "ApiClient"
        assert entry.resource_ids == [made["apiClient"]["id"]]
        assert entry.changes["agencyId"] == agencies[ACME]


async def test_who_may_set_allowed_operations_and_what_is_refused(
    staff: Gql, agencies: dict[str, int], own_engine: AsyncEngine
) -> None:
    made = await create(staff, "acme.manager", agencies[ACME])
    client_id = made["apiClient"]["clientId"]

    # Another agency's manager: no such client. A role without api_client:manage: FORBIDDEN.
    other = await set_operations(staff, ZENITH_MANAGER, client_id, [ALLOWED_VIEWER])
    assert (other["__typename"], other["code"], other["field"]) == (
        "NotFoundError",
        "API_CLIENT_NOT_FOUND",
        "clientId",
    )
    variables = {"input": {"clientId": client_id, "documents": [ALLOWED_VIEWER]}}
    for login in ("collector1", "acme.agent1", "auditor1"):
        assert_forbidden(await staff.errors(login, OPERATIONS, variables))

    # Documents that are not one valid operation: the field names the document, the message
    # never repeats it.
    secretive = "{ viewer { login } } # 4111 1111 1111 1111"
    for documents, field in (
        ([ALLOWED_VIEWER, "{ viewer { login "], "documents[1]"),
        ([ALLOWED_VIEWER, "{ nosuchField4111 }"], "documents[1]"),
        (
            [ALLOWED_VIEWER, "query A { viewer { login } } query B { viewer { name } }"],
            "documents[1]",
        ),
        (["fragment F on Staff { login }"], "documents[0]"),
        ([secretive, "{ viewer { login } } { x4111 }"], "documents[1]"),
    ):
        refused = await set_operations(staff, "acme.manager", client_id, documents)
        assert (refused["__typename"], refused["code"], refused["field"]) == (
            "ValidationError",
            "INVALID_INPUT",
            field,
        ), refused
        assert "4111" not in refused["message"] and "nosuchField" not in refused["message"]
        assert refused["message"].startswith(field)

    # An empty list would let the client send nothing: refused (revoke it instead).
    empty = await set_operations(staff, "acme.manager", client_id, [])
    assert (empty["__typename"], empty["code"], empty["field"]) == (
        "ValidationError",
        "INVALID_INPUT",
        "documents",
    )
    assert "revoke" in empty["message"]
    # Absent is not null: the list is cleared only when asked.
    absent = (await staff("acme.manager", OPERATIONS, {"input": {"clientId": client_id}}))["r"]
    assert (absent["__typename"], absent["field"]) == ("ValidationError", "documents")
    # At most 200 documents.
    many = [f"query Q{i} {{ viewer {{ login }} }}" for i in range(201)]
    too_many = await set_operations(staff, "acme.manager", client_id, many)
    assert (too_many["code"], too_many["field"]) == ("INVALID_INPUT", "documents")

    async with own_engine.connect() as conn:
        kept = (
            await conn.execute(
                select(tables.api_clients.c.allowed_operations).where(
                    tables.api_clients.c.client_id == client_id
                )
            )
        ).scalar_one()
    assert kept is None

    # A revoked client's list is not changed.
    await staff("acme.manager", REVOKE, {"input": {"clientId": client_id}})
    revoked = await set_operations(staff, "acme.manager", client_id, [ALLOWED_VIEWER])
    assert (revoked["__typename"], revoked["code"]) == ("RuleViolationError", "API_CLIENT_REVOKED")


async def test_the_cli_sets_and_clears_allowed_operations(
    own_url: str,
    http: httpx.AsyncClient,
    own_engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    created = await asyncio.to_thread(invoke, "client", "create", "--agency", ZENITH, url=own_url)
    printed = json.loads(created.stdout)
    client_id, secret = printed["clientId"], printed["clientSecret"]
    token = await token_of(http, client_id, secret)
    who, cases = tmp_path / "who.graphql", tmp_path / "cases.graphql"
    who.write_text(ALLOWED_VIEWER + "\n", encoding="utf-8")
    cases.write_text(ALLOWED_CASES, encoding="utf-8")

    held = await asyncio.to_thread(
        invoke, "client", "operations", client_id, str(who), str(cases), url=own_url
    )
    assert held.returncode == 0, held.stderr
    digests = sorted([sha256(ALLOWED_VIEWER + "\n"), sha256(ALLOWED_CASES)])
    assert held.stdout.splitlines() == [
        f"API client {client_id} may send 2 operations:",
        *digests,
    ]
    assert (await as_token(http, token, ALLOWED_VIEWER + "\n")).status_code == 200
    assert_not_allowed(await as_token(http, token, ALLOWED_VIEWER))

    cleared = await asyncio.to_thread(
        invoke, "client", "operations", client_id, "--any", url=own_url
    )
    assert cleared.returncode == 0, cleared.stderr
    assert cleared.stdout == f"API client {client_id} may send any operation\n"
    assert (await as_token(http, token, ALLOWED_VIEWER)).status_code == 200

    [entry, _] = entries_of(await audit_rows(own_engine), client_id)["api_client.operations"]
    assert (entry.actor_login, entry.changes["digests"]) == ("system:cli", digests)

    bad = tmp_path / "bad.graphql"
    bad.write_text("{ viewer { login ", encoding="utf-8")
    for args, message in (
        ((client_id, str(who), str(bad)), f"arrears: {bad}: documents[1] is not valid GraphQL"),
        ((client_id, str(tmp_path / "none.graphql")), "arrears: cannot read"),
        ((client_id,), "arrears: give the files"),
        ((client_id, str(who), "--any"), "arrears: give the files"),
        (("ac_unknown", str(who)), "arrears: unknown API client 'ac_unknown'"),
    ):
        failed = await asyncio.to_thread(invoke, "client", "operations", *args, url=own_url)
        assert (failed.returncode, failed.stdout) == (1, ""), failed
        assert failed.stderr.startswith(message) and failed.stderr.count("\n") == 1, failed
