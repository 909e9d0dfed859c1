"""OpenTelemetry traces: a server span per request named by operationId, SQL and Redis spans.

Configured only by the standard ``OTEL_*`` variables and off unless
``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_TRACES_EXPORTER`` is set. ``create_app`` calls
:func:`configure_tracing` in each Gunicorn worker, after the fork: the SDK's export thread and
its connections do not survive a fork."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import structlog
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_state: dict[str, Any] = {"tracer": None, "provider": None}


def tracing_requested(environ: Mapping[str, str] = os.environ) -> bool:
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true" or exporter == "none":
        return False
    return bool(exporter or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def configure_tracing(
    *, engine: Any = None, exporter: Any = None, service_name: str = "api"
) -> bool:
    """Start the SDK when the environment asks for it (or a test passes an ``exporter``);
    instrument the engine and redis-py. Returns whether tracing is on."""
    if exporter is None and not tracing_requested():
        return False
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    shutdown_tracing()
    # WHY: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the settings' name.
    resource = Resource({"service.name": service_name}).merge(OTELResourceDetector().detect())
    if os.environ.get("OTEL_SERVICE_NAME"):
        resource = resource.merge(Resource({"service.name": os.environ["OTEL_SERVICE_NAME"]}))
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(_exporter_from_environment()))
    # WHY our own provider, not the global one: the global can be set once per process, and
    # tests build several apps.
    _state["provider"] = provider
    _state["tracer"] = provider.get_tracer("runtime")
    if engine is not None:
        # WHY skip_dep_check: the instrumentation declares sqlalchemy < 2.1 while the engine
        # events it uses are unchanged in 2.1; tests/integration/test_tracing.py proves the spans.
        SQLAlchemyInstrumentor().instrument(
            engine=engine, tracer_provider=provider, skip_dep_check=True
        )
    RedisInstrumentor().instrument(tracer_provider=provider)
    return True


def _exporter_from_environment() -> Any:
    name = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER={name!r} is not supported; use otlp or console.")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def shutdown_tracing() -> None:
    """Flush and stop the SDK, and undo the instrumentation (tests, worker exit)."""
    provider = _state["provider"]
    if provider is None:
        return
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().uninstrument()
    RedisInstrumentor().uninstrument()
    provider.shutdown()
    _state.update(tracer=None, provider=None)


def current_trace_id() -> str | None:
    """The trace id of the request being served, when tracing is on."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


class _AsgiHeaders(Getter[Scope]):
    def get(self, carrier: Scope, key: str) -> list[str] | None:
        wanted = key.lower().encode()
        found = [bytes(v).decode("latin-1") for k, v in carrier.get("headers", ()) if k == wanted]
        return found or None

    def keys(self, carrier: Scope) -> list[str]:
        return [bytes(k).decode("latin-1") for k, _ in carrier.get("headers", ())]


_GETTER = _AsgiHeaders()


class TracingMiddleware:
    """The server span of each request, continued from ``traceparent``/``tracestate``.

    Named by the operationId once Connexion has routed the request; the ids are bound to every
    log line of the request, and a ``traceresponse`` header tells the client the trace."""

    def __init__(self, app: ASGIApp, *, routes: Mapping[str, str]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracer = _state["tracer"]
        if scope["type"] != "http" or tracer is None:
            await self.app(scope, receive, send)
            return
        scope.setdefault("extensions", {})
        parent = propagate.extract(scope, getter=_GETTER)
        name = f"{scope.get('method', 'GET')} {scope.get('path', '')}"
        with tracer.start_as_current_span(name, context=parent, kind=SpanKind.SERVER) as span:
            context = span.get_span_context()
            structlog.contextvars.bind_contextvars(
                trace_id=format(context.trace_id, "032x"), span_id=format(context.span_id, "016x")
            )
            status = 500
            traceresponse = (
                f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
            ).encode()

            async def send_traced(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    message["headers"] = [
                        *message.get("headers", ()),
                        (b"traceresponse", traceresponse),
                    ]
                await send(message)

            try:
                await self.app(scope, receive, send_traced)
            finally:
                self._describe(span, scope, status)

    def _describe(self, span: Span, scope: Scope, status: int) -> None:
        extensions = scope.get("extensions", {})
        operation = extensions.get("connexion_routing", {}).get("operation_id")
        method = scope.get("method", "")
        if operation:
            span.update_name(str(operation))
            span.set_attribute("code.function.name", str(operation))
            route = self.routes.get(str(operation))
            if route:
                span.set_attribute("http.route", route)
        span.set_attribute("http.request.method", method)
        span.set_attribute("url.path", scope.get("path", ""))
        span.set_attribute("http.response.status_code", status)
        user = caller_id(extensions)
        if user:
            span.set_attribute("enduser.id", user)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))


def caller_id(extensions: Mapping[str, Any]) -> str | None:
    """The authenticated caller's subject, once Connexion's security has run."""
    token_info = extensions.get("connexion_context", {}).get("token_info")
    subject = token_info.get("sub") if isinstance(token_info, Mapping) else None
    return str(subject) if subject else None
