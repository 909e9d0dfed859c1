from __future__ import annotations

import asyncio
import json

import pytest
import structlog
from prometheus_client import REGISTRY
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.edges import API_CSP
from runtime.middleware import RequestContextMiddleware, accept_request_id


@pytest.mark.parametrize("value", ["abc-123", "req.1:2_3", "A" * 128])
def test_a_well_formed_request_id_is_kept(value: str) -> None:
    assert accept_request_id(value) == value


@pytest.mark.parametrize("value", [None, "", "has space", "x" * 129, "evil\nlog", "-leading"])
def test_anything_else_gets_a_fresh_id(value: str | None) -> None:
    fresh = accept_request_id(value)
    assert fresh != value and len(fresh) == 32


def run(app: RequestContextMiddleware, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "GET", "path": "/x", "headers": headers}
    asyncio.run(app(scope, receive, send))
    return sent


def json_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    err = capsys.readouterr().err
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_the_id_is_echoed_and_bound_to_logs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from runtime.logging import configure_logging, get_logger

    configure_logging(level="INFO", json=True)
    seen: dict[str, object] = {}

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.update(structlog.contextvars.get_contextvars())
        get_logger("tests.handler").info("handled")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = RequestContextMiddleware(inner)
    sent = run(app, [(b"x-request-id", b"req-42")])
    headers = dict(sent[0]["headers"])
    assert headers[b"x-request-id"] == b"req-42"
    assert seen["request_id"] == "req-42"
    assert structlog.contextvars.get_contextvars() == {}
    lines = {line["event"]: line for line in json_lines(capsys)}
    # The handler's own line and the access line both carry the id; nothing after them does.
    assert lines["handled"]["request_id"] == "req-42"
    assert lines["request"]["request_id"] == "req-42"
    assert lines["request"]["status"] == 204
    get_logger("tests.after").info("later")
    assert "request_id" not in json_lines(capsys)[0]


def test_the_access_line_records_status_even_when_the_app_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from runtime.logging import configure_logging

    configure_logging(level="INFO", json=True)

    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        run(RequestContextMiddleware(failing), [])
    lines = json_lines(capsys)
    access = [line for line in lines if line.get("event") == "request"]
    assert access and access[-1]["status"] == 500 and access[-1]["path"] == "/x"


def _redirecting(location: bytes, status: int = 307) -> ASGIApp:
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"location", location)]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    return inner


def _edge(inner: ASGIApp) -> RequestContextMiddleware:
    return RequestContextMiddleware(
        inner,
        security_headers={"hsts": False},
        relative_redirects=True,
        traffic_metrics=True,
        scrape_path="/metrics",
    )


def _requests_counted(status: str) -> float:
    sample = REGISTRY.get_sample_value(
        "http_requests_total", {"operation": "unknown", "method": "GET", "status": status}
    )
    return sample or 0.0


def test_one_edge_layer_adds_headers_relative_redirects_ids_and_counts() -> None:
    before = _requests_counted("307")
    sent = run(_edge(_redirecting(b"https://evil.example/x?a=1")), [(b"x-request-id", b"r-1")])
    headers = dict(sent[0]["headers"])
    assert headers[b"location"] == b"/x?a=1"
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert headers[b"content-security-policy"] == API_CSP.encode()
    assert headers[b"x-request-id"] == b"r-1"
    assert _requests_counted("307") == before + 1


def test_a_location_on_a_non_redirect_is_left_alone() -> None:
    absolute = b"http://api.example/api/v1/projects/1"
    sent = run(_edge(_redirecting(absolute, status=201)), [])
    assert dict(sent[0]["headers"])[b"location"] == absolute


def test_the_scrape_path_gets_its_request_id_only() -> None:
    before = _requests_counted("307")
    app = _edge(_redirecting(b"https://evil.example/x"))
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "GET", "path": "/metrics", "headers": []}
    asyncio.run(app(scope, receive, send))
    headers = dict(sent[0]["headers"])
    assert headers[b"location"] == b"https://evil.example/x"
    assert b"x-content-type-options" not in headers
    assert b"x-request-id" in headers
    assert _requests_counted("307") == before
