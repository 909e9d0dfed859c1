"""A deadline per request: the time left bounds every wait below it, and a request answered
with an error never commits afterwards.

The :class:`Deadline` lives in a context variable, which the handler thread's copy of the
context shares (the same object), so the event loop and the thread see one state machine:
``running`` → ``committing`` → ``done``, or ``running`` → ``expired``. The two transitions that
race (the thread starting its commit, the watchdog giving up) take one lock, so exactly one
wins: an expired request never commits, and a committing one is never told it failed."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.errors import Problem
from runtime.logging import get_logger

log = get_logger("runtime.deadline")

_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "runtime_deadline", default=None
)


class DeadlineExceeded(Problem):
    """The request ran out of time before anything was committed: safe to retry."""

    status = 503
    kind = "deadline-exceeded"
    title = "Service Unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(
            detail or "The request did not finish within its deadline; nothing was saved.",
            headers={"Retry-After": str(retry_after)},
        )


class CommitOutcomeUnknown(Problem):
    """The commit was sent but its answer never came: the change may or may not be saved."""

    status = 503
    kind = "commit-outcome-unknown"
    title = "Service Unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The database did not confirm the change in time; it may have been saved. "
            "Read the resource (or retry with the same Idempotency-Key) before repeating it.",
            headers={"Retry-After": "5"},
        )


class Deadline:
    """When a request must be answered by, and whether it may still commit."""

    def __init__(self, seconds: float, *, commit_grace_s: float = 2.0) -> None:
        self.seconds = seconds
        self.commit_grace_s = commit_grace_s
        self.expires_at = time.monotonic() + seconds
        self.state = "running"
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.expires_at - time.monotonic()

    def wait_until(self) -> float:
        """When a wait must give up: a commit in flight has ``commit_grace_s`` more to
        learn its outcome, since a late answer beats an unknown one."""
        grace = self.commit_grace_s if self.state == "committing" else 0.0
        return self.expires_at + grace

    def check(self) -> None:
        """Raise :class:`DeadlineExceeded` when no time is left (before starting a wait)."""
        if self.state == "expired" or self.remaining() <= 0:
            raise DeadlineExceeded

    def begin_commit(self) -> None:
        """Called by the one commit point: refuses once the watchdog has given up."""
        with self._lock:
            if self.state == "expired" or self.remaining() <= 0:
                self.state = "expired"
                raise DeadlineExceeded
            self.state = "committing"

    def end_commit(self) -> None:
        with self._lock:
            self.state = "done"

    def expire(self) -> bool:
        """The watchdog's side: True when the request may be answered as failed."""
        with self._lock:
            if self.state == "running":
                self.state = "expired"
            return self.state == "expired"


def current() -> Deadline | None:
    return _current.get()


def remaining(default: float) -> float:
    """The time left of the current request, or ``default`` outside a request."""
    deadline = _current.get()
    return default if deadline is None else deadline.remaining()


@contextlib.contextmanager
def bounded(seconds: float) -> Iterator[Deadline]:
    """Run a block (a probe, a script) under a deadline of its own."""
    deadline = Deadline(seconds)
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)


class DeadlineMiddleware:
    """Answers 503 with ``Retry-After`` when an operation's deadline passes, whatever the
    handler is blocked on, and marks its transaction as no longer committable.

    After routing (the operation id picks ``x-deadline``), inside the exception middleware,
    so the problem is rendered like any other. A request whose commit has started is given
    ``commit_grace_s`` more to learn the outcome, then told it is unknown."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default_s: float,
        per_operation: Mapping[str, float | None] | None = None,
        commit_grace_s: float = 2.0,
    ) -> None:
        self.app = app
        self.default_s = default_s
        self.per_operation = dict(per_operation or {})
        self.commit_grace_s = commit_grace_s

    def seconds_for(self, operation_id: str | None) -> float:
        configured = self.per_operation.get(operation_id) if operation_id else None
        return self.default_s if configured is None else configured

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        routing: dict[str, Any] = scope.get("extensions", {}).get("connexion_routing", {})
        operation = routing.get("operation_id")
        if operation:
            # WHY here: the first layer after routing; the task below and the handler's thread
            # copy this context, so every later log line of the request names its operation.
            structlog.contextvars.bind_contextvars(operation=operation)
        deadline = Deadline(self.seconds_for(operation), commit_grace_s=self.commit_grace_s)
        token = _current.set(deadline)
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, tracking_send))
        try:
            await asyncio.wait({task}, timeout=max(0.0, deadline.remaining()))
            if not task.done() and not started and not deadline.expire():
                # WHY: the commit is in flight: the client must hear its outcome, not a guess.
                await asyncio.wait({task}, timeout=self.commit_grace_s + 0.5)
                if not task.done() and not started:
                    task.cancel()
                    log.error("commit_outcome_unknown", deadline_s=deadline.seconds)
                    raise CommitOutcomeUnknown
            if not task.done() and not started:
                task.cancel()
                log.warning("deadline_exceeded", deadline_s=deadline.seconds)
                raise DeadlineExceeded
            await task
        finally:
            if not task.done():
                task.cancel()
            _current.reset(token)
