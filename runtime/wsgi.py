"""Runs the Flask app under ASGI with one hand-off per request (or none).

Connexion's default bridge (a2wsgi) moves every request between the event loop and a thread
pool through queues, message by message; in-process that costs about as much as the rest of
Connexion together (docs/PERFORMANCE.md). This bridge reads the body first, calls Flask once, and
sends the buffered response."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import io
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, cast

from a2wsgi.wsgi import build_environ
from starlette.types import Receive, Scope, Send

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Dispatch = Literal["inline", "thread"]


class _Disconnected(Exception):
    pass


class BufferedWSGI:
    """An ASGI app around a WSGI app, for bodies and responses that fit in memory.

    ``inline`` calls Flask on the event-loop thread: no hand-off at all, one request at a
    time per worker, like a Gunicorn sync worker (size the workers for it). ``thread`` makes
    one hand-off per request to a pool of ``threads``, so a slow handler does not stall the
    worker's other requests. Flask's errors propagate to Connexion's exception middleware."""

    def __init__(self, app: WSGIApp, *, dispatch: Dispatch = "thread", threads: int = 10) -> None:
        self.app = app
        self.dispatch = dispatch
        self._executor = (
            ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wsgi")
            if dispatch == "thread"
            else None
        )

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
        if self._executor is None:
            status, headers, content = self._call(environ)
        else:
            # WHY: the copied context carries Connexion's request context and the log
            # context (request id) into the thread, as a2wsgi does.
            context = contextvars.copy_context()
            loop = asyncio.get_running_loop()
            status, headers, content = await loop.run_in_executor(
                self._executor, functools.partial(context.run, self._call, environ)
            )
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
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


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
