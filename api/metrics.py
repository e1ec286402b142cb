"""Prometheus metrics of one app, and ``GET /metrics``.

Labels are bounded and carry no personal data: an operation is named by its type and the sorted
names of its root fields (the schema bounds them; never the client's own operation name), a
refusal by its error code, a reveal by the field revealed (never the borrower)."""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from strawberry.extensions import SchemaExtension

from api.extensions import outcome_of
from api.settings import Settings
from api.tracing import tracer_of
from store.audit import Outcome
from store.db import Engine
from store.metrics import AUDIT_APPEND_SECONDS, PoolCollector

# Error codes that refuse a request for its size or rate rather than for what it asks.
LIMIT_CODES = frozenset(
    {
        "QUERY_TOO_COMPLEX",
        "TOO_MANY_TOKENS",
        "TOO_MANY_OPERATIONS",
        "TOO_MANY_DIRECTIVES",
        "RESPONSE_TOO_LARGE",
    }
)
# Distinct operation labels kept per app; past it, an operation counts as "<type>:other"
# (root fields can be combined in many ways, and each combination would be a new series).
MAX_OPERATIONS = 200
UNKNOWN = "unknown"  # refused before its document was read (e.g. no valid token)
INVALID = "invalid"  # a document that did not parse or validate
_OUTCOMES = {Outcome.ALLOWED: "ok", Outcome.DENIED: "denied", Outcome.ERROR: "error"}
_STATE = "arrears.observation"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Observation:
    """What one GraphQL request turned out to be, for its metrics."""

    operation: str = UNKNOWN
    outcome: str | None = None
    refused: str | None = None


def observation(request: Request) -> Observation:
    """Returns the request's observation (created on first use)."""
    state: dict[str, Any] = request.scope.setdefault("state", {})
    seen = state.get(_STATE)
    if not isinstance(seen, Observation):
        seen = state[_STATE] = Observation()
    return seen


def note_refusal(request: Request, code: str) -> None:
    """Notes that the request was refused with ``code`` (one of the API's own error codes)."""
    observation(request).refused = code


def operation_label(document: DocumentNode | None, operation_name: str | None) -> str:
    """Returns ``<type>:<sorted root fields>`` of the operation that runs, or "invalid"."""
    if document is None:
        return INVALID
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [
            o for o in operations if o.name is not None and o.name.value == operation_name
        ]
    if len(operations) != 1:
        return INVALID
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    fields: set[str] = set()
    _root_fields(operations[0].selection_set, fragments, fields, set())
    if not fields:
        return INVALID
    return f"{operations[0].operation.value}:{','.join(sorted(fields))}"


def _root_fields(
    selections: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    into: set[str],
    visited: set[str],
) -> None:
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            into.add(selection.name.value)  # the field, never its client-chosen alias
        elif isinstance(selection, InlineFragmentNode):
            _root_fields(selection.selection_set, fragments, into, visited)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in visited:
                visited.add(name)
                _root_fields(fragments[name].selection_set, fragments, into, visited)


class ObserveOperation(SchemaExtension):
    """Notes the operation's label and outcome; first in the list, so it ends last and sees
    the errors as the other extensions leave them. Opens the operation's span when tracing."""

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        request = getattr(ctx.context, "request", None)
        tracer = _tracer(request)
        span = tracer.start_as_current_span("graphql.operation") if tracer else None
        current = span.__enter__() if span is not None else None
        try:
            yield
        finally:
            label, outcome, refused = _judge(ctx)
            if isinstance(request, Request):
                seen = observation(request)
                seen.operation, seen.outcome = label, outcome
                seen.refused = seen.refused or refused
            if span is not None and current is not None:
                kind, _, fields = label.partition(":")
                current.set_attribute("graphql.operation.type", kind)
                current.set_attribute("graphql.root_fields", fields)
                current.set_attribute("arrears.outcome", "refused" if refused else outcome)
                span.__exit__(None, None, None)


def _tracer(request: object) -> Any:
    return tracer_of(request.app) if isinstance(request, Request) else None


def _judge(ctx: Any) -> tuple[str, str, str | None]:
    """Returns the operation's label, its outcome, and the limit code that refused it."""
    result = ctx.result
    errors = getattr(result, "errors", None) or []
    if ctx.pre_execution_errors or result is None:
        label = INVALID
    else:
        label = operation_label(ctx.graphql_document, ctx.operation_name)
    codes = {(e.extensions or {}).get("code") for e in errors}
    refused = next((code for code in sorted(LIMIT_CODES) if code in codes), None)
    outcome = _OUTCOMES.get(outcome_of(errors), "error") if result is not None else "error"
    return label, outcome, refused


class Metrics:
    """The metrics of one app, in a registry of its own (the tests build many apps)."""

    def __init__(self, engine: Callable[[], Engine | None]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "arrears_requests",
            "GraphQL requests by operation and outcome",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "arrears_request_duration_seconds",
            "Time from receiving a GraphQL request to its response, by operation",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.refused = Counter(
            "arrears_requests_refused",
            "Requests refused before or instead of running, by error code",
            ["reason"],
            registry=self.registry,
        )
        self.reveals = Counter(
            "arrears_reveals",
            "Confidential values asked for in clear, by field and whether they were revealed",
            ["field", "outcome"],
            registry=self.registry,
        )
        self.pool = PoolCollector(engine)
        self.registry.register(self.pool)
        self.registry.register(AUDIT_APPEND_SECONDS)
        self._operations: set[str] = set()

    def _bounded(self, operation: str) -> str:
        if operation in (UNKNOWN, INVALID) or operation in self._operations:
            return operation
        if len(self._operations) >= MAX_OPERATIONS:
            return f"{operation.partition(':')[0]}:other"
        self._operations.add(operation)
        return operation

    def request_done(self, request: Request, status: int, seconds: float) -> None:
        """Counts a finished GraphQL request (the IDE page is not one)."""
        seen = observation(request)
        operation = self._bounded(seen.operation)
        if seen.refused is not None:
            outcome = "refused"
            self.refused.labels(seen.refused).inc()
        elif seen.outcome is not None:
            outcome = seen.outcome
        else:
            outcome = "error" if status >= 500 else "refused"
        self.requests.labels(operation, outcome).inc()
        self.latency.labels(operation).observe(seconds)

    def revealed(self, field: str, ok: bool) -> None:
        """Counts a request to reveal a confidential field (``field`` is the schema's name)."""
        self.reveals.labels(field, "revealed" if ok else "refused").inc()

    def exposition(self) -> bytes:
        """Returns the text format; across workers in multiprocess mode."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            registry.register(self.pool)  # this worker's pool: it is read, not stored
            return generate_latest(registry)
        return generate_latest(self.registry)


def count_reveal(request: Request, field: str, ok: bool) -> None:
    """Counts a reveal on the app's metrics (by field only)."""
    metrics = getattr(request.app.state, "metrics", None)
    if isinstance(metrics, Metrics):
        metrics.revealed(field, ok)


def metrics_endpoint(settings: Settings) -> Callable[[Request], Any]:
    """Returns ``GET /metrics``: open, or behind ``ARREARS_METRICS_TOKEN`` when it is set."""
    token = settings.metrics_token.encode() if settings.metrics_token else None

    async def endpoint(request: Request) -> Response:
        if token is not None:
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token):
                return JSONResponse(
                    {
                        "errors": [
                            {
                                "message": "a valid metrics token is required",
                                "extensions": {"code": "UNAUTHENTICATED"},
                            }
                        ]
                    },
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="arrears-metrics"'},
                )
        metrics: Metrics = request.app.state.metrics
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return endpoint
