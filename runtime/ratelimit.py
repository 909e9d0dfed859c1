"""Per-caller, per-operation rate limits declared in the spec by ``x-rate-limit``.

Codegen checks the extension and emits it in the generated ``POLICIES`` table, which is what
this module reads. An operation opts in with::

    x-rate-limit:
      limit: "10/minute"      # limits' notation; several with ";" ("10/minute;100/hour")
      key: body:email         # ip | caller | body:<field>
      fail: closed            # open (default) | closed: what to do when the store is down

A document-level ``x-rate-limit`` is the default for every operation, and ``x-rate-limit: false``
exempts one. Responses carry the draft-ietf-httpapi-ratelimit-headers-07 fields::

    RateLimit-Policy: 10;w=60
    RateLimit: limit=10, remaining=3, reset=42
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import parse_qs

import orjson
import redis.asyncio
import redis.exceptions
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.edges import send_problem
from runtime.errors import Problem, problem_for_status
from runtime.logging import get_logger
from runtime.metrics import RATE_LIMITED
from runtime.redis_client import keepalive_options

__all__ = ["Policy", "RateLimitMiddleware", "rate_limit_policies"]

KeyKind = Literal["ip", "caller", "body"]

# WHY: the body is read before the app only to find the key field; a bound keeps a large
# upload from being buffered here (the body size limit runs earlier, this is the backstop).
MAX_KEY_BODY_BYTES = 64 * 1024
STORAGE_TIMEOUT_S = 0.25
STORAGE_COOL_DOWN_S = 2.0

log = get_logger("runtime.ratelimit")


@dataclass(frozen=True, slots=True)
class Policy:
    """The limits of one operation and what identifies a caller for them."""

    limits: tuple[RateLimitItem, ...]
    key: KeyKind = "ip"
    body_field: str | None = None
    fail_open: bool = True

    @property
    def header(self) -> str:
        """The ``RateLimit-Policy`` field value, e.g. ``10;w=60, 100;w=3600``."""
        return ", ".join(f"{item.amount};w={item.get_expiry()}" for item in self.limits)


def rate_limit_policies(
    policies: Mapping[str, Mapping[str, Any]],
) -> dict[str, tuple[Policy, ...]]:
    """The rate limits of the generated ``POLICIES`` table, by operationId.

    WHY: codegen owns the ``x-rate-limit`` grammar, checks it and resolves the document-level
    default and ``false``; here its already-valid output only becomes counters."""
    return {
        operation_id: tuple(_policy(limit) for limit in policy["rate_limits"])
        for operation_id, policy in policies.items()
        if policy.get("rate_limits")
    }


def _policy(generated: Mapping[str, Any]) -> Policy:
    key = str(generated["key"])
    field = key.removeprefix("body:").strip() if key.startswith("body:") else None
    return Policy(
        limits=tuple(parse(limit) for limit in generated["limits"]),
        key="body" if field else cast(KeyKind, key),
        body_field=field,
        fail_open=generated["fail"] == "open",
    )


@dataclass(frozen=True, slots=True)
class _Outcome:
    allowed: bool
    headers: list[tuple[bytes, bytes]]
    retry_after: int


class RateLimitMiddleware:
    """Enforces the spec's rate limits per operation and caller, before request validation.

    Installed at ``MiddlewarePosition.BEFORE_VALIDATION``: after routing (the operationId) and
    security (the caller's subject). Counts live in Redis when ``storage_url`` is given, shared
    by every worker and instance; otherwise in this process's memory (development only)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        policies: Mapping[str, Policy | tuple[Policy, ...]],
        storage_url: str | None,
        namespace: str = "rl",
    ) -> None:
        if storage_url is not None and not storage_url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError(
                f"Rate limit storage URL scheme {storage_url.partition(':')[0]!r} is not "
                "supported; give a redis://, rediss:// or unix:// URL, or None to count in memory."
            )
        self.app = app
        self.policies = {
            op: (p,) if isinstance(p, Policy) else tuple(p) for op, p in policies.items()
        }
        self.namespace = namespace
        self._storage_url = storage_url
        self._memory: SlidingWindowCounterRateLimiter | None = None
        # WHY: redis.asyncio connections belong to the event loop that opened them; a worker
        # has one loop, but test clients may run each request on a fresh one.
        self._redis: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop,
            tuple[SlidingWindowCounterRateLimiter, redis.asyncio.ConnectionPool],
        ] = weakref.WeakKeyDictionary()
        self._down_until = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._closing_on_shutdown(receive), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        operation_id = scope.get("extensions", {}).get("connexion_routing", {}).get("operation_id")
        policies = self.policies.get(operation_id) if operation_id else None
        if not policies:
            await self.app(scope, receive, send)
            return
        callers = []
        for policy in policies:
            caller, receive = await _identify(policy, scope, receive)
            callers.append(caller)
        try:
            outcome = await self._hit_all(policies, str(operation_id), callers)
        except (StorageError, redis.exceptions.RedisError, OSError) as exc:
            self._mark_down(exc)
            outcome = None
        if outcome is None:
            # WHY: fail open by default: a Redis outage must not take the API down with it.
            # A policy may say `fail: closed` (login, register), where unlimited guessing is
            # worse than a short outage: a 503 the client may retry, never a 500.
            if all(policy.fail_open for policy in policies):
                await self.app(scope, receive, send)
            else:
                problem = problem_for_status(
                    503,
                    "The rate limiter is unavailable; retry later.",
                    headers={"Retry-After": str(math.ceil(STORAGE_COOL_DOWN_S))},
                )
                await send_problem(scope, send, problem)
            return
        if not outcome.allowed:
            RATE_LIMITED.labels(policy=str(operation_id)).inc()
            problem = problem_for_status(
                429,
                f"Too many requests; retry in {outcome.retry_after} s.",
                headers={
                    "Retry-After": str(outcome.retry_after),
                    **{k.decode(): v.decode() for k, v in outcome.headers},
                },
            )
            await send_problem(scope, send, problem)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _merge(message.get("headers", ()), outcome.headers)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except (Problem, HTTPException) as exc:
            # WHY: errors raised after this point (validation, handlers) are rendered by the
            # outer exception middleware, which never calls send_with_headers; the request
            # counted, so its response says so too.
            exc.headers = {
                **{k.decode(): v.decode() for k, v in outcome.headers},
                **(exc.headers or {}),
            }
            raise

    async def _hit_all(
        self, policies: tuple[Policy, ...], operation_id: str, callers: list[str]
    ) -> _Outcome | None:
        if time.monotonic() < self._down_until:
            return None
        limiter = self._limiter()
        items: list[RateLimitItem] = []
        allowed: list[bool] = []
        stats = []
        async with asyncio.timeout(STORAGE_TIMEOUT_S * 2 * len(policies)):
            for index, (policy, caller) in enumerate(zip(policies, callers, strict=True)):
                # WHY: the policy's index keeps two policies of one operation (say, both keyed
                # by address) from sharing a counter.
                key = operation_id if index == 0 else f"{operation_id}#{index}"
                identifiers = (self.namespace, key, caller)
                for item in policy.limits:
                    items.append(item)
                    allowed.append(await limiter.hit(item, *identifiers))
                    stats.append(await limiter.get_window_stats(item, *identifiers))
        now = time.time()
        resets = [max(0, math.ceil(stat.reset_time - now)) for stat in stats]
        tightest = min(range(len(stats)), key=lambda i: (stats[i].remaining, -resets[i]))
        headers = [
            (b"ratelimit-policy", ", ".join(p.header for p in policies).encode()),
            (
                b"ratelimit",
                f"limit={items[tightest].amount}, remaining={stats[tightest].remaining}, "
                f"reset={resets[tightest]}".encode(),
            ),
        ]
        denied = [resets[i] for i, ok in enumerate(allowed) if not ok]
        return _Outcome(all(allowed), headers, max(1, *denied) if denied else 0)

    def _limiter(self) -> SlidingWindowCounterRateLimiter:
        # WHY: the sliding window counter costs two small keys per caller and is smooth at window
        # edges (a fixed window lets 2x the limit through across a boundary; a moving window
        # stores every hit, heavy for generous limits).
        if self._storage_url is None:
            if self._memory is None:
                self._memory = SlidingWindowCounterRateLimiter(MemoryStorage(wrap_exceptions=True))
            return self._memory
        loop = asyncio.get_running_loop()
        cached = self._redis.get(loop)
        if cached is None:
            # WHY: short timeouts and no retries (redis-py's client retries by default): the
            # limiter is on every request's path and has a fallback, so it must fail fast.
            pool: redis.asyncio.ConnectionPool = redis.asyncio.ConnectionPool.from_url(
                self._storage_url,
                socket_timeout=STORAGE_TIMEOUT_S,
                socket_connect_timeout=STORAGE_TIMEOUT_S,
                socket_keepalive=True,
                socket_keepalive_options=keepalive_options(),
                retry=Retry(NoBackoff(), 0),
            )
            storage: Storage = RedisStorage(
                "async+redis://",
                implementation="redispy",  # limits defaults to coredis, which is not installed
                wrap_exceptions=True,
                # WHY: limits types pass-through options as scalars; a pool we own is the only
                # way to set the retry policy and to close the connections at shutdown.
                connection_pool=cast(Any, pool),
            )
            cached = (SlidingWindowCounterRateLimiter(storage), pool)
            self._redis[loop] = cached
        return cached[0]

    def _mark_down(self, exc: BaseException) -> None:
        if time.monotonic() >= self._down_until:
            log.warning(
                "rate_limit_storage_unavailable",
                error=type(exc).__name__,
                detail=str(exc)[:200],
                retry_in_s=STORAGE_COOL_DOWN_S,
            )
        # WHY: while the store is down, skip it for a moment instead of paying a connect
        # timeout on every request.
        self._down_until = time.monotonic() + STORAGE_COOL_DOWN_S

    async def aclose(self) -> None:
        """Close this event loop's Redis connections (done at lifespan shutdown)."""
        try:
            cached = self._redis.pop(asyncio.get_running_loop(), None)
        except RuntimeError:
            return
        if cached is not None:
            await cached[1].disconnect()

    def _closing_on_shutdown(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await self.aclose()
            return message

        return wrapped


def _merge(headers: Any, extra: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    merged = [(bytes(k), bytes(v)) for k, v in headers]
    present = {k.lower() for k, _ in merged}
    merged.extend((k, v) for k, v in extra if k not in present)
    return merged


def _client_ip(scope: Scope) -> str:
    # WHY: the peer address only; behind a proxy, uvicorn's --forwarded-allow-ips rewrites it
    # from X-Forwarded-For for trusted proxies. Reading that header here would let any client
    # pick its own key.
    client = scope.get("client")
    return f"ip:{client[0]}" if client else "ip:unknown"


async def _identify(policy: Policy, scope: Scope, receive: Receive) -> tuple[str, Receive]:
    """The caller's key for ``policy``, and a ``receive`` that still yields the whole body."""
    if policy.key == "caller":
        context = scope.get("extensions", {}).get("connexion_context", {})
        token_info = context.get("token_info")
        subject = context.get("user") or (
            token_info.get("sub") if isinstance(token_info, Mapping) else None
        )
        return (f"sub:{subject}" if subject else _client_ip(scope)), receive
    if policy.key == "body" and policy.body_field:
        messages, body = await _buffer(receive, MAX_KEY_BODY_BYTES)
        replay = _replaying(messages, receive)
        value = _body_field(body, policy.body_field, _content_type(scope))
        if value is None:
            return _client_ip(scope), replay
        # WHY: the value is often an email address; keys in a shared Redis hold a digest, no PII.
        digest = hashlib.sha256(value.encode()).hexdigest()[:32]
        return f"{policy.body_field}:{digest}", replay
    return _client_ip(scope), receive


async def _buffer(receive: Receive, limit: int) -> tuple[list[Message], bytes | None]:
    """The first request messages, and the body when it arrived whole within ``limit`` bytes."""
    messages: list[Message] = []
    body = bytearray()
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        body += message.get("body", b"")
        if len(body) > limit:
            return messages, None
        if not message.get("more_body", False):
            return messages, bytes(body)


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _content_type(scope: Scope) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == b"content-type":
            return bytes(value).decode("latin-1").split(";")[0].strip().lower()
    return ""


def _body_field(body: bytes | None, fields: str, content_type: str = "") -> str | None:
    """The first of the comma-separated ``fields`` present in a JSON or form body, normalised.

    WHY: forms too: the login limit per account must hold for the RFC 6749 form of the token
    request (``username=...``) as for JSON, or a client could pick the unlimited spelling."""
    if not body:
        return None
    document: Any
    if content_type == "application/x-www-form-urlencoded":
        try:
            document = {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}
        except UnicodeDecodeError:
            return None
    else:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(document, dict):
        return None
    for field in fields.split(","):
        value = document.get(field.strip())
        if isinstance(value, str) and value.strip():
            return value.strip().lower()
    return None
