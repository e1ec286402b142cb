"""GET /metrics after real requests: exact counts by bounded labels, the pool, the audit
append time, reveals by field, no personal data; its token; and the optional traces."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from graphql import parse
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.app import create_app
from api.common.ids import to_global_id
from api.metrics import operation_label
from api.settings import Settings
from store import tables
from tests.e2e.test_reveal import REVEAL, borrower_of, reveal_input
from tests.helpers import Gql

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
CASES = "query MyOwnName { cases(first: 2) { edges { node { id } } } }"


@asynccontextmanager
async def served(
    engine: AsyncEngine, settings: Settings, **changes: Any
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient, Gql]]:
    """A fresh app (with metrics of its own) over the shared database."""
    app = create_app(settings.model_copy(update=changes), engine=engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://arrears.test") as c:
            yield app, c, Gql(c, settings)


async def scrape(client: httpx.AsyncClient, **headers: str) -> tuple[str, Samples]:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    return response.text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_count_requests_by_operation_outcome_and_refusal(
    engine: AsyncEngine, settings: Settings
) -> None:
    borrower = await borrower_of(engine, "collector1")
    async with served(engine, settings) as (_app, client, gql):
        _, before = await scrape(client)
        for _ in range(2):
            assert len((await gql("collector1", CASES))["cases"]["edges"]) == 2
        await gql("collector1", "{ me: viewer { login } cases(first: 1) { totalCount } }")
        revealed = await gql(
            "collector1", REVEAL, reveal_input(to_global_id("Borrower", borrower.id), "PHONE")
        )
        assert revealed["revealConfidential"]["value"] == borrower.phone
        unauthenticated = await client.post(
            "/graphql", json={"query": CASES}, headers={"Authorization": "Bearer not-a-token"}
        )
        assert unauthenticated.status_code == 401
        many = " ".join(f"query Q{i} {{ viewer {{ login }} }}" for i in range(11))
        errors = await gql.errors("collector1", many)
        assert errors[0]["extensions"]["code"] == "TOO_MANY_OPERATIONS"
        too_large = await client.post(
            "/graphql",
            content=b'{"query": "' + b" " * (settings.max_body_bytes + 1) + b'"}',
            headers={
                "Authorization": f"Bearer {gql.token('collector1')}",
                "Content-Type": "application/json",
            },
        )
        assert too_large.status_code == 413
        await gql.errors("collector1", "{ noSuchField }")
        body, after = await scrape(client)

    requests = {
        dict(labels)["operation"] + " " + dict(labels)["outcome"]: count
        for (name, labels), count in after.items()
        if name == "arrears_requests_total"
    }
    assert requests == {
        "query:cases ok": 2,
        "query:cases,viewer ok": 1,
        "mutation:revealConfidential ok": 1,
        "unknown refused": 2,  # the bad token and the oversized body: never read
        "invalid refused": 1,  # eleven operations
        "invalid denied": 1,  # a field the schema does not have
    }
    refused = {
        dict(labels)["reason"]: count
        for (name, labels), count in after.items()
        if name == "arrears_requests_refused_total"
    }
    assert refused == {"UNAUTHENTICATED": 1, "TOO_MANY_OPERATIONS": 1, "BODY_TOO_LARGE": 1}
    latency = "arrears_request_duration_seconds_count"
    assert value(after, latency, operation="query:cases") == 2
    assert value(after, latency, operation="unknown") == 2
    assert value(after, "arrears_request_duration_seconds_sum", operation="query:cases") > 0
    inf = value(
        after, "arrears_request_duration_seconds_bucket", operation="query:cases", le="+Inf"
    )
    assert inf == 2
    assert value(after, "arrears_reveals_total", field="phone", outcome="revealed") == 1

    # Every request but the bad token's wrote its entry at once (that one may be coalesced).
    appended = value(after, "arrears_audit_append_seconds_count") - value(
        before, "arrears_audit_append_seconds_count"
    )
    assert appended >= 7
    assert value(after, "arrears_audit_append_seconds_sum") > 0

    size = value(after, "arrears_db_pool_size")
    assert size == engine.pool.size() >= 1  # type: ignore[attr-defined]
    assert 0 <= value(after, "arrears_db_pool_checked_out") <= size + 10
    assert -size <= value(after, "arrears_db_pool_overflow") <= 10

    # No client-chosen name, token or personal data in any label.
    assert "MyOwnName" not in body and "not-a-token" not in body
    async with engine.connect() as conn:
        people = (await conn.execute(select(tables.borrowers))).all()
    for person in people:
        for personal in (person.full_name, person.phone, person.email, person.national_id):
            assert personal not in body


async def test_metrics_need_the_token_when_one_is_set(
    engine: AsyncEngine, settings: Settings
) -> None:
    token = "metrics-token-that-is-long-enough-1234"
    async with served(engine, settings, metrics_token=token) as (_app, client, gql):
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer wrong"})
        assert wrong.status_code == 401
        assert wrong.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        # A staff token is not the metrics token.
        staff = await client.get(
            "/metrics", headers={"Authorization": f"Bearer {gql.token('manager1')}"}
        )
        assert staff.status_code == 401
        _, samples = await scrape(client, Authorization=f"Bearer {token}")
        assert value(samples, "arrears_db_pool_size") >= 1


async def test_metrics_are_open_without_a_token_and_not_a_graphql_request(
    engine: AsyncEngine, settings: Settings
) -> None:
    async with served(engine, settings) as (_app, client, _gql):
        await scrape(client)
        _, samples = await scrape(client)
    assert not any(name == "arrears_requests_total" for name, _ in samples)


@pytest.mark.parametrize(
    ("document", "name", "label"),
    [
        ("{ b: viewer { login } a: cases { totalCount } }", None, "query:cases,viewer"),
        ("query A { viewer { login } } mutation B { x }", "B", "mutation:x"),
        ("query A { viewer { login } } query B { cases { totalCount } }", None, "invalid"),
        (
            "{ ...F ... on Query { case(id: 1) { id } } } fragment F on Query { viewer { login } }",
            None,
            "query:case,viewer",
        ),
        ("fragment F on Query { ...F viewer { id } } { ...F }", None, "query:viewer"),
    ],
)
def test_operation_labels_use_root_fields_never_aliases_or_names(
    document: str, name: str | None, label: str
) -> None:
    assert operation_label(parse(document), name) == label


async def test_traces_name_the_operation_without_its_data(
    engine: AsyncEngine, settings: Settings
) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from api.tracing import tracing_for

    exporter = InMemorySpanExporter()
    async with served(engine, settings) as (app, _client, gql):
        app.state.tracing = tracing_for(settings, exporter=exporter)
        await gql("collector1", CASES)
        spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"POST /graphql", "graphql.operation"}
    request, operation = spans["POST /graphql"], spans["graphql.operation"]
    assert operation.parent is not None and request.context is not None
    assert operation.parent.span_id == request.context.span_id
    assert dict(operation.attributes or {}) == {
        "graphql.operation.type": "query",
        "graphql.root_fields": "cases",
        "arrears.outcome": "ok",
    }
    assert dict(request.attributes or {}) == {
        "http.request.method": "POST",
        "http.route": "/graphql",
        "http.response.status_code": 200,
    }


async def test_no_traces_without_an_endpoint(engine: AsyncEngine, settings: Settings) -> None:
    async with served(engine, settings) as (app, _client, _gql):
        assert app.state.tracing is None
