"""Rate limits on the real Redis: counts shared between workers, and a Redis outage."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import redis
import redis.asyncio.connection
from starlette.types import Message, Receive, Scope, Send

from runtime.errors import PROBLEM_JSON
from runtime.ratelimit import RateLimitMiddleware
from tests.policies import policies_from_spec

pytestmark = pytest.mark.redis

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"
SPEC = {
    "paths": {
        "/login": {
            "post": {
                "operationId": "login",
                "x-rate-limit": {"limit": "3/minute", "key": "ip", "fail": "closed"},
            }
        },
        "/projects": {
            "get": {"operationId": "list_projects", "x-rate-limit": {"limit": "3/minute"}}
        },
    }
}


@pytest.fixture
def rate_limit_redis(clean_redis: str) -> str:
    """This run's own test database (TEST_REDIS_URL), empty before and after; fails in CI when
    Redis is down. WHY not a fixed database: other runs on the same server flush theirs."""
    return clean_redis


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def call(app: RateLimitMiddleware, operation: str) -> tuple[int, dict[str, str], bytes]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": f"/api/v1/{operation}",
        "headers": [],
        "client": ("10.1.2.3", 40000),
        "extensions": {"connexion_routing": {"operation_id": operation}},
    }
    await app(scope, receive, send)
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


def worker(storage_url: str) -> RateLimitMiddleware:
    return RateLimitMiddleware(
        ok, policies=policies_from_spec(SPEC), storage_url=storage_url, namespace="rl-test"
    )


def test_two_workers_share_one_count_in_redis(rate_limit_redis: str) -> None:
    first, second = worker(rate_limit_redis), worker(rate_limit_redis)

    async def scenario() -> list[tuple[int, dict[str, str], bytes]]:
        try:
            return [await call(app, "login") for app in (first, second, first, second)]
        finally:
            await first.aclose()
            await second.aclose()

    replies = asyncio.run(scenario())
    assert [status for status, _, _ in replies] == [200, 200, 200, 429]
    assert replies[2][1]["ratelimit"].startswith("limit=3, remaining=0, reset=")
    assert int(replies[3][1]["retry-after"]) >= 1
    keys = redis.Redis.from_url(rate_limit_redis).keys("*rl-test/login/ip:10.1.2.3*")
    assert keys, "the count lives in Redis under the namespace, operation and caller"


def test_an_unreachable_redis_fails_open_or_closed_as_the_policy_says_never_500(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A refused connection; tests/unit/runtime/test_ratelimit_storage.py has the hung peer.
    attempts: list[str] = []
    connect = redis.asyncio.connection.Connection._connect

    async def counted(self: redis.asyncio.connection.Connection) -> None:
        attempts.append(f"{self.host}:{self.port}")
        await connect(self)

    monkeypatch.setattr(redis.asyncio.connection.Connection, "_connect", counted)
    app = worker(CLOSED_PORT_REDIS)

    async def scenario() -> list[tuple[int, dict[str, str], bytes]]:
        try:
            return [
                await call(app, "list_projects"),
                await call(app, "login"),
                await call(app, "list_projects"),
            ]
        finally:
            await app.aclose()

    (open_status, open_headers, _), (closed_status, closed_headers, body), (again, _, _) = (
        asyncio.run(scenario())
    )
    # WHY count, not time: "fast" means one refused attempt, no retry, and the store skipped
    # for the next two requests, which a clock on a loaded machine cannot tell reliably.
    assert attempts == ["127.0.0.1:1"]
    assert (open_status, again) == (200, 200)
    assert "ratelimit" not in open_headers
    assert closed_status == 503
    assert closed_headers["content-type"] == PROBLEM_JSON
    assert int(closed_headers["retry-after"]) >= 1
    assert orjson.loads(body)["status"] == 503
