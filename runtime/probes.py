"""``/livez`` and ``/readyz`` answered on the event loop, and the drain after SIGTERM.

WHY not Flask handlers: a probe that waits for a handler thread waits behind the API, so a
hung dependency made ``/livez`` slower than the orchestrator's timeout and healthy processes
were restarted. Liveness touches nothing; readiness runs each check on a small thread pool of
its own with a short timeout, so neither ever waits for the API or hangs."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import os
import threading
from collections.abc import Callable, Mapping

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime import deadline as deadlines
from runtime.edges import send_problem
from runtime.errors import ServiceUnavailable
from runtime.logging import get_logger

log = get_logger("runtime.probes")

Check = Callable[[], object]


class Drain:
    """Per process: set when SIGTERM arrives; readiness turns 503 and connections close."""

    def __init__(self) -> None:
        self._event = threading.Event()

    @property
    def draining(self) -> bool:
        return self._event.is_set()

    def begin(self) -> None:
        self._event.set()

    def reset(self) -> None:
        self._event.clear()


DRAIN = Drain()

_LIVE_BODY = orjson.dumps({"status": "ok"})
_CLOSE = (b"connection", b"close")


class ProbeMiddleware:
    """Answers ``{base}/livez`` and ``{base}/readyz`` before anything else can make them wait;
    while draining, readiness is 503 and every response says ``Connection: close``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        base_path: str,
        checks: Mapping[str, Check | None],
        check_timeout_s: float = 1.0,
        drain: Drain = DRAIN,
        operation_ids: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self.operation_ids = dict(operation_ids or {})
        self.live_path = f"{base_path}/livez"
        self.ready_path = f"{base_path}/readyz"
        self.checks = dict(checks)
        self.check_timeout_s = check_timeout_s
        self.drain = drain
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pid = 0
        self._running: dict[str, concurrent.futures.Future[object]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path"), scope.get("method")
        if method in ("GET", "HEAD") and path in (self.live_path, self.ready_path):
            # WHY: answered before Connexion routes, so name the operation as the router would:
            # metrics and the access log label probes by their operationId, like the rest.
            operation = self.operation_ids.get("live" if path == self.live_path else "ready")
            if operation:
                routing = scope.setdefault("extensions", {}).setdefault("connexion_routing", {})
                routing["operation_id"] = operation
        if method in ("GET", "HEAD") and path == self.live_path:
            await self._respond(send, 200, _LIVE_BODY)
        elif method in ("GET", "HEAD") and path == self.ready_path:
            await self._ready(scope, send)
        elif self.drain.draining:
            await self.app(scope, receive, _closing(send))
        else:
            await self.app(scope, receive, send)

    async def _respond(self, send: Send, status: int, body: bytes) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        if self.drain.draining:
            headers.append(_CLOSE)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _ready(self, scope: Scope, send: Send) -> None:
        if self.drain.draining:
            problem = ServiceUnavailable("Not ready: the process is shutting down.", retry_after=5)
            await send_problem(scope, _closing(send), problem)
            return
        names = [name for name, check in self.checks.items() if check is not None]
        outcomes = await asyncio.gather(*(self._run(name) for name in names))
        failed = [name for name, ok in zip(names, outcomes, strict=True) if not ok]
        if failed:
            problem = ServiceUnavailable(f"Not ready: {', '.join(failed)} unavailable.")
            await send_problem(scope, send, problem)
            return
        results = {name: "ok" if name in names else "skipped" for name in self.checks}
        await self._respond(send, 200, orjson.dumps({"status": "ok", "checks": results}))

    async def _run(self, name: str) -> bool:
        running = self._running.get(name)
        if running is not None and not running.done():
            # WHY: the previous check is still stuck on this dependency: it is not ready, and
            # a second thread waiting on the same frozen peer would tell nothing new.
            return False
        check = self.checks[name]
        assert check is not None
        future = self._executor().submit(contextvars.Context().run, self._bounded, check)
        self._running[name] = future
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), self.check_timeout_s)
        except Exception as exc:
            log.warning("readiness_check_failed", dependency=name, error=type(exc).__name__)
            return False
        return True

    def _bounded(self, check: Check) -> object:
        with deadlines.bounded(self.check_timeout_s):
            return check()

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._pool is None or self._pid != os.getpid():
            # WHY: a fork keeps the executor object but not its threads.
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=max(1, len(self.checks)), thread_name_prefix="probe"
            )
            self._pid, self._running = os.getpid(), {}
        return self._pool


def _closing(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"connection"]
            message["headers"] = [*headers, _CLOSE]
        await send(message)

    return wrapped
