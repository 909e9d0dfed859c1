"""Runs the Flask app under ASGI with one hand-off per request (or none).

Connexion's default bridge (a2wsgi) moves every request between the event loop and a thread
pool through queues, message by message; in-process that costs about as much as the rest of
Connexion together (docs/PERFORMANCE.md). This bridge reads the body first, calls Flask once, and
sends the buffered response."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import io
import os
import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar, cast

from a2wsgi.wsgi import build_environ
from starlette.types import Receive, Scope, Send

from runtime.errors import Problem

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Dispatch = Literal["inline", "thread"]


T = TypeVar("T")
_Job = tuple[
    asyncio.AbstractEventLoop, "asyncio.Future[Any]", contextvars.Context, Callable[[], Any]
]


class _Disconnected(Exception):
    pass


class Overloaded(Problem):
    """Every handler thread is busy and the queue in front of them is full."""

    status = 503
    kind = "overloaded"
    title = "Service Unavailable"

    def __init__(self) -> None:
        super().__init__("The service is overloaded; retry shortly.", headers={"Retry-After": "1"})


class HandlerThreads:
    """A fixed set of threads that each run one call at a time and hand the result back to the
    event loop, in the caller's ``contextvars`` context.

    At most ``backlog`` calls wait for a thread; one more is refused at once with
    :class:`Overloaded` (load shedding). WHY: an unbounded queue turns a slow dependency into
    every request waiting its whole deadline; a call still holds its slot while its thread is
    blocked, even after the request gave up, so blocked threads shed load too.

    WHY not ``loop.run_in_executor``: its ``concurrent.futures.Future``, chained to an asyncio
    future, costs ~70 µs of CPU per hand-off under uvloop on a 2-core VM; a queue and one
    ``call_soon_threadsafe`` cost ~30 µs. The threads start on first use in each process: a
    fork keeps the list but not the threads, so a child starts its own."""

    def __init__(self, size: int, *, name: str = "wsgi", backlog: int | None = None) -> None:
        self._size = size
        self._name = name
        self._limit = None if backlog is None else size + backlog
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False
        self._pid = 0

    async def run(self, function: Callable[[], T]) -> T:
        if self._pid != os.getpid() or self._closed:
            self._start()
        if self._limit is not None:
            with self._busy_lock:
                if self._busy >= self._limit:
                    raise Overloaded
                self._busy += 1
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, contextvars.copy_context(), function))
        return await future

    @property
    def busy(self) -> int:
        """Calls queued or running (a running call whose request gave up included)."""
        return self._busy

    def _start(self) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("The handler threads are shut down.")
            if self._pid != os.getpid():
                self._pid, self._threads, self._jobs = os.getpid(), [], queue.SimpleQueue()
                self._busy = 0
            while len(self._threads) < self._size:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        jobs = self._jobs
        while (job := jobs.get()) is not None:
            loop, future, context, function = job
            try:
                if future.cancelled():
                    continue  # WHY: the request is gone; a POST must not commit for nobody.
                try:
                    outcome: tuple[bool, Any] = (True, context.run(function))
                except BaseException as exc:  # WHY: every outcome goes back to the request
                    outcome = (False, _awaitable_error(exc))
            finally:
                if self._limit is not None:
                    with self._busy_lock:
                        self._busy -= 1
            # WHY: a loop closed while the handler ran has nobody awaiting the result.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, *outcome)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stops the threads once the calls queued before it are done, waiting up to
        ``timeout_s`` in all (uvicorn calls it after draining its connections)."""
        with self._lock:
            self._closed = True
            threads, self._threads = self._threads, []
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join(timeout_s / max(1, len(threads)))


def _awaitable_error(exc: BaseException) -> Exception:
    # WHY: a future refuses StopIteration (TypeError) and would never settle: the request would
    # hang. KeyboardInterrupt and SystemExit belong to the thread, not to the request.
    if isinstance(exc, Exception) and not isinstance(exc, StopIteration):
        return exc
    error = RuntimeError(f"The handler raised {type(exc).__name__}.")
    error.__cause__ = exc
    return error


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return  # WHY: the request was cancelled while its handler ran.
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class BufferedWSGI:
    """An ASGI app around a WSGI app, for bodies and responses that fit in memory.

    ``inline`` calls Flask on the event-loop thread: no hand-off at all, one request at a
    time per worker, like a Gunicorn sync worker (size the workers for it). ``thread`` makes
    one hand-off per request to a pool of ``threads``, so a slow handler does not stall the
    worker's other requests. Flask's errors propagate to Connexion's exception middleware."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        dispatch: Dispatch = "thread",
        threads: int = 10,
        queue: int | None = None,
    ) -> None:
        self.app = app
        self.dispatch = dispatch
        self._threads = HandlerThreads(threads, backlog=queue) if dispatch == "thread" else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, on_shutdown=self.close)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1000})
            return
        try:
            body = await _read_body(receive)
        except _Disconnected:
            return
        environ = cast(dict[str, Any], build_environ(scope, io.BytesIO(body)))  # type: ignore[arg-type]
        if self._threads is None:
            status, headers, content = self._call(environ)
        else:
            # WHY: the thread runs in a copy of this context, which carries Connexion's
            # request context and the log context (request id), as a2wsgi does.
            status, headers, content = await self._threads.run(lambda: self._call(environ))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def _call(self, environ: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        started: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            if exc_info is not None and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started["status"] = int(status.split(" ", 1)[0])
            started["headers"] = [
                (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers
            ]
            return _no_write

        result = self.app(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return started["status"], started["headers"], content

    def close(self) -> None:
        if self._threads is not None:
            self._threads.close()


async def _lifespan(receive: Receive, send: Send, *, on_shutdown: Callable[[], None]) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            on_shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


def _no_write(_data: bytes) -> None:
    raise RuntimeError("The WSGI write() callable is not supported; return the body instead.")


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
