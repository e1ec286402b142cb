"""Attacks on the HTTP layer, each refused with a clear 4xx and audited as DENIED: oversized and
malformed bodies, deeply nested variables, bad-token floods, one caller's parallel requests,
huge responses, forged client addresses — and secrets that must be set outside development."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.app import create_app
from api.auth import mint_token
from api.guards import MAX_JSON_DEPTH, CallerSlots, RepeatedRefusals, address_key
from api.settings import DEVELOPMENT_KEY, Settings
from store import tables
from tests.conftest import TEST_AUDIT_SECRET, TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]
VIEWER = "query Me { viewer { login } }"
a = tables.audit_entries.c


@asynccontextmanager
async def serving(
    engine: AsyncEngine, settings: Settings, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Starlette]]:
    """The real app with some settings changed, over the shared test database."""
    custom = settings.model_copy(update=overrides)
    app = create_app(custom, engine=engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://guards.test") as c:
            yield c, app


def bearer(settings: Settings, login: str = "collector1") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, login)}"}


async def entries_of(engine: AsyncEngine, response: httpx.Response) -> list[Any]:
    """The audit entries a response's request wrote."""
    request_id = response.headers["x-request-id"]
    async with engine.connect() as conn:
        stmt = select(tables.audit_entries).where(a.request_id == request_id).order_by(a.id)
        return list((await conn.execute(stmt)).all())


def assert_refused(response: httpx.Response, status: int, code: str, fragment: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == code, error
    assert fragment in error["message"], error


async def assert_audited_refusal(engine: AsyncEngine, response: httpx.Response, code: str) -> None:
    entries = await entries_of(engine, response)
    assert [(e.action, e.outcome, e.reason_code) for e in entries] == [
        ("request.refused", "DENIED", code)
    ]
    assert entries[0].actor_login == "collector1"


# ---- The body -------------------------------------------------------------------------------


async def test_a_body_over_the_limit_is_refused_with_413_before_it_is_read(
    engine: AsyncEngine, settings: Settings
) -> None:
    async with serving(engine, settings, max_body_bytes=4096) as (client, _app):
        padding = "x" * 50_000
        response = await client.post(
            "/graphql",
            json={"query": VIEWER, "variables": {"pad": padding}},
            headers=bearer(settings),
        )
        assert_refused(response, 413, "BODY_TOO_LARGE", "4,096 bytes")
        await assert_audited_refusal(engine, response, "BODY_TOO_LARGE")

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"query": "{ viewer { login } }", "variables": {"pad": "'
            for _ in range(100):
                yield b"y" * 1000
            yield b'"}}'

        streamed = await client.post(
            "/graphql",
            content=chunks(),
            headers={**bearer(settings), "Content-Type": "application/json"},
        )
        assert_refused(streamed, 413, "BODY_TOO_LARGE", "exceeds the limit")
        small = await client.post("/graphql", json={"query": VIEWER}, headers=bearer(settings))
        assert small.json() == {"data": {"viewer": {"login": "collector1"}}}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "fragment"),
    [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b"\xff\xfe\x00", "application/json", 400, "not valid JSON"),
        (b"[]", "application/json", 400, "one JSON object"),
        (b'[{"query": "{ viewer { login } }"}]', "application/json", 400, "one JSON object"),
        (b'{"query": 5}', "application/json", 400, "'query' must be a non-empty string"),
        (b'{"variables": {}}', "application/json", 400, "'query' must be a non-empty string"),
        (
            b'{"query": "{ viewer { login } }", "variables": [1]}',
            "application/json",
            400,
            "JSON object",
        ),
        (
            b'{"query": "{ viewer { login } }", "operationName": 3}',
            "application/json",
            400,
            "string",
        ),
        (b"query=%7B+viewer+%7B+login+%7D+%7D", "application/x-www-form-urlencoded", 415, "json"),
        (b"{ viewer { login } }", "text/plain", 415, "application/json"),
    ],
)
async def test_a_malformed_body_is_a_clear_4xx_audited_as_denied(
    gql: Any, engine: AsyncEngine, body: bytes, content_type: str, status: int, fragment: str
) -> None:
    response = await gql.client.post(
        "/graphql",
        content=body,
        headers={**bearer(gql.settings), "Content-Type": content_type},
    )
    code = "UNSUPPORTED_MEDIA_TYPE" if status == 415 else "BAD_REQUEST"
    assert_refused(response, status, code, fragment)
    await assert_audited_refusal(engine, response, code)


async def test_variables_nested_a_thousand_deep_are_refused_not_a_500(
    gql: Any, engine: AsyncEngine
) -> None:
    deep = '{"a":' * 1000 + '"x"' + "}" * 1000
    query = "query($f: CaseFilter) { cases(first: 1, filter: $f) { totalCount } }"
    response = await gql.client.post(
        "/graphql",
        content=f'{{"query": {json.dumps(query)}, "variables": {{"f": {deep}}}}}',
        headers={**bearer(gql.settings), "Content-Type": "application/json"},
    )
    assert_refused(response, 400, "BAD_REQUEST", f"more than {MAX_JSON_DEPTH} levels")
    await assert_audited_refusal(engine, response, "BAD_REQUEST")
    # Deep, but not too deep for the JSON parser: refused by the depth check.
    nested = '{"a":' * 40 + '"x"' + "}" * 40
    response = await gql.client.post(
        "/graphql",
        content=f'{{"query": {json.dumps(query)}, "variables": {{"f": {nested}}}}}',
        headers={**bearer(gql.settings), "Content-Type": "application/json"},
    )
    assert_refused(response, 400, "BAD_REQUEST", f"variables are nested more than {MAX_JSON_DEPTH}")
    # Nesting as deep as any real input is fine.
    shallow = await gql.client.post(
        "/graphql",
        json={"query": query, "variables": {"f": {"status": ["OPEN"]}}},
        headers=bearer(gql.settings),
    )
    assert shallow.status_code == 200
    assert shallow.json()["data"]["cases"]["totalCount"] >= 1


async def test_a_refusal_by_the_graphql_view_is_audited_as_denied(
    gql: Any, engine: AsyncEngine
) -> None:
    """An operation name the document does not define is refused by the view itself."""
    response = await gql.client.post(
        "/graphql",
        json={"query": "query A { viewer { login } }", "operationName": "B"},
        headers=bearer(gql.settings),
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    entries = await entries_of(engine, response)
    assert entries and {e.outcome for e in entries} == {"DENIED"}


@pytest.mark.parametrize(
    "params",
    [
        {"query": VIEWER},
        {
            "query": "query($p: String) { cases(filter: {search: $p}) { totalCount } }",
            "variables": '{"p": "13800000000"}',
        },
        {"query": 'mutation { revokeRole(input: {login: "x", role: "y"}) { __typename } }'},
    ],
)
async def test_graphql_over_get_is_refused_so_values_never_sit_in_urls(
    gql: Any, engine: AsyncEngine, params: dict[str, str]
) -> None:
    response = await gql.client.get("/graphql", params=params, headers=bearer(gql.settings))
    assert_refused(response, 405, "METHOD_NOT_ALLOWED", "POST")
    assert response.headers["Allow"] == "POST"
    await assert_audited_refusal(engine, response, "METHOD_NOT_ALLOWED")
    anonymous = await gql.client.get("/graphql", params=params)
    assert anonymous.status_code == 401


# ---- Failed logins -------------------------------------------------------------------------


async def _failed_logins(engine: AsyncEngine, since_id: int) -> list[Any]:
    async with engine.connect() as conn:
        stmt = (
            select(tables.audit_entries)
            .where(a.action == "auth.failed", a.id > since_id)
            .order_by(a.id)
        )
        return list((await conn.execute(stmt)).all())


async def _last_entry_id(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.coalesce(func.max(a.id), 0)))).scalar_one())


async def test_a_bad_token_flood_is_rate_limited_and_recorded_as_one_entry_with_a_count(
    engine: AsyncEngine, settings: Settings
) -> None:
    async with serving(engine, settings, unauthenticated_per_minute=20) as (client, app):
        before = await _last_entry_id(engine)
        forged = {"Authorization": "Bearer forged.token.value", "User-Agent": "flood/1"}
        responses = await asyncio.gather(
            *(client.post("/graphql", json={"query": VIEWER}, headers=forged) for _ in range(300))
        )
        statuses = [r.status_code for r in responses]
        assert statuses.count(401) == 20
        assert statuses.count(429) == 280
        limited = next(r for r in responses if r.status_code == 429)
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        # The address is over its limit, but a caller with a valid token still gets in.
        ok = await client.post("/graphql", json={"query": VIEWER}, headers=bearer(settings))
        assert ok.json() == {"data": {"viewer": {"login": "collector1"}}}

        first = await _failed_logins(engine, before)
        assert len(first) == 1  # the flood's first failure, at once
        assert first[0].changes == {"reason": "invalid token", "count": 1}
        assert first[0].user_agent == "flood/1"
        await app.state.guards.failed_logins.flush(force=True)
        recorded = await _failed_logins(engine, before)
    assert len(recorded) == 2
    summary = recorded[1].changes
    assert (summary["count"], summary["rateLimited"], summary["reasons"]) == (
        299,
        280,
        {"invalid token": 299},
    )
    assert recorded[1].outcome == "DENIED"
    assert recorded[1].client_ip == "127.0.0.1"


# ---- One caller's parallel requests ----------------------------------------------------------


async def test_one_caller_cannot_run_more_than_its_share_at_once() -> None:
    slots = CallerSlots(limit=2, queue=1, wait_seconds=0.05)
    first, second = await slots.acquire("mallory"), await slots.acquire("mallory")
    assert first is not None and second is not None
    assert await slots.acquire("mallory") is None  # queued, then timed out
    alice = await slots.acquire("alice")  # other callers are not affected
    assert alice is not None
    waiter = asyncio.ensure_future(slots.acquire("mallory"))
    await asyncio.sleep(0)
    assert await slots.acquire("mallory") is None  # the queue is full: refused at once
    await slots.release(first)
    third = await waiter
    assert third is not None
    await slots.release(second)
    await slots.release(third)
    await slots.release(alice)
    assert await slots.acquire("mallory") is not None


async def test_a_cancelled_wait_gives_its_queue_place_back() -> None:
    slots = CallerSlots(limit=1, queue=2, wait_seconds=5)
    held = await slots.acquire("mallory")
    assert held is not None
    for _ in range(5):  # more than the queue holds, each cancelled while waiting
        waiter = asyncio.ensure_future(slots.acquire("mallory"))
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    await slots.release(held)
    # Nothing leaked: the slot and the queue are free.
    assert await slots.acquire("mallory") is not None


async def test_refusals_from_many_addresses_write_a_bounded_number_of_entries() -> None:
    written: list[tuple[str | None, dict[str, Any]]] = []

    async def write(key: str | None, changes: dict[str, Any], *_: Any) -> None:
        written.append((key, changes))

    refusals = RepeatedRefusals(60, write, max_tracked=3)
    now = datetime.now(UTC)
    # One IPv6 /64 is one client, whatever address in it is used.
    for n in range(50):
        await refusals.failed(address_key(f"2001:db8:1:2::{n:x}"), "invalid token", now, False)
    # A thousand IPv4 addresses: three get windows of their own, the rest share one.
    for n in range(1000):
        await refusals.failed(address_key(f"198.51.{n // 250}.{n % 250}"), "x", now, False)
    await refusals.flush(force=True)
    keys = [key for key, _changes in written]
    assert keys[0] == "2001:db8:1:2::/64"
    # The /64: first + the other 49; two IPv4 keys: their first each; the rest: first + 997.
    assert [c["count"] for _k, c in written] == [1, 1, 1, 1, 49, 997]
    assert sum(c["count"] for _k, c in written) == 1050
    assert "(other)" in keys


async def test_parallel_requests_over_the_cap_get_429_and_are_audited(
    engine: AsyncEngine, settings: Settings
) -> None:
    async with serving(engine, settings, max_concurrent_per_caller=1) as (client, app):
        slots: CallerSlots = app.state.guards.slots
        slots.wait_seconds, slots.queue = 0.05, 0
        held = await slots.acquire("collector1")  # a request of collector1's still running
        assert held is not None
        try:
            refused = await client.post(
                "/graphql", json={"query": VIEWER}, headers=bearer(settings)
            )
            other = await client.post(
                "/graphql", json={"query": VIEWER}, headers=bearer(settings, "collector2")
            )
        finally:
            await slots.release(held)
        assert_refused(refused, 429, "TOO_MANY_CONCURRENT_REQUESTS", "at most 1 request")
        assert refused.headers["Retry-After"] == "1"
        entries = await entries_of(engine, refused)
        assert [(e.action, e.outcome, e.reason_code, e.actor_login) for e in entries] == [
            ("request.refused", "DENIED", "TOO_MANY_CONCURRENT_REQUESTS", "collector1")
        ]
        assert other.json() == {"data": {"viewer": {"login": "collector2"}}}
        again = await client.post("/graphql", json={"query": VIEWER}, headers=bearer(settings))
        assert again.status_code == 200


async def test_a_flood_of_parallel_requests_writes_two_audit_entries_not_hundreds(
    engine: AsyncEngine, settings: Settings
) -> None:
    """A caller over their share is refused before any database work, and the refusals are
    recorded like failed logins: the first at once, the rest as one entry with a count."""
    async with serving(engine, settings, max_concurrent_per_caller=1) as (client, app):
        slots: CallerSlots = app.state.guards.slots
        slots.wait_seconds, slots.queue = 0.05, 0
        before = await _last_entry_id(engine)
        held = await slots.acquire("collector1")
        assert held is not None
        try:
            responses = await asyncio.gather(
                *(
                    client.post("/graphql", json={"query": VIEWER}, headers=bearer(settings))
                    for _ in range(200)
                )
            )
        finally:
            await slots.release(held)
        assert {r.status_code for r in responses} == {429}
        await app.state.guards.busy.flush(force=True)
    async with engine.connect() as conn:
        stmt = select(tables.audit_entries).where(a.id > before).order_by(a.id)
        rows = [r for r in (await conn.execute(stmt)).all() if r.actor_login == "collector1"]
    assert [(r.action, r.changes["count"]) for r in rows] == [
        ("request.refused", 1),
        ("request.refused", 199),
    ]


# ---- The response --------------------------------------------------------------------------


async def test_a_response_over_the_limit_is_replaced_by_a_typed_error(
    engine: AsyncEngine, settings: Settings
) -> None:
    query = "{ cases(first: 50) { edges { node { reference borrower { fullName phone } } } } }"
    async with serving(engine, settings, max_response_bytes=2000) as (client, _app):
        response = await client.post("/graphql", json={"query": query}, headers=bearer(settings))
        small = await client.post("/graphql", json={"query": VIEWER}, headers=bearer(settings))
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "RESPONSE_TOO_LARGE"
    assert "exceeds the limit of 2,000 bytes" in error["message"]
    assert "phone" not in response.text
    entries = await entries_of(engine, response)
    assert [e.outcome for e in entries] == ["DENIED"]
    assert small.json() == {"data": {"viewer": {"login": "collector1"}}}


# ---- The client's address --------------------------------------------------------------------


async def _client_ip(
    client: httpx.AsyncClient, engine: AsyncEngine, headers: dict[str, str]
) -> Any:
    response = await client.post("/graphql", json={"query": VIEWER}, headers=headers)
    assert response.status_code == 200
    return (await entries_of(engine, response))[0].client_ip


async def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(
    engine: AsyncEngine, settings: Settings
) -> None:
    spoofed = {**bearer(settings), "X-Forwarded-For": "203.0.113.9"}
    async with serving(engine, settings) as (client, _app):
        assert await _client_ip(client, engine, spoofed) == "127.0.0.1"
    async with serving(engine, settings, trusted_proxies="127.0.0.0/8, 10.0.0.2") as (client, _):
        assert await _client_ip(client, engine, spoofed) == "203.0.113.9"
        # The caller can prepend anything; the nearest untrusted hop is the client.
        chain = {**bearer(settings), "X-Forwarded-For": "1.2.3.4, 198.51.100.7, 10.0.0.2"}
        assert await _client_ip(client, engine, chain) == "198.51.100.7"
        lines = httpx.Headers(
            [
                ("Authorization", bearer(settings)["Authorization"]),
                ("X-Forwarded-For", "198.51.100.8"),
                ("X-Forwarded-For", "10.0.0.2"),
            ]
        )
        assert await _client_ip(client, engine, lines) == "198.51.100.8"  # type: ignore[arg-type]
        garbage = {**bearer(settings), "X-Forwarded-For": "1.2.3.4, not-an-ip"}
        assert await _client_ip(client, engine, garbage) == "127.0.0.1"
        assert await _client_ip(client, engine, bearer(settings)) == "127.0.0.1"


# ---- Secrets ---------------------------------------------------------------------------------

LONG = "k" * 40


@pytest.mark.parametrize(
    ("env", "overrides", "fragment"),
    [
        ("production", {"audit_secret": LONG}, "ARREARS_SECRET_KEY must be set"),
        ("test", {"audit_secret": LONG}, "ARREARS_SECRET_KEY must be set"),
        ("production", {"secret_key": LONG}, "ARREARS_AUDIT_SECRET must be set"),
        ("production", {"secret_key": LONG, "audit_secret": "short"}, "32+ characters"),
        ("production", {"secret_key": LONG, "audit_secret": LONG}, "must differ"),
    ],
)
def test_outside_development_both_secrets_are_required(
    env: str, overrides: dict[str, str], fragment: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(fragment)):
        Settings(env=env, **overrides)


def test_every_command_refuses_to_start_without_the_audit_secret() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARREARS_")}
    env |= {"ARREARS_ENV": "production", "ARREARS_SECRET_KEY": TEST_SECRET}
    for command in (["token", "admin"], ["migrate"], ["audit", "verify"], ["serve"]):
        result = subprocess.run(
            [sys.executable, "-m", "api.cli", *command],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
        )
        assert result.returncode == 1, (command, result.stdout)
        assert "ARREARS_AUDIT_SECRET must be set" in result.stderr, command
        assert "Traceback" not in result.stderr


def test_development_says_loudly_that_its_keys_are_unsafe(
    capsys: pytest.CaptureFixture[str],
) -> None:
    create_app(Settings(env="development", database_url="sqlite+aiosqlite:///:memory:"))
    err = capsys.readouterr().err
    assert "WARNING: ARREARS_SECRET_KEY is not set" in err
    assert "WARNING: ARREARS_AUDIT_SECRET is not set" in err
    assert Settings(env="development").secret_key == DEVELOPMENT_KEY
    quiet = Settings(env="development", secret_key=TEST_SECRET, audit_secret=TEST_AUDIT_SECRET)
    assert quiet.development_warnings() == []


# ---- Text and graphql-core's own refusals ----------------------------------------------------

REVEAL = """mutation($input: RevealConfidentialInput!) {
  revealConfidential(input: $input) { __typename } }"""


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (
            REVEAL,
            {
                "input": {
                    "borrowerId": "Qm9ycm93ZXI6MQ==",
                    "field": "PHONE",
                    "reasonCode": "CONTACT_BORROWER",
                    "reasonText": "call\u0000back",
                }
            },
        ),
        (
            'mutation { grantRole(input: {login: "x\\u0000", role: "collector"}) { __typename } }',
            {},
        ),
        ('{ cases(filter: {search: "a\\u{0}"}) { totalCount } }', {}),
        ('{ cases(filter: {search: "a\\U0000"}) { totalCount } }', {}),
    ],
)
async def test_a_nul_character_in_any_text_is_refused_before_anything_runs(
    gql: Any, engine: AsyncEngine, query: str, variables: dict[str, Any]
) -> None:
    """PostgreSQL refuses NUL in text columns: without this a NUL in a mutation's text was an
    internal error half-way through the work."""
    response = await gql.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=bearer(gql.settings)
    )
    assert_refused(response, 400, "BAD_REQUEST", "NUL characters")
    await assert_audited_refusal(engine, response, "BAD_REQUEST")


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ viewer { login }", {}, "GRAPHQL_PARSE_FAILED"),
        ("{ viewer { nosuchfield } }", {}, "GRAPHQL_VALIDATION_FAILED"),
        ("{ cases(first: 2147483648) { totalCount } }", {}, "BAD_USER_INPUT"),
        ("query($n: Int) { cases(first: $n) { totalCount } }", {"n": "ten"}, "BAD_USER_INPUT"),
    ],
)
async def test_graphql_cores_own_refusals_carry_a_code(
    gql: Any, query: str, variables: dict[str, Any], code: str
) -> None:
    errors = await gql.errors("collector1", query, variables)
    assert [e["extensions"]["code"] for e in errors] == [code], errors
