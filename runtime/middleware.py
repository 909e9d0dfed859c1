"""Pure ASGI middleware that must also see error responses: the edge (request id, access log,
security headers, relative redirects, traffic metrics) and the path check."""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.edges import SecurityHeadersMiddleware, relative_locations
from runtime.errors import MalformedRequest
from runtime.logging import get_logger
from runtime.metrics import TrafficMeter
from runtime.tracing import caller_id

_WELL_FORMED_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")

access_log = get_logger("runtime.access")


def accept_request_id(value: str | None) -> str:
    """The caller's id when it is safe to log and echo, otherwise a new one."""
    if value and _WELL_FORMED_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class RequestContextMiddleware:
    """The runtime's edge, in one layer: gives each request an id, binds it to every log line,
    echoes it, and logs the access; with ``security_headers``, ``relative_redirects`` and
    ``traffic_metrics`` it also adds the security headers, makes redirects relative and counts
    the traffic (each as the middleware of that name in ``runtime.edges`` and
    ``runtime.metrics`` would, in that order, error responses included).

    The scrape path (``scrape_path``, answered further in) gets the request id and its access
    line only. Successful requests of ``quiet_operations`` (probes, scrapes) are logged with
    probability ``quiet_sample``; their failures always are.
    WHY one layer: each pure-ASGI layer costs a coroutine and a send wrapper per request, and
    these share their position (outside the exception middleware) and their order.
    WHY pure ASGI rather than BaseHTTPMiddleware, which buffers bodies and breaks contextvars."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Mapping[str, str] | None = None,
        quiet_operations: Iterable[str] = (),
        quiet_sample: float = 1.0,
        security_headers: Mapping[str, Any] | None = None,
        relative_redirects: bool = False,
        traffic_metrics: bool = False,
        scrape_path: str | None = None,
    ) -> None:
        self.app = app
        self.routes = routes or {}
        self.quiet = frozenset(quiet_operations)
        self.quiet_sample = quiet_sample
        self.headers = (
            SecurityHeadersMiddleware(app, **security_headers)
            if security_headers is not None
            else None
        )
        self.relative_redirects = relative_redirects
        self.traffic_metrics = traffic_metrics
        self.scrape_path = scrape_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accept_request_id(_header(scope, b"x-request-id"))
        scope.setdefault("state", {})["request_id"] = request_id
        # WHY: Connexion's router and security write into a shallow copy of the scope; only an
        # "extensions" dict that exists before the copy is shared back with this middleware.
        scope.setdefault("extensions", {})
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        sent_bytes = 0
        path = scope.get("path", "")
        edge = path != self.scrape_path
        headers = self.headers if edge else None
        # WHY: a docs page is held back to hash its inline scripts; that middleware does it.
        docs = headers is not None and headers.is_docs(path)
        redirects = edge and self.relative_redirects
        meter = TrafficMeter() if edge and self.traffic_metrics else None
        echoed = request_id.encode()

        async def send_at_edge(message: Message) -> None:
            nonlocal status, sent_bytes
            if message["type"] == "http.response.body":
                sent_bytes += len(message.get("body", b""))
            elif message["type"] == "http.response.start":
                status = message["status"]
                sent = message.get("headers", ())
                if headers is not None and not docs:
                    sent = headers.with_headers(sent)
                if redirects and 300 <= status < 400:
                    sent = relative_locations(sent)
                message["headers"] = [
                    *((k, v) for k, v in sent if k.lower() != b"x-request-id"),
                    (b"x-request-id", echoed),
                ]
            if meter is not None:
                meter.sent(message)
            await send(message)

        try:
            await (headers if docs and headers is not None else self.app)(
                scope, receive, send_at_edge
            )
        finally:
            if meter is not None:
                meter.finish(scope)
            operation = scope["extensions"].get("connexion_routing", {}).get("operation_id")
            # WHY: read from the shared extensions, not the log context: the deadline runs the
            # inner app in a task of its own, whose context bindings never come back out here.
            user = caller_id(scope["extensions"])
            if status >= 400 or operation not in self.quiet or self._sampled():
                access_log.info(
                    "request",
                    method=scope.get("method"),
                    path=path,
                    # WHY status right after path: tests/contract counts lines by that text.
                    status=status,
                    route=self.routes.get(operation) if operation else None,
                    operation=operation or "unknown",
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    bytes=sent_bytes,
                    client=(scope.get("client") or (None,))[0],
                    **({"user_id": user} if user else {}),
                )
            structlog.contextvars.clear_contextvars()

    def _sampled(self) -> bool:
        # WHY not secrets: which probe line is kept needs no unpredictability.
        return self.quiet_sample >= 1 or random.random() < self.quiet_sample  # noqa: S311  # nosec B311


class RejectControlCharactersInPath:
    """Answers a request whose decoded path holds an ASCII control character (``%0A``, ...) with
    a 400 problem, before any router sees it.

    WHY: Starlette's mount pattern (``.*``) does not match a newline, so Connexion left such a
    request unrouted while Flask's router still dispatched it to the handler, which then ran
    without its operation context: a 500. No resource is named with control characters.
    Installed after Connexion's exception middleware, so the problem handler renders the error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _CONTROL_CHARACTER.search(scope.get("path", "")):
            raise MalformedRequest("The request path contains a control character.")
        await self.app(scope, receive, send)
