"""The request deadline: its state machine, the watchdog middleware and the load shedding."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import types
from collections.abc import Callable
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

from runtime.deadline import (
    CommitOutcomeUnknown,
    Deadline,
    DeadlineExceeded,
    DeadlineMiddleware,
    bounded,
    current,
    remaining,
)
from runtime.wsgi import HandlerThreads, Overloaded


def test_an_expired_request_can_no_longer_commit() -> None:
    deadline = Deadline(5)
    assert deadline.expire() is True
    with pytest.raises(DeadlineExceeded):
        deadline.begin_commit()


def test_a_commit_in_flight_is_never_told_it_failed() -> None:
    deadline = Deadline(5, commit_grace_s=2)
    deadline.begin_commit()
    assert deadline.expire() is False
    assert deadline.wait_until() == pytest.approx(deadline.expires_at + 2)
    deadline.end_commit()
    assert deadline.expire() is False


def test_a_deadline_that_passed_refuses_the_commit_without_the_watchdog() -> None:
    deadline = Deadline(0.01)
    time.sleep(0.02)
    with pytest.raises(DeadlineExceeded):
        deadline.begin_commit()
    with pytest.raises(DeadlineExceeded):
        deadline.check()


def test_bounded_sets_the_current_deadline_for_a_block_only() -> None:
    assert current() is None
    with bounded(1.5) as deadline:
        assert current() is deadline
        assert 0 < deadline.remaining() <= 1.5
    assert current() is None


@pytest.fixture
def still_deadline_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deadline's own clock stands still; the watchdog still waits in real time.

    WHY: a handler's first step runs before the watchdog's timer can fire, but on a loaded
    machine a stall of a few tens of milliseconds between creating the deadline and the
    handler's ``begin_commit`` made that call see the deadline as passed and refuse, so the
    test saw the wrong 503. With the clock still, only the watchdog's ``expire`` decides."""
    import runtime.deadline

    monkeypatch.setattr(runtime.deadline, "time", types.SimpleNamespace(monotonic=lambda: 1000.0))


async def _eventually(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Yield to the loop until ``condition()`` holds; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.001)


def _scope(operation_id: str) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": "/x",
        "headers": [],
        "extensions": {"connexion_routing": {"operation_id": operation_id}},
    }


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


def _run(app: Any, operation_id: str = "slow") -> tuple[list[dict[str, Any]], float]:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    started = time.monotonic()
    asyncio.run(app(_scope(operation_id), _no_body, send))
    return sent, time.monotonic() - started


def test_the_middleware_answers_at_the_operations_deadline_whatever_the_handler_waits_on() -> None:
    seen: list[Deadline | None] = []

    async def stuck(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(current())
        await asyncio.sleep(30)

    app = DeadlineMiddleware(stuck, default_s=30, per_operation={"slow": 0.2, "other": None})
    with pytest.raises(DeadlineExceeded) as raised:
        _run(app)
    assert raised.value.status == 503
    assert raised.value.headers["Retry-After"] == "1"
    assert seen[0] is not None and seen[0].state == "expired"
    assert app.seconds_for("other") == 30
    assert app.seconds_for(None) == 30


@pytest.mark.usefixtures("still_deadline_clock")
def test_a_commit_in_flight_at_the_deadline_gets_its_grace_then_an_honest_unknown() -> None:
    async def committing(scope: Scope, receive: Receive, send: Send) -> None:
        deadline = current()
        assert deadline is not None and deadline.commit_grace_s == 0.2
        deadline.begin_commit()
        await asyncio.sleep(30)

    app = DeadlineMiddleware(committing, default_s=0.1, commit_grace_s=0.2)
    with pytest.raises(CommitOutcomeUnknown):
        _run(app)


@pytest.mark.usefixtures("still_deadline_clock")
def test_a_commit_that_finishes_within_its_grace_is_answered_normally() -> None:
    async def committing(scope: Scope, receive: Receive, send: Send) -> None:
        deadline = current()
        assert deadline is not None
        deadline.begin_commit()
        await asyncio.sleep(0.2)
        deadline.end_commit()
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    # WHY a grace far longer than the commit: the watchdog returns as soon as the handler is
    # done, so a long grace costs nothing and a stalled sleep cannot outlast it.
    sent, _ = _run(DeadlineMiddleware(committing, default_s=0.1, commit_grace_s=10))
    assert sent[0]["status"] == 201


def test_a_fast_request_passes_through_untouched() -> None:
    async def fast(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent, _ = _run(DeadlineMiddleware(fast, default_s=1))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


def test_a_full_backlog_sheds_the_next_call_at_once_and_recovers() -> None:
    threads = HandlerThreads(1, backlog=1)
    release = threading.Event()

    async def main() -> list[Any]:
        first = asyncio.ensure_future(threads.run(lambda: release.wait(5)))
        second = asyncio.ensure_future(threads.run(lambda: "queued"))
        await asyncio.sleep(0.05)
        assert threads.busy == 2
        with pytest.raises(Overloaded) as shed:
            await threads.run(lambda: "refused")
        assert shed.value.headers["Retry-After"] == "1"
        release.set()
        results = [await first, await second, await threads.run(lambda: "after")]
        return results

    assert asyncio.run(main()) == [True, "queued", "after"]
    assert threads.busy == 0
    threads.close()


def test_a_request_that_gave_up_keeps_its_slot_while_its_thread_is_blocked() -> None:
    threads = HandlerThreads(1, backlog=0)
    release = threading.Event()

    running = threading.Event()

    def block() -> bool:
        running.set()
        return release.wait(60)

    async def main() -> None:
        blocked = asyncio.ensure_future(threads.run(block))
        # WHY wait for the thread to be inside the call: cancelled before a thread took it,
        # the call is skipped and its slot freed, which is another behaviour.
        await _eventually(running.is_set)
        blocked.cancel()
        with pytest.raises(Overloaded):
            await threads.run(lambda: "refused")
        assert threads.busy == 1
        release.set()
        # WHY poll rather than sleep: the slot comes back when the thread has woken and
        # returned, which a loaded machine may take longer than any fixed pause to do.
        await _eventually(lambda: threads.busy == 0)
        assert await threads.run(lambda: "after") == "after"

    asyncio.run(main())
    threads.close()


def test_the_two_503s_say_whether_anything_was_saved_and_when_to_retry() -> None:
    exceeded, unknown = DeadlineExceeded(), CommitOutcomeUnknown()
    assert (exceeded.status, exceeded.kind, exceeded.headers) == (
        503,
        "deadline-exceeded",
        {"Retry-After": "1"},
    )
    assert exceeded.detail == "The request did not finish within its deadline; nothing was saved."
    assert DeadlineExceeded("late", retry_after=3).to_dict()["detail"] == "late"
    assert DeadlineExceeded(retry_after=3).headers == {"Retry-After": "3"}
    assert (unknown.status, unknown.kind, unknown.headers) == (
        503,
        "commit-outcome-unknown",
        {"Retry-After": "5"},
    )
    assert unknown.detail == (
        "The database did not confirm the change in time; it may have been saved. "
        "Read the resource (or retry with the same Idempotency-Key) before repeating it."
    )


def test_a_deadline_moves_running_committing_done_or_running_expired() -> None:
    deadline = Deadline(60)
    deadline.check()
    assert deadline.wait_until() == deadline.expires_at
    deadline.begin_commit()
    assert deadline.state == "committing"
    assert deadline.wait_until() == deadline.expires_at + 2
    assert not deadline.expire()
    deadline.end_commit()
    assert deadline.state == "done" and not deadline.expire()
    expired = Deadline(60)
    assert expired.expire() and expired.state == "expired"
    with pytest.raises(DeadlineExceeded):
        expired.check()
    with pytest.raises(DeadlineExceeded):
        expired.begin_commit()
    assert expired.state == "expired"


def test_a_deadline_with_no_time_left_refuses_at_once_and_stays_expired() -> None:
    spent = Deadline(0)
    with pytest.raises(DeadlineExceeded):
        spent.check()
    with pytest.raises(DeadlineExceeded):
        spent.begin_commit()
    assert spent.state == "expired"
    assert spent.expire()


def test_the_time_left_is_the_requests_inside_one_and_the_default_outside() -> None:
    assert remaining(7.5) == 7.5
    with bounded(60) as deadline:
        assert 59 < remaining(7.5) <= 60
        assert current() is deadline
    assert current() is None


def test_each_operation_has_its_own_deadline_or_the_default() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        pass

    middleware = DeadlineMiddleware(app, default_s=10, per_operation={"slow": 30, "plain": None})
    assert [middleware.seconds_for(op) for op in ("slow", "plain", "other", None)] == [
        30,
        10,
        10,
        10,
    ]
    assert middleware.commit_grace_s == 2.0


def test_the_middleware_sets_each_requests_deadline_and_leaves_other_scopes_alone() -> None:
    seen: list[tuple[Any, Any, Any, float | None]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        deadline = current()
        seen.append((scope, receive, send, deadline.seconds if deadline else None))
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 204, "headers": []})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(message: object) -> None:
        pass

    middleware = DeadlineMiddleware(app, default_s=60, per_operation={"op": 5})
    scopes: list[dict[str, Any]] = [
        {"type": "lifespan"},
        {"type": "http"},
        {"type": "http", "extensions": {}},
        {"type": "http", "extensions": {"connexion_routing": {"operation_id": "op"}}},
    ]
    for scope in scopes:
        asyncio.run(middleware(scope, receive, send))
    assert [entry[3] for entry in seen] == [None, 60, 60, 5]
    assert seen[0][:3] == (scopes[0], receive, send)


def test_less_than_a_second_left_is_still_time_left() -> None:
    Deadline(0.5).check()


def test_a_response_already_started_is_never_cut_off_by_the_deadline() -> None:
    async def streaming(scope: Scope, receive: Receive, send: Send) -> None:
        request = await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.3)
        await send({"type": "http.response.body", "body": request["body"] or b"late"})

    sent, _ = _run(DeadlineMiddleware(streaming, default_s=0.05))
    assert [(m["type"], m.get("body")) for m in sent] == [
        ("http.response.start", None),
        ("http.response.body", b"late"),
    ]


@pytest.mark.usefixtures("still_deadline_clock")
def test_each_answer_at_the_deadline_is_logged_with_the_deadline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from runtime.logging import configure_logging

    configure_logging(level="INFO", json=True)

    async def stuck(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(30)

    async def committing(scope: Scope, receive: Receive, send: Send) -> None:
        current().begin_commit()  # type: ignore[union-attr]
        await asyncio.sleep(30)

    with pytest.raises(DeadlineExceeded):
        _run(DeadlineMiddleware(stuck, default_s=0.05))
    with pytest.raises(CommitOutcomeUnknown):
        _run(DeadlineMiddleware(committing, default_s=0.05, commit_grace_s=0.05))
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [
        (line["event"], line["level"], line["deadline_s"], line["operation"]) for line in lines
    ] == [
        ("deadline_exceeded", "warning", 0.05, "slow"),
        ("commit_outcome_unknown", "error", 0.05, "slow"),
    ]
