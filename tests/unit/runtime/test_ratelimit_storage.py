"""The rate limiter's store: counts in a real Redis, and a Redis that accepts connections but
never answers (timeouts, fail open or closed, the cool-down), plus the ASGI edges."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from starlette.types import Message, Receive, Scope, Send

from runtime.errors import PROBLEM_JSON, TYPE_BASE
from runtime.ratelimit import RateLimitMiddleware
from tests.policies import policies_from_spec

SPEC = {
    "paths": {
        "/login": {
            "post": {
                "operationId": "login",
                "x-rate-limit": [
                    {"limit": "3/minute", "key": "ip", "fail": "closed"},
                    {"limit": "3/minute", "key": "ip"},
                ],
            }
        },
        "/projects": {
            "get": {"operationId": "list_projects", "x-rate-limit": {"limit": "3/minute"}}
        },
    }
}


class SilentPeer:
    """A TCP server that accepts connections and never sends a byte: a hung Redis."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def connections(self, at_least: int, timeout_s: float = 5.0) -> int:
        """The number accepted, once ``at_least`` arrived or the deadline passed."""
        deadline = threading.Event()
        timer = threading.Timer(timeout_s, deadline.set)
        timer.start()
        while len(self.accepted) < at_least and not deadline.wait(0.01):
            pass
        timer.cancel()
        return len(self.accepted)

    def close(self) -> None:
        self.server.close()
        for connection in self.accepted:
            connection.close()
        self._thread.join(timeout=5)


@pytest.fixture
def silent_peer() -> Iterator[SilentPeer]:
    peer = SilentPeer()
    yield peer
    peer.close()


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    message = await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": message.get("body", b"")})


async def call(
    app: RateLimitMiddleware, operation: str, ip: str = "10.1.2.3"
) -> tuple[int, dict[str, str], bytes]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"payload"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": f"/api/v1/{operation}",
        "headers": [],
        "client": (ip, 40000),
        "extensions": {"connexion_routing": {"operation_id": operation}},
    }
    await app(scope, receive, send)
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


def limiter(storage_url: str | None) -> RateLimitMiddleware:
    return RateLimitMiddleware(
        ok, policies=policies_from_spec(SPEC), storage_url=storage_url, namespace="rl-unit"
    )


def run(
    app: RateLimitMiddleware, *calls: tuple[str, str]
) -> list[tuple[int, dict[str, str], bytes]]:
    async def scenario() -> list[tuple[int, dict[str, str], bytes]]:
        try:
            return [await call(app, operation, ip) for operation, ip in calls]
        finally:
            await app.aclose()

    return asyncio.run(scenario())


def test_a_hung_store_is_timed_out_then_skipped_for_the_cool_down(
    silent_peer: SilentPeer, capsys: pytest.CaptureFixture[str]
) -> None:
    from runtime.logging import configure_logging

    configure_logging(level="INFO", json=True)
    app = limiter(f"redis://127.0.0.1:{silent_peer.port}/0")
    (open_status, open_headers, echoed), (closed_status, closed_headers, body), (again, _, _) = run(
        app, ("list_projects", "10.1.2.3"), ("login", "10.1.2.3"), ("list_projects", "10.9.9.9")
    )
    # Fail open: the request went through, whole, without rate-limit headers.
    assert (open_status, echoed, again) == (200, b"payload", 200)
    assert not {"ratelimit", "ratelimit-policy"} & open_headers.keys()
    # Fail closed: a 503 problem saying when to retry, never a 500.
    assert closed_status == 503
    assert closed_headers["content-type"] == PROBLEM_JSON
    assert closed_headers["retry-after"] == "2"
    assert json.loads(body) == {
        "type": TYPE_BASE + "service-unavailable",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "The rate limiter is unavailable; retry later.",
        "instance": "/api/v1/login",
    }
    # One connection, timed out once, and then the store was left alone during the cool-down:
    # no retry and no new connection for the next two requests.
    assert silent_peer.connections(at_least=2, timeout_s=0.5) == 1
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    warnings = [line for line in lines if line["event"] == "rate_limit_storage_unavailable"]
    assert len(warnings) == 1
    assert warnings[0]["level"] == "warning" and warnings[0]["retry_in_s"] == 2.0
    assert warnings[0]["logger"] == "runtime.ratelimit"
    # WHY: the socket timeout (limits wraps its error) fires before the outer bound would.
    assert warnings[0]["error"] == "StorageError"
    assert isinstance(warnings[0]["detail"], str) and warnings[0]["detail"] != "None"


def test_after_the_cool_down_the_store_is_tried_again(
    silent_peer: SilentPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import runtime.ratelimit

    monkeypatch.setattr(runtime.ratelimit, "STORAGE_COOL_DOWN_S", 0.0)
    app = limiter(f"redis://127.0.0.1:{silent_peer.port}/0")
    replies = run(app, ("list_projects", "10.1.2.3"), ("list_projects", "10.1.2.3"))
    assert [status for status, _, _ in replies] == [200, 200]
    assert silent_peer.connections(at_least=2) == 2


def test_counts_live_in_redis_per_policy_operation_and_caller(clean_redis: str) -> None:
    first, second = limiter(clean_redis), limiter(clean_redis)
    replies = run(first, ("login", "10.1.2.3"), ("login", "10.1.2.3"))
    replies += run(second, ("login", "10.1.2.3"), ("login", "10.1.2.3"), ("login", "10.7.7.7"))
    assert [status for status, _, _ in replies] == [200, 200, 200, 429, 200]
    assert replies[2][1]["ratelimit"].startswith("limit=3, remaining=0, reset=")
    assert replies[3][1]["retry-after"] == replies[3][1]["retry-after"].strip()
    assert 1 <= int(replies[3][1]["retry-after"]) <= 60
    keys = {k.decode() for k in redis.Redis.from_url(clean_redis).keys("*rl-unit*")}
    assert any("rl-unit/login/ip:10.1.2.3/" in key for key in keys)
    # The second policy of the operation has a counter of its own, under its index.
    assert any("rl-unit/login#1/ip:10.1.2.3/" in key for key in keys)
    assert not any("login#0" in key for key in keys)


@pytest.mark.usefixtures("mid_window_clock")
def test_memory_counts_survive_between_requests_of_one_middleware() -> None:
    app = limiter(None)
    replies = run(app, *[("list_projects", "10.1.2.3")] * 4)
    assert [status for status, _, _ in replies] == [200, 200, 200, 429]


def test_lifespan_and_other_scopes_pass_through_and_shutdown_closes_the_store(
    clean_redis: str,
) -> None:
    seen: list[tuple[str, Any]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await ok(scope, receive, send)
        elif scope["type"] == "lifespan":
            seen.append(("lifespan", (await receive())["type"]))
        else:
            seen.append((scope["type"], scope.get("path")))

    middleware = RateLimitMiddleware(
        app, policies=policies_from_spec(SPEC), storage_url=clean_redis
    )

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        assert (await call(middleware, "list_projects"))[0] == 200
        assert loop in middleware._redis

        async def startup() -> Message:
            return {"type": "lifespan.startup"}

        async def shutdown() -> Message:
            return {"type": "lifespan.shutdown"}

        async def nothing(message: Message) -> None:
            pass

        await middleware({"type": "websocket", "path": "/ws"}, shutdown, nothing)
        await middleware({"type": "lifespan"}, startup, nothing)
        assert loop in middleware._redis
        await middleware({"type": "lifespan"}, shutdown, nothing)
        assert loop not in middleware._redis

    asyncio.run(scenario())
    assert seen == [
        ("websocket", "/ws"),
        ("lifespan", "lifespan.startup"),
        ("lifespan", "lifespan.shutdown"),
    ]
