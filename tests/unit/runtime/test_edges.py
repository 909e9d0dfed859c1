from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field

import pytest
from starlette.middleware.cors import CORSMiddleware
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from runtime.edges import (
    API_CSP,
    BodySizeLimitMiddleware,
    ContentTooLarge,
    SecurityHeadersMiddleware,
    cors_options,
    docs_csp,
    relative_locations,
)
from runtime.errors import PROBLEM_JSON, TYPE_BASE
from tests.unit.runtime.asgi import Reply, drive


def call(
    app: ASGIApp,
    *,
    path: str = "/api/v1/projects",
    headers: list[tuple[bytes, bytes]] | None = None,
    chunks: tuple[bytes, ...] = (b"",),
) -> Reply:
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": headers or [],
        "state": {"request_id": "req-7"},
    }

    return drive(app, scope, chunks)


@dataclass
class Reader:
    """A tiny app that reads the whole body, then answers 200 with its length."""

    bodies: list[bytes] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


def respond(
    status: int = 200,
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"{}",
) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers or []})
        await send({"type": "http.response.body", "body": body})

    return app


def length(value: int | str) -> list[tuple[bytes, bytes]]:
    return [(b"content-length", str(value).encode())]


# Body size limit


def test_a_declared_content_length_over_the_limit_gets_413_before_the_app_runs() -> None:
    reader = Reader()
    reply = call(BodySizeLimitMiddleware(reader, max_bytes=10), headers=length(11))
    assert reply.status == 413
    assert reply.headers["content-type"] == PROBLEM_JSON
    assert reply.json()["type"] == TYPE_BASE + "content-too-large"
    assert reply.json()["request_id"] == "req-7"
    assert reader.bodies == []


def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    reader = Reader()
    reply = call(BodySizeLimitMiddleware(reader, max_bytes=10), chunks=(b"12345", b"67890"))
    assert (reply.status, reader.bodies) == (200, [b"1234567890"])


def test_a_streamed_body_growing_past_the_limit_gets_413() -> None:
    reply = call(BodySizeLimitMiddleware(Reader(), max_bytes=10), chunks=(b"123456", b"789012"))
    assert reply.status == 413
    assert reply.json()["detail"] == "The request body exceeds 10 bytes."


def test_a_streamed_overflow_is_a_413_even_when_the_app_swallows_the_error() -> None:
    async def swallowing(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            while (await receive()).get("more_body"):
                pass
        except ContentTooLarge:
            await send({"type": "http.response.start", "status": 500, "headers": []})
            await send({"type": "http.response.body", "body": b"oops"})
            return

    reply = call(BodySizeLimitMiddleware(swallowing, max_bytes=4), chunks=(b"abc", b"def"))
    assert reply.status == 413
    assert b"oops" not in reply.body


CHUNKED = [(b"transfer-encoding", b"chunked")]


@dataclass
class Seen:
    """An app that records the headers it was given, then reads the body like Reader."""

    headers: list[dict[bytes, bytes]] = field(default_factory=list)
    reader: Reader = field(default_factory=Reader)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.headers.append(dict(scope["headers"]))
        await self.reader(scope, receive, send)


def test_a_chunked_body_reaches_the_app_whole_with_its_length_declared() -> None:
    seen = Seen()
    reply = call(
        BodySizeLimitMiddleware(seen, max_bytes=10), headers=CHUNKED, chunks=(b"123", b"45")
    )
    assert (reply.status, seen.reader.bodies) == (200, [b"12345"])
    assert seen.headers[0][b"content-length"] == b"5"
    assert b"transfer-encoding" not in seen.headers[0]


def test_a_chunked_body_past_the_limit_gets_413_before_the_app_runs() -> None:
    seen = Seen()
    reply = call(
        BodySizeLimitMiddleware(seen, max_bytes=4), headers=CHUNKED, chunks=(b"abc", b"def")
    )
    assert reply.status == 413
    assert reply.json()["detail"] == "The request body exceeds 4 bytes."
    assert seen.headers == []


@pytest.mark.parametrize("value", ["abc", "-1", "1e3", ""])
def test_a_malformed_content_length_is_a_400(value: str) -> None:
    reply = call(BodySizeLimitMiddleware(Reader(), max_bytes=10), headers=length(value))
    assert reply.status == 400
    assert reply.headers["content-type"] == PROBLEM_JSON


def test_conflicting_content_lengths_are_a_400() -> None:
    reply = call(BodySizeLimitMiddleware(Reader(), max_bytes=10), headers=length(1) + length(2))
    assert reply.status == 400


# Security headers


def test_api_responses_get_the_security_headers_and_the_restrictive_csp() -> None:
    reply = call(SecurityHeadersMiddleware(respond(), hsts=False))
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["content-security-policy"] == API_CSP
    assert "strict-transport-security" not in reply.headers


def test_error_responses_get_the_security_headers_too() -> None:
    problem = respond(404, [(b"content-type", PROBLEM_JSON.encode())])
    reply = call(SecurityHeadersMiddleware(problem, hsts=True))
    assert reply.status == 404
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["content-security-policy"] == API_CSP


def test_hsts_is_sent_only_when_enabled() -> None:
    reply = call(SecurityHeadersMiddleware(respond(), hsts=True))
    assert reply.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"


def test_a_cache_control_the_app_set_is_kept() -> None:
    app = respond(headers=[(b"cache-control", b"max-age=60")])
    reply = call(SecurityHeadersMiddleware(app, hsts=False))
    assert reply.headers["cache-control"] == "max-age=60"


SWAGGER_PAGE = (
    b'<html><head><style>body{margin:0}</style></head><body><div id="swagger-ui"></div>'
    b'<script src="./swagger-ui-bundle.js" charset="UTF-8"> </script>\n'
    b'<script>\n window.onload = function() { SwaggerUIBundle({url: "/api/v1/openapi.json"}) };'
    b"\n</script></body></html>"
)


def sha256(script: bytes) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"


def test_the_docs_page_may_run_its_own_inline_script_and_nothing_else() -> None:
    inline = b'\n window.onload = function() { SwaggerUIBundle({url: "/api/v1/openapi.json"}) };\n'
    page = respond(headers=[(b"content-type", b"text/html; charset=utf-8")], body=SWAGGER_PAGE)
    app = SecurityHeadersMiddleware(page, hsts=False, docs_prefix="/api/v1/ui")
    reply = call(app, path="/api/v1/ui/")
    csp = reply.headers["content-security-policy"]
    assert f"script-src 'self' {sha256(inline)};" in csp
    assert "unsafe-eval" not in csp and "script-src 'self' 'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert reply.body == SWAGGER_PAGE
    assert reply.headers["x-content-type-options"] == "nosniff"


def test_the_docs_csp_applies_only_under_the_docs_prefix() -> None:
    page = respond(headers=[(b"content-type", b"text/html")], body=SWAGGER_PAGE)
    app = SecurityHeadersMiddleware(page, hsts=False, docs_prefix="/api/v1/ui/")
    css = SecurityHeadersMiddleware(
        respond(headers=[(b"content-type", b"text/css")]), hsts=False, docs_prefix="/api/v1/ui"
    )
    assert call(css, path="/api/v1/ui/swagger-ui.css").headers["content-security-policy"] == (
        docs_csp()
    )
    assert (
        call(app, path="/api/v1/ui")
        .headers["content-security-policy"]
        .startswith("default-src 'self'")
    )
    for path in ("/api/v1/projects", "/api/v1/uix"):
        assert call(app, path=path).headers["content-security-policy"] == API_CSP


def test_the_bundled_swagger_ui_page_is_covered_by_the_docs_csp() -> None:
    from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

    template = (swagger_ui_path / "index.j2").read_bytes()
    csp = docs_csp(template)
    assert csp.count("'sha256-") == 1, "the bundled page has one inline script"


# CORS


def failing_app() -> ASGIApp:
    """Stands in for Connexion's exception middleware: an error rendered as a problem."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-type", PROBLEM_JSON.encode())]
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"status": 404}'})

    return app


METHODS = ["GET", "HEAD", "PATCH", "POST"]


@pytest.fixture
def cors_client() -> TestClient:
    app = CORSMiddleware(failing_app(), **cors_options(["https://app.example"], methods=METHODS))
    return TestClient(app)


def test_an_allowed_origin_gets_cors_headers_on_an_error_response(cors_client: TestClient) -> None:
    reply = cors_client.get("/api/v1/nope", headers={"Origin": "https://app.example"})
    assert reply.status_code == 404
    assert reply.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-credentials" not in reply.headers
    exposed = {h.strip().lower() for h in reply.headers["access-control-expose-headers"].split(",")}
    assert {"ratelimit", "ratelimit-policy", "retry-after", "x-request-id", "etag"} <= exposed


def test_another_origin_gets_no_cors_headers(cors_client: TestClient) -> None:
    reply = cors_client.get("/api/v1/nope", headers={"Origin": "https://evil.example"})
    assert reply.status_code == 404
    assert "access-control-allow-origin" not in reply.headers


def test_a_preflight_from_an_allowed_origin_is_answered(cors_client: TestClient) -> None:
    reply = cors_client.options(
        "/api/v1/projects",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "Authorization, Idempotency-Key, If-Match",
        },
    )
    assert reply.status_code == 200
    assert reply.headers["access-control-allow-origin"] == "https://app.example"
    assert "PATCH" in reply.headers["access-control-allow-methods"]
    assert "idempotency-key" in reply.headers["access-control-allow-headers"].lower()


def test_a_preflight_from_another_origin_is_refused(cors_client: TestClient) -> None:
    reply = cors_client.options(
        "/api/v1/projects",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert reply.status_code == 400
    assert "access-control-allow-origin" not in reply.headers


def test_cors_methods_are_the_registry_s_else_the_common_ones() -> None:
    assert cors_options([], methods=METHODS)["allow_methods"] == METHODS
    assert cors_options([])["allow_methods"] == ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


@pytest.mark.parametrize("origin", ["*", "https://app.example/", "app.example", "ftp://x.example"])
def test_a_configured_origin_must_be_an_exact_origin(origin: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        cors_options([origin])


def test_behind_connexion_errors_and_the_swagger_ui_page_get_headers_and_cors() -> None:
    import connexion
    from connexion.middleware import MiddlewarePosition

    spec = {
        "openapi": "3.0.3",
        "info": {"title": "edges", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "paths": {},
    }
    app = connexion.FlaskApp(__name__)
    app.add_middleware(
        SecurityHeadersMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        hsts=True,
        docs_prefix="/api/v1/ui",
    )
    app.add_middleware(
        CORSMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        **cors_options(["https://app.example"], methods=[]),
    )
    app.add_api(spec)
    with app.test_client() as client:
        missing = client.get("/api/v1/nope", headers={"Origin": "https://app.example"})
        assert missing.status_code == 404
        assert missing.headers["access-control-allow-origin"] == "https://app.example"
        assert missing.headers["content-security-policy"] == API_CSP
        assert missing.headers["strict-transport-security"].startswith("max-age=63072000")
        page = client.get("/api/v1/ui/")
    assert page.status_code == 200
    inline = re.findall(rb"<script>(.*?)</script>", page.content, re.S)
    assert len(inline) == 1
    assert sha256(inline[0]) in page.headers["content-security-policy"]


# Redirects


@pytest.mark.parametrize(
    ("location", "relative"),
    [
        (b"http://evil.example/api/v1/projects", b"/api/v1/projects"),
        (b"https://evil.example//evil.example/x?a=1", b"/evil.example/x?a=1"),
        (b"//evil.example/x", b"/x"),
        (b"/api/v1/projects?limit=5", b"/api/v1/projects?limit=5"),
        (b"next", b"next"),
    ],
)
def test_a_redirect_never_leaves_the_origin_it_was_asked_on(
    location: bytes, relative: bytes
) -> None:
    assert relative_locations([(b"location", location), (b"x-a", b"b")]) == [
        (b"location", relative),
        (b"x-a", b"b"),
    ]
