"""No log line holds a borrower's phone or national ID. Errors are provoked with them in query
text, variables and cursors (in process, and against a real `arrears serve`), and an unexpected
error is raised with them in its message; then every line the whole run logged is searched.
This module runs last (tests/e2e/conftest.py), so it sees what every other test logged."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth import mint_token
from api.settings import Settings
from store import case_queries, tables
from tests.conftest import TEST_SECRET
from tests.helpers import Gql
from tests.logcapture import LogCapture
from tests.servers import running_server

b = tables.borrowers.c

# Keys a line about an unexpected GraphQL error may have: what failed and where, nothing else.
UNEXPECTED_ERROR_KEYS = {"event", "level", "timestamp", "request_id", "error", "operation", "path"}


async def personal_values(engine: AsyncEngine) -> list[str]:
    """Every demo borrower's phone and national ID."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(b.phone, b.national_id))).all()
    return [value for row in rows for value in row]


async def a_borrower(engine: AsyncEngine) -> tuple[str, str]:
    async with engine.connect() as conn:
        row = (await conn.execute(select(b.phone, b.national_id).order_by(b.id).limit(1))).one()
    return row.phone, row.national_id


def provocations(phone: str, national_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(login, query, variables) that answer with errors, or succeed, with the values in them."""
    count = "{ totalCount }"
    cursor = json.dumps({"o": "DAYS_PAST_DUE_DESC", "v": national_id, "i": 1})
    return [
        # A search on the phone (succeeds: it matches no name or reference).
        (
            "manager",
            f"query Search($f: CaseFilter) {{ cases(filter: $f) {count} }}",
            {"f": {"search": phone}},
        ),
        # MASKED_FIELD: a collector filters on fields it sees masked, values in the query text.
        (
            "collector1",
            f'query Masked {{ cases(filter: {{borrowerPhone: "{phone}", '
            f'borrowerNationalId: "{national_id}"}}) {count} }}',
            {},
        ),
        # A syntax error and validation errors quote the document around the values.
        ("manager", f'query Broken {{ cases(filter: {{search: "{phone}"}} {count} }}', {}),
        ("manager", f"query Unquoted {{ cases(filter: {{search: {phone}}}) {count} }}", {}),
        ("manager", f'query Unknown {{ cases(filter: {{phone: "{phone}"}}) {count} }}', {}),
        # A variable of the wrong type: graphql-core quotes the value in its message.
        ("manager", f"query Coerce($n: Int) {{ cases(first: $n) {count} }}", {"n": phone}),
        # BAD_USER_INPUT: a forged cursor holding a national ID; an out-of-range date.
        (
            "manager",
            f"query Cursor($a: String) {{ cases(after: $a) {count} }}",
            {"a": base64.urlsafe_b64encode(cursor.encode()).decode()},
        ),
        (
            "auditor1",
            f"query Trail($f: AuditFilter) {{ auditTrail(filter: $f) {count} }}",
            {"f": {"resourceId": national_id, "since": "9999-12-31T23:59:59-14:00"}},
        ),
        # An ID whose number is the phone: out of range, so null without reaching the database.
        (
            "manager",
            "query Node($id: ID!) { node(id: $id) { id } }",
            {"id": base64.b64encode(f"Borrower:{phone}".encode()).decode()},
        ),
    ]


async def test_provoked_errors_in_process(gql: Gql, engine: AsyncEngine) -> None:
    phone, national_id = await a_borrower(engine)
    for login, query, variables in provocations(phone, national_id):
        response = await gql.raw(login, query, variables)
        assert response.status_code < 500, response.text


async def test_an_unexpected_error_is_logged_by_type_operation_and_path_only(
    gql: Gql, engine: AsyncEngine, log_capture: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    phone, national_id = await a_borrower(engine)

    async def fail(*_args: object) -> NoReturn:
        # Like a driver error that quotes the parameters it was given.
        try:
            raise ValueError(f"no borrower with national ID {national_id}")
        except ValueError as exc:
            raise RuntimeError(f"query failed for phone {phone}") from exc

    monkeypatch.setattr(case_queries, "fetch_page", fail)
    before = len(log_capture.structlog_lines())
    # The phone in the query text, the national ID in a variable, both in the error's message.
    errors = await gql.errors(
        "manager",
        f'query FindByPhone($who: String) {{ cases(filter: {{search: "{phone}", '
        f"assigneeLogin: $who}}) {{ totalCount }} }}",
        {"who": national_id},
    )
    assert [(e["message"], e["extensions"]) for e in errors] == [
        ("Internal server error.", {"code": "INTERNAL"})
    ]
    logged = [json.loads(line) for line in log_capture.structlog_lines()[before:]]
    unexpected = [line for line in logged if line["event"] == "graphql.unexpected_error"]
    assert len(unexpected) == 1, logged
    line = unexpected[0]
    assert set(line) <= UNEXPECTED_ERROR_KEYS, line
    assert (line["level"], line["error"], line["operation"], line["path"]) == (
        "error",
        "RuntimeError < ValueError",
        "FindByPhone",
        "cases",
    )


@pytest.fixture(scope="module")
def server(
    engine: object, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """`arrears serve` in production mode, its output (stdout and stderr) in a log file."""
    log_path = tmp_path_factory.mktemp("logged-server") / "server.log"
    with running_server(database_url, log_path) as base:
        yield base, log_path


async def test_provoked_errors_on_a_real_server(
    server: tuple[str, Path], engine: AsyncEngine, database_url: str
) -> None:
    base, log_path = server
    phone, national_id = await a_borrower(engine)
    settings = Settings(database_url=database_url, secret_key=TEST_SECRET)
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for login, query, variables in provocations(phone, national_id):
            response = await client.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {mint_token(settings, login)}"},
            )
            assert response.status_code < 500, response.text
        # A GET puts the query in the URL, which the request line must not carry either.
        await client.get(
            "/graphql",
            params={"query": f'{{ cases(filter: {{search: "{phone}"}}) {{ totalCount }} }}'},
            headers={"Authorization": f"Bearer {mint_token(settings, 'manager')}"},
        )
    deadline = time.monotonic() + 5
    while '"request"' not in log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the server logged no request line"
        await asyncio.sleep(0.1)


async def test_no_line_logged_in_the_run_holds_a_phone_or_national_id(
    log_capture: LogCapture, engine: AsyncEngine
) -> None:
    values = await personal_values(engine)
    assert len(values) > 100
    lines = log_capture.lines()
    sources = {source for source, _line in lines}
    # The check can fail: it reads our structured lines, stdlib records and a server's file.
    assert "structlog" in sources and "server.log" in sources, sources
    assert any("graphql.unexpected_error" in line for _source, line in lines)
    pattern = re.compile("|".join(map(re.escape, sorted(values, key=len, reverse=True))), re.I)
    leaks = [
        f"{source}: {pattern.sub('<REDACTED>', line)[:300]}"
        for source, line in lines
        if pattern.search(line)
    ]
    assert not leaks, "personal data in logs:\n" + "\n".join(leaks[:20])
