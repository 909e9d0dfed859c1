"""Edge protections every response passes through: body size limit, security headers, CORS."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.errors import PROBLEM_JSON, Problem, problem_for_status

__all__ = [
    "API_CSP",
    "CORS_ALLOW_HEADERS",
    "CORS_EXPOSE_HEADERS",
    "BodySizeLimitMiddleware",
    "ContentTooLarge",
    "SecurityHeadersMiddleware",
    "cors_options",
    "docs_csp",
    "relative_locations",
    "send_problem",
]

API_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=63072000; includeSubDomains"
CORS_ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "X-Request-ID",
)
CORS_EXPOSE_HEADERS = (
    "Location",
    "Link",
    "ETag",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
    "X-Request-ID",
)
_DEFAULT_CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
_MAX_DOCS_PAGE_BYTES = 1024 * 1024
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\ssrc\s*=)[^>]*>(.*?)</script\s*>", re.S | re.I)


class ContentTooLarge(Problem):
    status = 413
    kind = "content-too-large"
    title = "Content Too Large"


def relative_locations(headers: Any) -> list[tuple[bytes, bytes]]:
    """A redirect's headers with its ``Location`` made path-absolute.

    WHY: Starlette's trailing-slash redirect (``/projects/`` → ``/projects``) builds an absolute
    URL from the ``Host`` header, so a forged host sent the client elsewhere, and a 307 makes a
    browser resend a POST body (credentials) there. A path-absolute reference cannot leave."""
    return [(k, _relative(v) if k.lower() == b"location" else v) for k, v in headers]


def _relative(location: bytes) -> bytes:
    parts = urlsplit(location.decode("latin-1"))
    if not (parts.scheme or parts.netloc):
        return location
    path = "/" + parts.path.lstrip("/")
    return (path + (f"?{parts.query}" if parts.query else "")).encode("latin-1")


class BodySizeLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` with a 413 problem, declared or streamed.

    A declared ``Content-Length`` is checked before the app runs; a chunked body is counted as
    it is read, and the read that crosses the limit raises ``ContentTooLarge``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be zero or more, not {max_bytes}.")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lengths = {
            bytes(v).strip() for k, v in scope.get("headers", ()) if k.lower() == b"content-length"
        }
        if lengths:
            declared = lengths.pop()
            if lengths or not declared.isdigit():
                await send_problem(
                    scope, send, problem_for_status(400, "The Content-Length header is invalid.")
                )
                return
            if int(declared) > self.max_bytes:
                await send_problem(scope, send, self._too_large())
                return
        elif any(k.lower() == b"transfer-encoding" for k, _ in scope.get("headers", ())):
            # WHY: Connexion's body validator takes a request without Content-Length for one
            # without a body ("RequestBody is required"). A chunked body is read here, bounded
            # like a declared one, and handed on with the length it turned out to have.
            body = await self._read_bounded(receive)
            if body is None:
                await send_problem(scope, send, self._too_large())
                return
            scope = _with_content_length(scope, len(body))
            receive = _replay(body, receive)

        received = 0
        exceeded = False
        started = False
        replaced = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise self._too_large()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise self._too_large()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                started = True
                # WHY: an app or framework may catch the error raised from receive and answer
                # 400 or 500 instead; the client sent too much, and that is what it learns.
                if exceeded and message["status"] != 413:
                    replaced = True
                    await send_problem(scope, send, self._too_large())
                    return
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except ContentTooLarge:
            if started:
                raise
            await send_problem(scope, send, self._too_large())

    def _too_large(self) -> ContentTooLarge:
        return ContentTooLarge(f"The request body exceeds {self.max_bytes} bytes.")

    async def _read_bounded(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it passes ``max_bytes``."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _with_content_length(scope: Scope, length: int) -> Scope:
    headers = [(k, v) for k, v in scope.get("headers", ()) if k.lower() != b"transfer-encoding"]
    return {**scope, "headers": [*headers, (b"content-length", str(length).encode())]}


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def send_problem(scope: Scope, send: Send, problem: Problem) -> None:
    """Answer with ``problem`` as problem+json, carrying the request id when one was assigned."""
    body = problem.to_json(
        instance=scope.get("path"), request_id=scope.get("state", {}).get("request_id")
    )
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in problem.headers.items()),
    ]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def docs_csp(page: bytes = b"") -> str:
    """The CSP of the API docs page: its own files, plus the inline scripts of ``page`` by hash.

    WHY: connexion's Swagger UI page (swagger_ui_bundle's index.j2) starts the UI from an inline
    script holding the spec URL; hashing what was served allows exactly that script and no other.
    Styles stay 'unsafe-inline': the page has an inline <style> and the UI sets style attributes."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(page)
    )
    return (
        f"default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


class SecurityHeadersMiddleware:
    """Adds security headers to every response, error responses included.

    A header the app already set is kept; HSTS is sent only when ``hsts`` (production, behind
    TLS); responses under ``docs_prefix`` get a CSP that lets the Swagger UI page run."""

    def __init__(
        self, app: ASGIApp, *, hsts: bool, csp: str = API_CSP, docs_prefix: str | None = None
    ) -> None:
        self.app = app
        self.csp = csp
        self.docs_prefix = docs_prefix.rstrip("/") if docs_prefix else None
        self.headers: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"cache-control", b"no-store"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        if hsts:
            self.headers.append((b"strict-transport-security", HSTS.encode()))

    def is_docs(self, path: str) -> bool:
        prefix = self.docs_prefix
        return prefix is not None and (path == prefix or path.startswith(prefix + "/"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.is_docs(scope.get("path", "")):
            await self.app(scope, receive, _DocsPageSender(send, self.with_headers))
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self.with_headers(message.get("headers", ()))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def with_headers(self, headers: Any, csp: str | None = None) -> list[tuple[bytes, bytes]]:
        """``headers`` plus each security header they lack (the API's CSP unless ``csp``)."""
        csp = self.csp if csp is None else csp
        merged = [(bytes(k), bytes(v)) for k, v in headers]
        present = {k.lower() for k, _ in merged}
        extra = [*self.headers, (b"content-security-policy", csp.encode())]
        merged.extend((k, v) for k, v in extra if k not in present)
        return merged


class _DocsPageSender:
    """Holds back an HTML docs page until its body is complete, to hash its inline scripts."""

    def __init__(self, send: Send, with_headers: Any) -> None:
        self.send = send
        self.with_headers = with_headers
        self.start: Message | None = None
        self.body = bytearray()

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            content_type = next(
                (bytes(v) for k, v in message.get("headers", ()) if k.lower() == b"content-type"),
                b"",
            )
            if content_type.lower().startswith(b"text/html"):
                self.start = message
                return
            message["headers"] = self.with_headers(message.get("headers", ()), docs_csp())
            await self.send(message)
            return
        if message["type"] != "http.response.body" or self.start is None:
            await self.send(message)
            return
        self.body += message.get("body", b"")
        more = message.get("more_body", False)
        if more and len(self.body) <= _MAX_DOCS_PAGE_BYTES:
            return
        # WHY: a page too large to hold is sent without script hashes: it breaks, safely.
        page = bytes(self.body) if not more else b""
        start, self.start = self.start, None
        start["headers"] = self.with_headers(start.get("headers", ()), docs_csp(page))
        await self.send(start)
        await self.send({"type": "http.response.body", "body": bytes(self.body), "more_body": more})


def _allowed_origin(origin: str) -> str:
    parts = urlsplit(origin)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.path
        or parts.query
        or parts.fragment
    ):
        raise ValueError(
            f"CORS origin {origin!r} is not an origin; write scheme://host[:port] with no path, "
            "and list each allowed origin (no '*')."
        )
    return origin


def cors_options(origins: Sequence[str], *, methods: Sequence[str] | None = None) -> dict[str, Any]:
    """Keyword arguments for Starlette's ``CORSMiddleware``: the configured origins only.

    Credentials are off: the API authenticates with bearer tokens, never cookies."""
    return {
        "allow_origins": [_allowed_origin(origin) for origin in origins],
        "allow_methods": list(methods if methods is not None else _DEFAULT_CORS_METHODS),
        "allow_headers": list(CORS_ALLOW_HEADERS),
        "allow_credentials": False,
        "expose_headers": list(CORS_EXPOSE_HEADERS),
        "max_age": 600,
    }
