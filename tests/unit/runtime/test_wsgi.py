from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from runtime.wsgi import BufferedWSGI, HandlerThreads
from tests.unit.runtime.asgi import drive

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def echo_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = environ["wsgi.input"].read()
    start_response("201 Created", [("Content-Type", "text/plain"), ("X-Thread", "t")])
    return [
        body,
        f"|{request_id.get()}|{threading.current_thread().name}".encode(),
    ]


def scope() -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/echo",
        "query_string": b"",
        "headers": [(b"content-type", b"text/plain")],
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 5000),
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
    }


async def until(event: threading.Event, timeout_s: float = 5.0) -> None:
    """Poll ``event`` from the loop until it is set; fail at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not event.is_set():
        assert time.monotonic() < deadline, "the event was never set"
        await asyncio.sleep(0.001)


@pytest.mark.parametrize("dispatch", ["inline", "thread"])
def test_the_body_and_the_context_reach_flask_and_the_response_comes_back(dispatch: Any) -> None:
    app = BufferedWSGI(echo_app, dispatch=dispatch, threads=2)
    token = request_id.set("req-1")  # the task asyncio.run starts inherits it, as a request's
    try:
        reply = drive(app, scope(), chunks=(b"hel", b"lo"))
    finally:
        request_id.reset(token)
        app.close()

    body, context, thread = reply.body.decode().split("|")
    assert reply.status == 201
    assert reply.headers["x-thread"] == "t"
    assert body == "hello"
    assert context == "req-1"
    assert thread.startswith("wsgi-") == (dispatch == "thread")


def test_handlers_run_side_by_side_on_the_threads() -> None:
    threads = HandlerThreads(4)
    inside = threading.Barrier(4, timeout=5)

    def handler() -> str:
        inside.wait()  # only returns once four handlers are in at once
        return threading.current_thread().name

    async def main() -> list[str]:
        return list(await asyncio.gather(*(threads.run(handler) for _ in range(4))))

    names = asyncio.run(main())
    threads.close()
    assert len(set(names)) == 4


def test_an_exception_in_the_handler_reaches_the_request() -> None:
    threads = HandlerThreads(1)

    def broken() -> None:
        raise LookupError("no such row")

    async def main() -> None:
        await threads.run(broken)

    with pytest.raises(LookupError, match="no such row"):
        asyncio.run(main())
    threads.close()


def test_a_cancelled_request_leaves_the_loop_and_the_thread_healthy() -> None:
    threads = HandlerThreads(1)
    release = threading.Event()
    loop_errors: list[dict[str, Any]] = []

    started = threading.Event()

    def slow_call() -> bool:
        started.set()
        return release.wait(5)

    async def main() -> str:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: loop_errors.append(ctx))
        slow = asyncio.ensure_future(threads.run(slow_call))
        await until(started)
        slow.cancel()
        release.set()
        # WHY no sleep: the one thread hands results back in order, so by the time "next"
        # arrives the slow call's result has already met its cancelled future.
        return await threads.run(lambda: "next")

    assert asyncio.run(main()) == "next"
    threads.close()
    assert loop_errors == []


def test_close_stops_the_threads_and_refuses_new_work() -> None:
    threads = HandlerThreads(3, name="closing")

    async def main() -> None:
        await threads.run(lambda: None)

    asyncio.run(main())
    assert sum(t.name.startswith("closing-") for t in threading.enumerate()) == 3
    threads.close()
    deadline = time.monotonic() + 5
    while any(t.name.startswith("closing-") for t in threading.enumerate()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with pytest.raises(RuntimeError, match="shut down"):
        asyncio.run(main())


@pytest.mark.parametrize("error", [StopIteration, KeyboardInterrupt])
def test_errors_a_future_cannot_carry_still_end_the_request(error: type[BaseException]) -> None:
    threads = HandlerThreads(1)

    def broken() -> None:
        raise error

    async def main() -> None:
        await asyncio.wait_for(threads.run(broken), timeout=5)

    with pytest.raises(RuntimeError, match=f"raised {error.__name__}"):
        asyncio.run(main())
    threads.close()


def test_a_request_cancelled_while_queued_never_runs_its_handler() -> None:
    threads = HandlerThreads(1)
    release = threading.Event()
    ran: list[str] = []

    started = threading.Event()

    def busy_call() -> bool:
        started.set()
        return release.wait(5)

    async def main() -> None:
        busy = asyncio.ensure_future(threads.run(busy_call))
        queued = asyncio.ensure_future(threads.run(lambda: ran.append("queued")))
        await until(started)
        queued.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await queued
        assert queued.cancelled()
        release.set()
        await busy
        await threads.run(lambda: None)  # the thread has passed the cancelled job

    asyncio.run(main())
    threads.close()
    assert ran == []


def test_a_forked_child_starts_its_own_threads() -> None:
    threads = HandlerThreads(1)

    async def which() -> str:
        return await threads.run(lambda: threading.current_thread().name)

    assert asyncio.run(which()) == "wsgi-0"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its copy of the pool has no live threads
        try:
            os.write(write, asyncio.run(asyncio.wait_for(which(), timeout=5)).encode())
        finally:
            os._exit(0)
    os.close(write)
    # WHY a deadline: a child stuck on a lock another thread held at the fork would otherwise
    # hang the whole run instead of failing this test.
    deadline = time.monotonic() + 30
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child never finished")
        time.sleep(0.01)
    assert os.read(read, 100) == b"wsgi-0"
    threads.close()
