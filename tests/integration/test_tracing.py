"""Traces: the server span per operation, SQL and Redis children, W3C context in and out, and
the trace id in problem bodies and log lines."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.testclient import TestClient

from app import create_app
from app.config import Settings
from app.wiring import extensions
from runtime.testing import app_client
from runtime.tracing import configure_tracing, shutdown_tracing, tracing_requested
from tests.integration.conftest import register_and_login

API = "/api/v1"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture
def traced(app_settings: Settings) -> Iterator[tuple[TestClient, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    app = create_app(app_settings)
    assert configure_tracing(engine=extensions(app.app).db.engine, exporter=exporter)
    try:
        with app_client(app) as client:
            yield client, exporter
    finally:
        shutdown_tracing()


def test_tracing_is_off_unless_an_otel_variable_asks() -> None:
    assert not tracing_requested({})
    assert tracing_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert tracing_requested({"OTEL_TRACES_EXPORTER": "console"})
    assert not tracing_requested({"OTEL_TRACES_EXPORTER": "none"})
    assert not tracing_requested(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_SDK_DISABLED": "true"}
    )


def test_a_request_is_one_server_span_with_sql_and_redis_children_in_the_callers_trace(
    traced: tuple[TestClient, InMemorySpanExporter],
) -> None:
    client, exporter = traced
    user = register_and_login(client)
    exporter.clear()
    response = client.get(
        f"{API}/projects",
        headers={
            **user["headers"],
            "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01",
            "tracestate": "vendor=1",
        },
    )
    assert response.status_code == 200
    assert response.headers["traceresponse"].startswith(f"00-{TRACE_ID}-")

    spans = exporter.get_finished_spans()
    (server,) = [s for s in spans if s.kind == SpanKind.SERVER]
    assert server.name == "listProjects"
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None and format(server.parent.span_id, "016x") == PARENT_ID
    assert server.context.trace_state.get("vendor") == "1"
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/api/v1/projects"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["enduser.id"] == user["id"]
    assert response.headers["traceresponse"] == (f"00-{TRACE_ID}-{server.context.span_id:016x}-01")
    children = [s for s in spans if s.parent and s.parent.span_id == server.context.span_id]
    systems = {str((s.attributes or {}).get("db.system")) for s in children}
    assert {"postgresql", "redis"} <= systems, [s.name for s in spans]
    assert all(s.context.trace_id == server.context.trace_id for s in children)


def test_the_trace_id_is_in_the_problem_body_and_every_log_line_of_the_request(
    traced: tuple[TestClient, InMemorySpanExporter], capsys: pytest.CaptureFixture[str]
) -> None:
    client, exporter = traced
    user = register_and_login(client)
    capsys.readouterr()
    response = client.get(f"{API}/projects/{uuid.uuid4()}", headers=user["headers"])
    assert response.status_code == 404
    body = response.json()
    (server,) = [s for s in exporter.get_finished_spans() if s.name == "getProject"]
    assert body["trace_id"] == format(server.context.trace_id, "032x")

    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    mine = [line for line in lines if line.get("request_id") == body["request_id"]]
    assert {line["event"] for line in mine} >= {"problem", "request"}
    assert all(line["trace_id"] == body["trace_id"] for line in mine)
    access = next(line for line in mine if line["event"] == "request")
    assert access["span_id"] == format(server.context.span_id, "016x")
    assert access["operation"] == "getProject"
    assert access["route"] == "/api/v1/projects/{project_id}"
    assert access["user_id"] == user["id"]
    assert access["bytes"] == len(response.content)


def test_without_tracing_problems_have_no_trace_id(app_settings: Settings) -> None:
    with app_client(create_app(app_settings)) as client:
        body = client.get(f"{API}/no-such-thing").json()
    assert "trace_id" not in body
    assert "traceresponse" not in body
