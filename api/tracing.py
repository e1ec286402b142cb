"""Optional OpenTelemetry traces (the ``otel`` extra): a span per HTTP request and one per
GraphQL operation, exported over OTLP/HTTP to ``ARREARS_OTEL_ENDPOINT``.

Spans carry the method, the route, the status, the operation's type and root fields and its
outcome: never variables, query text, tokens, addresses or anything a borrower is known by.
The tracer provider is the app's own (not the process-global one), so apps do not share it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.types import Receive, Scope, Send

from api.settings import ConfigurationError, Settings

# The paths a span may name (any other path is named "other": a path can carry an identifier).
_ROUTES = ("/graphql", "/healthz", "/readyz", "/metrics", "/oauth/token")


@dataclass
class Tracing:
    """The app's tracer and the provider that exports its spans."""

    tracer: Any
    provider: Any

    def shutdown(self) -> None:
        """Flushes the spans still queued (at the app's end)."""
        self.provider.shutdown()


def tracing_for(settings: Settings, exporter: Any = None) -> Tracing | None:
    """Returns the app's tracing, or None when traces are off (no endpoint and no exporter)."""
    if settings.otel_endpoint is None and exporter is None:
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        raise ConfigurationError(
            "ARREARS_OTEL_ENDPOINT needs the otel extra: pip install 'arrears[otel]'"
        ) from None
    provider = TracerProvider(resource=Resource.create({"service.name": "arrears"}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otel_endpoint))
        )
    return Tracing(provider.get_tracer("arrears"), provider)


def tracer_of(app: Any) -> Any:
    """Returns the app's tracer, or None when traces are off."""
    tracing = getattr(app.state, "tracing", None)
    return tracing.tracer if isinstance(tracing, Tracing) else None


class RequestSpans:
    """Opens a span around each HTTP request when the app has a tracer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracer = tracer_of(scope["app"]) if "app" in scope else None
        if scope["type"] != "http" or tracer is None:
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        route = path if path in _ROUTES else "other"
        status = 500

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with tracer.start_as_current_span(f"{scope.get('method')} {route}") as span:
            span.set_attribute("http.request.method", str(scope.get("method")))
            span.set_attribute("http.route", route)
            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                span.set_attribute("http.response.status_code", status)
